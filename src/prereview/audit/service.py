"""The audit log's single write path, its signed checkpoints and proofs, and reads of it.

Every change, and every read of confidential material, goes through :func:`record` (or
:func:`record_many` for bulk paths), inside the same transaction as the thing it records: an
action that is rolled back leaves no entry, and an entry cannot be missing for an action that
was committed. Each entry is a leaf of an RFC 9162 Merkle tree; the append stores the perfect
subtrees it completes in ``audit_nodes`` and the tree's right edge in the head row, so proofs
and roots read O(log n) stored hashes and nothing ever rehashes the whole log (see
:mod:`prereview.audit.merkle`).

Checkpoints are derived, not scheduled: asking for the latest one signs a fresh checkpoint when
the log has grown since the last (DESIGN rule 6); the signing and publishing of checkpoints
live in :mod:`prereview.audit.signing` and are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, TextClause, insert, select, text
from sqlalchemy.orm import Session

from prereview.audit import merkle
from prereview.audit.errors import (
    NodeMissing,
    TreeRangeInvalid,
)
from prereview.audit.filters import EntryFilter as EntryFilter
from prereview.audit.head import HEAD_ID as HEAD_ID
from prereview.audit.head import locked_head as _locked_head
from prereview.audit.head import log_size as log_size
from prereview.audit.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditNode,
)
from prereview.audit.signing import ensure_key_stored as ensure_key_stored
from prereview.audit.signing import latest_checkpoint as latest_checkpoint
from prereview.audit.signing import latest_stored_checkpoint as latest_stored_checkpoint
from prereview.audit.signing import load_signer as load_signer
from prereview.audit.signing import sign_checkpoint_now as sign_checkpoint_now
from prereview.audit.signing import verifier_of as verifier_of
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.core.settings import Settings

# Bound parameters per node query: well under SQLite's limit on variables.
_NODE_QUERY_KEYS = 500


# One encoder for every leaf: json.dumps with options builds a new one per call.
_LEAF_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_leaf(fields: Mapping[str, Any]) -> str:
    """The exact text hashed into the log: JSON with sorted keys and no insignificant space."""
    return _LEAF_ENCODER.encode(fields)


def leaf_hash(leaf: str) -> bytes:
    """RFC 9162 leaf hash of an entry's text: SHA-256(0x00 || UTF-8 text)."""
    return merkle.leaf_hash(leaf.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One entry for :func:`record_many`; the fields mean what :func:`record`'s arguments do."""

    actor: Actor | None
    action: str
    object_type: str
    object_id: str | None
    at: datetime
    submission_id: str | None = None
    detail: Mapping[str, Any] | None = None


def _leaf_fields(seq: int, item: NewEntry) -> dict[str, Any]:
    actor = item.actor
    return {
        "seq": seq,
        "at": item.at.isoformat(),
        "actor_user_id": actor.user_id if actor else None,
        "actor_org_id": actor.organisation_id if actor else None,
        "action": item.action,
        "object_type": item.object_type,
        "object_id": item.object_id,
        "submission_id": item.submission_id,
        "detail": dict(item.detail or {}),
    }


def record(
    db: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | None,
    at: datetime,
    submission_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the log in the caller's transaction.

    ``detail`` must hold no secret: it is readable by the developer concerned and by auditors.
    The entry becomes leaf ``seq`` of the Merkle tree; the subtree hashes it completes are
    stored with it, and the head's right edge moves on, all in the same transaction.
    """
    head = _locked_head(db)
    seq = head.size
    fields = _leaf_fields(
        seq, NewEntry(actor, action, object_type, object_id, at, submission_id, detail)
    )
    leaf = canonical_leaf(fields)
    digest = leaf_hash(leaf)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor_user_id=fields["actor_user_id"],
        actor_org_id=fields["actor_org_id"],
        action=action,
        object_type=object_type,
        object_id=object_id,
        submission_id=submission_id,
        leaf=leaf,
        leaf_hash=digest,
    )
    tree = merkle.TreeAppender.from_packed(seq, head.right_edge)
    db.add(entry)
    db.add_all(AuditNode(level=lv, index=ix, hash=h) for lv, ix, h in tree.append(digest))
    head.size = seq + 1
    head.right_edge = tree.packed_right_edge
    return entry


def record_many(db: Session, items: Sequence[NewEntry]) -> range:
    """Append many entries, in order, in the caller's transaction; return their seqs.

    The same leaves as that many :func:`record` calls, written with one bulk insert per table
    instead of one ORM object per row: the path for bulk imports and for the benchmark.
    """
    if not items:
        return range(0)
    head = _locked_head(db)
    first = head.size
    tree = merkle.TreeAppender.from_packed(first, head.right_edge)
    entries: list[tuple[Any, ...]] = []
    nodes: list[merkle.Node] = []
    for seq, item in enumerate(items, start=first):
        fields = _leaf_fields(seq, item)
        leaf = canonical_leaf(fields)
        digest = leaf_hash(leaf)
        entries.append(
            (
                seq,
                item.at,
                fields["actor_user_id"],
                fields["actor_org_id"],
                item.action,
                item.object_type,
                item.object_id,
                item.submission_id,
                leaf,
                digest,
            )
        )
        nodes.extend(tree.append(digest))
    connection = db.connection()
    _insert_rows(connection, _ENTRY_TABLE, _ENTRY_COLUMNS, entries)
    _insert_rows(connection, _NODE_TABLE, _NODE_COLUMNS, nodes)
    head.size = tree.size
    head.right_edge = tree.packed_right_edge
    return range(first, tree.size)


_ENTRY_TABLE = cast(Table, AuditEntry.__table__)
_ENTRY_COLUMNS = (
    "seq",
    "at",
    "actor_user_id",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "submission_id",
    "leaf",
    "leaf_hash",
)
_NODE_TABLE = cast(Table, AuditNode.__table__)
_NODE_COLUMNS = ("level", "index", "hash")
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns`` order) in the connection's transaction, fast.

    SQLAlchemy's executemany spends more per row on parameter bookkeeping than the log spends
    on hashing, so this goes one level down: PostgreSQL (psycopg) gets a ``COPY``, which is
    several times faster than batched INSERTs; other drivers get the DBAPI ``executemany``
    with the columns' own bind processors (so values are stored exactly as the ORM would).
    """
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    target = dialect.identifier_preparer.format_table(table)
    if dialect.driver == "psycopg":
        raw: Any = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholder = _PLACEHOLDER.get(str(dialect.paramstyle))
    if placeholder is None:  # a driver with another paramstyle: the portable way
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    processors = [(i, table.c[name].type.bind_processor(dialect)) for i, name in enumerate(columns)]
    active = [(i, p) for i, p in processors if p is not None]
    if active:
        converted = []
        for row in rows:
            values = list(row)
            for i, process in active:
                values[i] = process(values[i])
            converted.append(tuple(values))
        rows = converted
    marks = ", ".join([placeholder] * len(columns))
    # Names come from the table's metadata, quoted by the dialect; every value is bound.
    sql = f"INSERT INTO {target} ({names}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, list(rows))


# --- Reading the stored tree ------------------------------------------------------------------


class DbNodeReader:
    """A :class:`~prereview.audit.merkle.BatchNodeReader` over ``audit_nodes``.

    Remembers what it has read, so that prefetching every key a request needs with one
    :meth:`nodes` call makes the proofs and roots computed after it free of further queries.
    """

    def __init__(self, db: Session) -> None:
        self._db = db
        self._cache: dict[merkle.NodeKey, bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        found = self.nodes([(level, index)])
        if (level, index) not in found:
            raise NodeMissing(f"Node (level {level}, index {index}) is not stored.")
        return found[(level, index)]

    def nodes(self, keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        missing = [key for key in dict.fromkeys(keys) if key not in self._cache]
        for start in range(0, len(missing), _NODE_QUERY_KEYS):
            for level, index, digest in self._db.execute(
                _nodes_query(missing[start : start + _NODE_QUERY_KEYS])
            ):
                self._cache[(level, index)] = digest
        return {key: self._cache[key] for key in keys if key in self._cache}


def _nodes_query(keys: Sequence[merkle.NodeKey]) -> TextClause:
    """One SELECT of the given nodes, one ``level = l AND index IN (...)`` clause per level.

    Per-level clauses keep every lookup on the (level, index) primary key: SQLite scans the
    table for a row-value ``(level, index) IN (...)``. The integers are written into the text
    (they are ints, so nothing can be injected): building and compiling an expression of this
    varying shape cost more than the query itself.
    """
    by_level: dict[int, list[str]] = {}
    for level, index in keys:
        by_level.setdefault(int(level), []).append(str(int(index)))
    where = " OR ".join(
        f'(level = {level} AND "index" IN ({", ".join(indices)}))'
        for level, indices in by_level.items()
    )
    return text(f'SELECT level, "index", hash FROM audit_nodes WHERE {where}')  # noqa: S608


def _prefetched(db: Session, keys: Sequence[merkle.NodeKey], size: int) -> DbNodeReader:
    """A reader holding every node of ``keys``, read in one query (one round trip per proof).

    Nodes exist only for leaves that were appended, so when some are absent the tree asked for
    is either larger than the log (a bad request: 422) or the store has lost nodes (the
    ``NodeMissing`` that the proof code then raises). Only then is the log's size read.
    """
    reader = DbNodeReader(db)
    if len(reader.nodes(keys)) < len(set(keys)):
        current = log_size(db)
        if size > current:
            raise TreeRangeInvalid(
                f"The log has {current} entries; there is no tree of size {size} yet."
            )
    return reader


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Entry ``seq``'s leaf hash, its RFC 9162 audit path and the root of the tree of ``size``."""

    seq: int
    size: int
    leaf_hash: bytes
    path: list[bytes]
    root: bytes


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """The RFC 9162 consistency proof between the trees of ``first`` and ``second`` entries."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]


def _inclusion_keys(seq: int, size: int) -> list[merkle.NodeKey]:
    ranges = merkle.inclusion_ranges(seq, size)
    return [(0, seq)] + [key for a, b in ranges for key in merkle.perfect_subtrees(a, b)]


def inclusion_proofs(db: Session, seqs: Sequence[int], size: int) -> list[InclusionProof]:
    """Inclusion proofs of several entries in the tree of ``size``, from one node query.

    Raises :class:`TreeRangeInvalid` (422) when ``size`` exceeds the log or a seq is not in it.
    """
    for seq in seqs:
        if not 0 <= seq < size:
            raise TreeRangeInvalid(f"Entry {seq} is not in the tree of size {size}.")
    reader = _prefetched(
        db,
        [key for seq in seqs for key in _inclusion_keys(seq, size)]
        + merkle.perfect_subtrees(0, size),
        size,
    )
    root = merkle.root(size, reader)
    return [
        InclusionProof(
            seq=seq,
            size=size,
            leaf_hash=reader.node(0, seq),
            path=merkle.inclusion_proof(seq, size, reader),
            root=root,
        )
        for seq in seqs
    ]


def inclusion_proof(db: Session, seq: int, size: int) -> InclusionProof:
    """The inclusion proof of entry ``seq`` in the tree of ``size`` entries."""
    return inclusion_proofs(db, [seq], size)[0]


def consistency_proof(db: Session, first: int, second: int) -> ConsistencyProof:
    """The consistency proof from the tree of ``first`` entries to the tree of ``second``.

    Raises :class:`TreeRangeInvalid` (422) when ``second < first`` or ``second`` exceeds the log.
    """
    if not 0 <= first <= second:
        raise TreeRangeInvalid(
            f"No consistency proof from size {first} to size {second}: a log only grows."
        )
    ranges = merkle.consistency_ranges(first, second)
    reader = _prefetched(
        db,
        [key for a, b in ranges for key in merkle.perfect_subtrees(a, b)]
        + merkle.perfect_subtrees(0, first)
        + merkle.perfect_subtrees(0, second),
        second,
    )
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=merkle.root(first, reader),
        second_root=merkle.root(second, reader),
        path=merkle.consistency_proof(first, second, reader),
    )


# --- Entries ----------------------------------------------------------------------------------


def entries_for_submissions(
    db: Session,
    submission_ids: list[str],
    page: PageRequest,
    filters: EntryFilter = EntryFilter(),
) -> Slice[AuditEntry]:
    """The entries that concern any of ``submission_ids`` and pass ``filters`` (by default
    all, newest first)."""
    query = select(AuditEntry).where(AuditEntry.submission_id.in_(submission_ids))
    return paginate(db, filters.apply(query), page)


def entries_with_action(db: Session, submission_id: str, action: str) -> Sequence[AuditEntry]:
    """Every entry of one action about one submission, oldest first (for the evidence check of
    evaluation results, which compares a log's model calls with the gateway's)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.submission_id == submission_id, AuditEntry.action == action)
        .order_by(AuditEntry.seq)
    )
    return db.scalars(query).all()


def checkpoint_at(db: Session, size: int) -> AuditCheckpoint | None:
    """The checkpoint signed at tree ``size``, if one was."""
    return db.get(AuditCheckpoint, size)


def entries_with_actions(
    db: Session,
    actions: Sequence[str],
    *,
    below: int,
    before: datetime,
    after: int = -1,
    limit: int | None = None,
) -> Sequence[AuditEntry]:
    """The entries of any of ``actions`` in the tree of ``below`` entries (seq < ``below``),
    dated before ``before``, from seq ``after + 1`` on, oldest first, at most ``limit`` (for
    the transparency report, which is computed from entries, and for its auditors)."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.action.in_(actions),
            AuditEntry.seq < below,
            AuditEntry.seq > after,
            AuditEntry.at < before,
        )
        .order_by(AuditEntry.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return db.scalars(query).all()


OwnedSubmissions = Callable[[str], Select[str]]
"""The ids of the submissions an organisation develops, as a subquery. The log knows no
submissions: review answers this (``review.service.submission_ids_of``), and the app passes
it in, so that the audit layer stays below the capabilities it records."""


@use_case(Permission.AUDIT_LIST)
def entries_for_developer(
    db: Session,
    actor: Actor,
    page: PageRequest,
    owned_by: OwnedSubmissions,
    filters: EntryFilter = EntryFilter(),
) -> Slice[AuditEntry]:
    """Every entry about a submission of the actor's organisation (a developer) that passes
    ``filters`` (by default all, newest first)."""
    authorize(actor, Permission.AUDIT_LIST)
    owned = owned_by(actor.organisation_id)
    query = select(AuditEntry).where(AuditEntry.submission_id.in_(owned))
    return paginate(db, filters.apply(query), page)


# --- Use cases behind the HTTP routes ---------------------------------------------------------


@use_case(Permission.AUDIT_CHECKPOINT_READ)
def read_checkpoint(
    db: Session, actor: Actor, settings: Settings, now: datetime
) -> tuple[AuditCheckpoint, str]:
    """The latest checkpoint (signed now if the log grew) and the verifier key that checks it."""
    authorize(actor, Permission.AUDIT_CHECKPOINT_READ)
    checkpoint = latest_checkpoint(
        db, load_signer(settings), settings.audit_origin, now, journal=settings.audit_journal_path
    )
    return checkpoint, verifier_of(db, checkpoint)


def _size_or_latest(db: Session, size: int | None, settings: Settings, now: datetime) -> int:
    if size is not None:
        return size
    return latest_checkpoint(
        db, load_signer(settings), settings.audit_origin, now, journal=settings.audit_journal_path
    ).size


@use_case(Permission.AUDIT_PROOF_READ)
def prove_inclusion(
    db: Session, actor: Actor, seq: int, size: int | None, settings: Settings, now: datetime
) -> InclusionProof:
    """Entry ``seq``'s inclusion proof in the tree of ``size`` (default: the latest checkpoint)."""
    authorize(actor, Permission.AUDIT_PROOF_READ)
    return inclusion_proof(db, seq, _size_or_latest(db, size, settings, now))


@use_case(Permission.AUDIT_PROOF_READ)
def prove_consistency(
    db: Session,
    actor: Actor,
    first: int,
    second: int | None,
    settings: Settings,
    now: datetime,
) -> ConsistencyProof:
    """The consistency proof from ``first`` to ``second`` (default: the latest checkpoint)."""
    authorize(actor, Permission.AUDIT_PROOF_READ)
    return consistency_proof(db, first, _size_or_latest(db, second, settings, now))


@dataclass(frozen=True, slots=True)
class ProvenEntries:
    """A page of a developer's entries, each with its inclusion proof against ``checkpoint``."""

    found: Slice[AuditEntry]
    checkpoint: AuditCheckpoint
    verifier_key: str
    proofs: dict[int, InclusionProof]


@use_case(Permission.AUDIT_LIST)
def entries_with_proofs(
    db: Session,
    actor: Actor,
    page: PageRequest,
    owned_by: OwnedSubmissions,
    settings: Settings,
    now: datetime,
    filters: EntryFilter = EntryFilter(),
) -> ProvenEntries:
    """:func:`entries_for_developer`, plus proofs against the latest checkpoint, in one query.

    An entry appended after that checkpoint (possible only while another request is appending)
    gets no proof; it will have one against the next checkpoint. Reading the checkpoint is
    :func:`read_checkpoint`'s own use case, so it checks its own permission.
    """
    found = entries_for_developer(db, actor, page, owned_by, filters)
    checkpoint, verifier = read_checkpoint(db, actor, settings, now)
    covered = [entry.seq for entry in found.rows if entry.seq < checkpoint.size]
    proofs = inclusion_proofs(db, covered, checkpoint.size) if covered else []
    return ProvenEntries(found, checkpoint, verifier, {p.seq: p for p in proofs})
