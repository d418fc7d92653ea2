"""The audit log's single write path, its signed checkpoints and proofs, and reads of it.

Every change, and every read of confidential material, goes through :func:`record` (or
:func:`record_many` for bulk paths), inside the same transaction as the thing it records: an
action that is rolled back leaves no entry, and an entry cannot be missing for an action that
was committed. Each entry is a leaf of an RFC 9162 Merkle tree; the append stores the perfect
subtrees it completes in ``audit_nodes`` and the tree's right edge in the head row, so proofs
and roots read O(log n) stored hashes and nothing ever rehashes the whole log (see
:mod:`prereview.audit.merkle`).

Checkpoints are derived, not scheduled: asking for the latest one signs a fresh checkpoint when
the log has grown since the last (DESIGN rule 6).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prereview.audit import merkle
from prereview.audit.checkpoint import (
    NoteSigner,
    read_signer_key,
    sign_checkpoint,
    write_signer_key,
)
from prereview.audit.errors import (
    KeyInvalid,
    NodeMissing,
    TreeRangeInvalid,
)
from prereview.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditKey, AuditNode
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.core.settings import Settings
from prereview.identity.actor import Actor
from prereview.identity.permissions import Permission
from prereview.identity.policy import authorize

# Read-only use of review's table, to scope a developer's entries: review.service imports this
# module, so it cannot offer the query itself without an import cycle.
from prereview.review.models import Submission

HEAD_ID = 1

# Bound parameters per node query: well under SQLite's limit on variables.
_NODE_QUERY_KEYS = 500


def canonical_leaf(fields: Mapping[str, Any]) -> str:
    """The exact text hashed into the log: JSON with sorted keys and no insignificant space."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


def _locked_head(db: Session) -> AuditHead:
    """The head row, locked until the caller's transaction ends, so appends stay contiguous."""
    return db.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()


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

    The same leaves as that many :func:`record` calls, written with two bulk inserts instead of
    one ORM object per row: the path for bulk imports and for the benchmark.
    """
    if not items:
        return range(0)
    head = _locked_head(db)
    first = head.size
    tree = merkle.TreeAppender.from_packed(first, head.right_edge)
    entries: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for seq, item in enumerate(items, start=first):
        fields = _leaf_fields(seq, item)
        leaf = canonical_leaf(fields)
        digest = leaf_hash(leaf)
        entries.append(
            {
                "seq": seq,
                "at": item.at,
                "actor_user_id": fields["actor_user_id"],
                "actor_org_id": fields["actor_org_id"],
                "action": item.action,
                "object_type": item.object_type,
                "object_id": item.object_id,
                "submission_id": item.submission_id,
                "leaf": leaf,
                "leaf_hash": digest,
            }
        )
        nodes.extend({"level": lv, "index": ix, "hash": h} for lv, ix, h in tree.append(digest))
    # Core executemany on the session's connection: same transaction, none of the ORM's
    # per-object bookkeeping (which would cost more than the hashing).
    connection = db.connection()
    connection.execute(insert(AuditEntry), entries)
    connection.execute(insert(AuditNode), nodes)
    head.size = tree.size
    head.right_edge = tree.packed_right_edge
    return range(first, tree.size)


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
            by_level: dict[int, list[int]] = {}
            for level, index in missing[start : start + _NODE_QUERY_KEYS]:
                by_level.setdefault(level, []).append(index)
            # One clause per level keeps each lookup on the (level, index) primary key.
            where = or_(
                *(
                    and_(AuditNode.level == level, AuditNode.index.in_(indices))
                    for level, indices in by_level.items()
                )
            )
            rows = self._db.execute(
                select(AuditNode.level, AuditNode.index, AuditNode.hash).where(where)
            )
            for level, index, digest in rows:
                self._cache[(level, index)] = digest
        return {key: self._cache[key] for key in keys if key in self._cache}


def log_size(db: Session) -> int:
    """Entries in the log now (the head's size; not locked)."""
    return db.execute(select(AuditHead.size).where(AuditHead.id == HEAD_ID)).scalar_one()


def _check_size(size: int, current: int) -> None:
    if size > current:
        raise TreeRangeInvalid(
            f"The log has {current} entries; there is no tree of size {size} yet."
        )
    if size < 0:
        raise TreeRangeInvalid(f"A tree cannot have {size} entries.")


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
    _check_size(size, log_size(db))
    for seq in seqs:
        if not 0 <= seq < size:
            raise TreeRangeInvalid(f"Entry {seq} is not in the tree of size {size}.")
    reader = DbNodeReader(db)
    reader.nodes(
        [key for seq in seqs for key in _inclusion_keys(seq, size)]
        + merkle.perfect_subtrees(0, size)
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
    if second < first:
        raise TreeRangeInvalid(
            f"No consistency proof from size {first} to size {second}: a log only grows."
        )
    _check_size(second, log_size(db))
    _check_size(first, second)
    reader = DbNodeReader(db)
    ranges = merkle.consistency_ranges(first, second)
    reader.nodes(
        [key for a, b in ranges for key in merkle.perfect_subtrees(a, b)]
        + merkle.perfect_subtrees(0, first)
        + merkle.perfect_subtrees(0, second)
    )
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=merkle.root(first, reader),
        second_root=merkle.root(second, reader),
        path=merkle.consistency_proof(first, second, reader),
    )


# --- Signed checkpoints -----------------------------------------------------------------------

_signers: dict[tuple[Path, str], NoteSigner] = {}
_signers_lock = threading.Lock()


def load_signer(settings: Settings) -> NoteSigner:
    """The checkpoint signing key from ``settings.audit_key_file``, created (0600) on first use.

    Signs under ``settings.audit_origin``, as the C2SP checkpoint specification asks. Kept in
    memory once read; the key never appears in a log line or an error.
    """
    path, origin = settings.audit_key_file, settings.audit_origin
    with _signers_lock:
        cached = _signers.get((path, origin))
        if cached is not None:
            return cached
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Exclusive create: if another process made the key first, theirs is used.
            with contextlib.suppress(KeyInvalid):
                write_signer_key(path, NoteSigner.generate(origin))
        signer = read_signer_key(path, name=origin)
        _signers[(path, origin)] = signer
        return signer


def _key_label(signer: NoteSigner) -> str:
    """How ``audit_keys`` names a key: ``<name>+<key ID>``, unique per key, rotation-safe."""
    return f"{signer.name}+{signer.key_id:08x}"


def latest_stored_checkpoint(db: Session) -> AuditCheckpoint | None:
    """The largest checkpoint signed so far, if any."""
    return db.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()


def sign_checkpoint_now(
    db: Session, signer: NoteSigner, origin: str, now: datetime
) -> AuditCheckpoint:
    """Sign and store a checkpoint of the log as it is now, and commit.

    The root comes from the head's right edge (O(log n), no node reads), under the head's lock so
    that size and root belong together. The verifier key is stored the first time it signs, so
    that old checkpoints stay checkable after a key rotation. If a checkpoint of this size exists
    already (signed by a concurrent request), that one is returned.
    """
    head = _locked_head(db)
    size = head.size
    existing = db.get(AuditCheckpoint, size)
    if existing is not None:
        db.commit()
        return existing
    root = merkle.TreeAppender.from_packed(size, head.right_edge).root()
    label = _key_label(signer)
    if db.get(AuditKey, label) is None:
        db.add(AuditKey(name=label, verifier=str(signer.verifier), created_at=now))
        db.flush()  # the checkpoint's foreign key needs the key row first
    checkpoint = AuditCheckpoint(
        size=size,
        root=root,
        note=sign_checkpoint(origin, size, root, signer),
        signed_at=now,
        key_id=label,
    )
    db.add(checkpoint)
    try:
        db.commit()
    except IntegrityError:
        # SQLite has no row lock: two first signers of one size can race; the loser reads.
        db.rollback()
        signed = db.get(AuditCheckpoint, size)
        if signed is None:
            raise
        return signed
    return checkpoint


def latest_checkpoint(
    db: Session,
    signer: NoteSigner,
    origin: str,
    now: datetime,
    min_interval: timedelta = timedelta(0),
) -> AuditCheckpoint:
    """The latest checkpoint, signing a fresh one first if the log grew since the last.

    With ``min_interval``, a checkpoint younger than that is returned even if the log grew, so
    that readers polling a busy log do not sign one per request.
    """
    last = latest_stored_checkpoint(db)
    if last is not None and (last.size == log_size(db) or last.signed_at + min_interval > now):
        return last
    return sign_checkpoint_now(db, signer, origin, now)


def verifier_of(db: Session, checkpoint: AuditCheckpoint) -> str:
    """The verifier key string (``<name>+<id>+<key>``) that checks ``checkpoint``."""
    return db.execute(
        select(AuditKey.verifier).where(AuditKey.name == checkpoint.key_id)
    ).scalar_one()


# --- Entries ----------------------------------------------------------------------------------


def entries_for_submissions(
    db: Session, submission_ids: list[str], page: PageRequest
) -> Slice[AuditEntry]:
    """The entries that concern any of ``submission_ids``, oldest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.submission_id.in_(submission_ids))
        .order_by(AuditEntry.seq)
    )
    return paginate(db, query, page)


def entries_for_developer(db: Session, actor: Actor, page: PageRequest) -> Slice[AuditEntry]:
    """Every entry about a submission of the actor's organisation (a developer), oldest first."""
    authorize(actor, Permission.AUDIT_LIST)
    owned = select(Submission.id).where(Submission.developer_org_id == actor.organisation_id)
    query = select(AuditEntry).where(AuditEntry.submission_id.in_(owned)).order_by(AuditEntry.seq)
    return paginate(db, query, page)
