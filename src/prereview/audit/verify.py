"""``prereview audit verify``: check the whole stored log against its signed checkpoints.

One pass over the entries in seq order, in chunks: each entry is checked on its own (its seq, its
text against its leaf hash and columns), appended to a fresh tree whose completed subtree hashes
are compared with ``audit_nodes``, and the recomputed root is compared with every signed
checkpoint as the pass reaches its size. O(n) hashes, O(chunk) memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from prereview.audit import merkle
from prereview.audit.checkpoint import Checkpoint, NoteVerifier, parse_and_verify_checkpoint
from prereview.audit.cosignature import CosignatureVerifier, cosignatures_of, split_note
from prereview.audit.errors import CheckpointInvalid, CosignatureInvalid, LogMismatch
from prereview.audit.journal import PublishedCheckpoint, read_journal
from prereview.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEntry,
    AuditHead,
    AuditKey,
    AuditNode,
    AuditPublishedCheckpoint,
)
from prereview.audit.service import HEAD_ID, leaf_hash

_DENORMALISED = (
    "actor_user_id",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "submission_id",
)
_VERIFY_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    *(getattr(AuditEntry, name) for name in _DENORMALISED),
    AuditEntry.leaf,
    AuditEntry.leaf_hash,
)


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """What :func:`verify_stored_log` established."""

    size: int
    """Entries checked: the whole log."""
    root: bytes
    """The root recomputed from every entry."""
    checkpoints: int
    """Signed checkpoints whose signature and root were checked."""
    checkpoint_size: int | None
    """The size of the latest signed checkpoint, if any."""
    published: int = 0
    """Sizes checked against checkpoints published outside ``audit_checkpoints``: the
    append-only table, the journal file and witnesses."""
    cosignatures: int = 0
    """Stored witness cosignatures checked over the stored checkpoint of their size."""


@dataclass(frozen=True, slots=True, order=True)
class _Problem:
    position: int
    detail: str
    exact: bool = True
    """False for a checkpoint mismatch, which only bounds where the change is."""


def _check_checkpoints(
    db: Session, checkpoints: Sequence[AuditCheckpoint], trusted: Sequence[NoteVerifier] | None
) -> None:
    """Every stored checkpoint is signed by a trusted key and states the row's size and root."""
    stored = {name: v for name, v in db.execute(select(AuditKey.name, AuditKey.verifier))}
    for cp in checkpoints:
        if trusted is not None:
            candidates = list(trusted)
        elif cp.key_id in stored:
            candidates = [NoteVerifier.from_string(stored[cp.key_id])]
        else:
            raise LogMismatch(f"The checkpoint at size {cp.size} names an unknown key.")
        stated: Checkpoint | None = None
        refusal = "no trusted key given"
        for verifier in candidates:
            try:
                stated = parse_and_verify_checkpoint(cp.note, verifier)
                break
            except CheckpointInvalid as exc:
                refusal = exc.detail
        if stated is None:
            raise LogMismatch(f"The checkpoint at size {cp.size} does not verify: {refusal}")
        if stated.size != cp.size or stated.root != cp.root:
            raise LogMismatch(
                f"The checkpoint row at size {cp.size} (root {cp.root.hex()}) differs from its "
                f"signed note (size {stated.size}, root {stated.root.hex()}): the row was edited."
            )
        if cp.size == 0 and cp.root != merkle.EMPTY_ROOT:
            raise LogMismatch("The checkpoint at size 0 does not hold the empty tree's root.")


def _check_cosignatures(
    db: Session, checkpoints: Sequence[AuditCheckpoint], cosigners: Sequence[CosignatureVerifier]
) -> int:
    """Every stored cosignature of a ``cosigners`` witness verifies over a stored checkpoint
    of its size; the number checked.

    A witness cosigns only checkpoints consistent with what it saw before, so a cosignature
    that fits no stored checkpoint of its size (or whose size has none any more, below the
    head) means the log was rebuilt after the witness saw it, or checkpoint rows were deleted.
    """
    if not cosigners:
        return 0
    labels = {w.label: w for w in cosigners}
    bodies: dict[int, list[str]] = {}
    for cp in checkpoints:
        bodies.setdefault(cp.size, []).append(split_note(cp.note)[0])
    checked = 0
    for row in db.scalars(
        select(AuditCosignature)
        .where(AuditCosignature.witness.in_(labels))
        .order_by(AuditCosignature.size, AuditCosignature.witness)
    ):
        candidates = bodies.get(row.size)
        if not candidates:
            raise LogMismatch(
                f"witness {row.witness} cosigned the checkpoint at size {row.size}, which has no "
                "row in audit_checkpoints: checkpoint rows were deleted"
            )
        for body in candidates:
            try:
                if cosignatures_of(body, [row.line], [labels[row.witness]]):
                    break
            except CosignatureInvalid:
                continue
        else:
            raise LogMismatch(
                f"witness {row.witness} cosigned another checkpoint at size {row.size} than the "
                "one stored: the log was rebuilt after the witness saw it"
            )
        checked += 1
    return checked


def _check_entry(position: int, row: Sequence[Any]) -> str | None:
    """What is wrong with the entry stored at ``position``, or ``None``.

    ``row`` holds the columns of :data:`_VERIFY_COLUMNS` in order.
    """
    seq, at, *columns, leaf, stored = row
    if seq != position:
        return (
            f"entry {position} is missing: the next stored entry is seq {seq} (a row was "
            "deleted, or its seq changed)"
        )
    digest = leaf_hash(leaf)
    if digest != stored:
        return (
            f"entry {position} was changed: its text hashes to {digest.hex()}, but the stored "
            f"leaf hash is {bytes(stored).hex()}"
        )
    try:
        fields = json.loads(leaf)
    except ValueError:
        return f"entry {position} was changed: its text is not JSON"
    if not isinstance(fields, dict) or fields.get("seq") != position:
        said = fields.get("seq") if isinstance(fields, dict) else None
        return (
            f"entry {position} holds the text of entry {said}: rows were reordered, moved or "
            "inserted"
        )
    hashed = [fields.get(name) for name in _DENORMALISED]
    if hashed != columns:
        name, column, text = next(
            (n, c, t) for n, c, t in zip(_DENORMALISED, columns, hashed, strict=True) if c != t
        )
        return (
            f"entry {position} was changed: its {name} column says {column!r}, but its hashed "
            f"text says {text!r}"
        )
    try:
        at_matches = datetime.fromisoformat(str(fields.get("at"))) == at
    except ValueError:
        at_matches = False
    if not at_matches:
        return f"entry {position} was changed: its time column differs from its hashed text"
    return None


def _stored_nodes_completed_by(db: Session, begin: int, end: int) -> dict[merkle.NodeKey, bytes]:
    """The stored nodes that leaves ``[begin, end)`` complete: at level l, [begin>>l, end>>l)."""
    clauses = []
    for level in range(end.bit_length() + 1):
        lo, hi = begin >> level, end >> level
        if lo < hi:
            clauses.append(
                and_(AuditNode.level == level, AuditNode.index >= lo, AuditNode.index < hi)
            )
    if not clauses:
        return {}
    rows = db.execute(select(AuditNode.level, AuditNode.index, AuditNode.hash).where(or_(*clauses)))
    return {(level, index): digest for level, index, digest in rows}


def _check_nodes(
    emitted: Sequence[merkle.Node], stored: Mapping[merkle.NodeKey, bytes]
) -> _Problem | None:
    """The first node, in order of completion, that the store lacks or holds differently."""
    for level, index, digest in emitted:
        found = stored.get((level, index))
        if found == digest:
            continue
        first, last = index << level, ((index + 1) << level) - 1
        what = "lacks" if found is None else "holds a different hash for"
        if level == 0:
            return _Problem(
                index, f"entry {index} was changed: the stored tree {what} its leaf node"
            )
        return _Problem(
            first,
            f"the stored tree {what} node (level {level}, index {index}) over entries "
            f"{first} to {last}: one of them, or the node, was changed",
        )
    return None


def begin_snapshot(db: Session) -> None:
    """Make the rest of ``db``'s reads see one consistent state of the database.

    PostgreSQL: a ``REPEATABLE READ READ ONLY`` transaction (only if ``db`` has not begun one
    yet). SQLite: a deferred ``BEGIN`` on the connection, which in WAL mode pins the reader to
    the database as of its first read, takes no lock and does not stop writers.
    """
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        if not db.in_transaction():
            db.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        return
    if dialect == "sqlite":
        raw: Any = db.connection().connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN")


def _published_sources(
    db: Session,
    trusted: Sequence[NoteVerifier] | None,
    journal: Path | None,
    witnesses: Sequence[PublishedCheckpoint],
) -> list[PublishedCheckpoint]:
    """The checkpoints published outside ``audit_checkpoints``, each signature checked.

    Rows of ``audit_published_checkpoints`` and lines of the journal file must be signed by a
    trusted key (without ``trusted``: by a key the database names, the weak mode). Witnesses
    come already checked against the key their client pinned.
    """
    rows = list(
        db.scalars(select(AuditPublishedCheckpoint).order_by(AuditPublishedCheckpoint.size))
    )
    if trusted is not None:
        candidates = list(trusted)
    else:
        stored = [*db.scalars(select(AuditKey.verifier)), *(row.verifier for row in rows)]
        candidates = [NoteVerifier.from_string(v) for v in dict.fromkeys(stored)]
    found = [
        PublishedCheckpoint(row.size, row.root, row.note, "audit_published_checkpoints")
        for row in rows
    ]
    if journal is not None:
        found += read_journal(journal)
    for published in found:
        _check_published(published, candidates)
    return found + list(witnesses)


def _check_published(published: PublishedCheckpoint, candidates: Sequence[NoteVerifier]) -> None:
    refusal = "no key to check it with"
    for verifier in candidates:
        try:
            stated = parse_and_verify_checkpoint(published.note, verifier)
        except CheckpointInvalid as exc:
            refusal = exc.detail
            continue
        if stated.size != published.size or stated.root != published.root:
            raise LogMismatch(
                f"The checkpoint at size {published.size} in {published.source} differs from "
                f"its signed note (size {stated.size}): the record was edited."
            )
        return
    raise LogMismatch(
        f"The checkpoint at size {published.size} in {published.source} does not verify: {refusal}"
    )


def verify_stored_log(
    db: Session,
    trusted: Sequence[NoteVerifier] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 10_000,
    journal: Path | None = None,
    witnesses: Sequence[PublishedCheckpoint] = (),
    cosigners: Sequence[CosignatureVerifier] = (),
) -> VerifiedLog:
    """Check the whole stored log against every checkpoint signed for it, reading it once.

    Checks that every stored checkpoint is signed by one of ``trusted`` (by default the
    verifier keys stored with them: weaker, as whoever can edit the database can edit those),
    that seqs run from 0 without a gap, that each entry's text hashes to its stored leaf hash and
    says its own seq and columns, that the root recomputed at each checkpoint's size is the
    signed root, that ``audit_nodes`` holds exactly the subtree hashes recomputed from the
    entries, and that the head agrees. ``progress`` is called with the entries done per chunk.

    The roots are checked against every published checkpoint too, not only the
    ``audit_checkpoints`` rows: the append-only ``audit_published_checkpoints`` table, the
    ``journal`` file, and ``witnesses`` (checkpoints that clients saved). A log rebuilt to
    another history, or truncated below a published size, fails even with its checkpoint rows
    deleted; a published checkpoint whose row is gone fails too. The stored cosignatures of
    the ``cosigners`` witnesses must each verify over the stored checkpoint of their size.

    Reads one snapshot (:func:`begin_snapshot`), and only up to the head read first, so entries
    appended while it runs are not taken for tampering.

    Raises :class:`LogMismatch` naming the first bad entry (``extra["position"]``) when any row
    was changed, deleted, reordered or inserted.
    """
    begin_snapshot(db)
    # Checkpoints before the head: a checkpoint signed meanwhile is never beyond the head read.
    checkpoints = list(db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)))
    _check_checkpoints(db, checkpoints, trusted)
    cosigned = _check_cosignatures(db, checkpoints, cosigners)
    published = _published_sources(db, trusted, journal, witnesses)
    head_size, head_edge = db.execute(
        select(AuditHead.size, AuditHead.right_edge).where(AuditHead.id == HEAD_ID)
    ).one()
    lowest = db.scalar(select(func.min(AuditEntry.seq)))
    if lowest is not None and lowest < 0:
        # The pass below reads seqs from 0 up, so a row put before the log would go unseen.
        raise LogMismatch(
            f"a row with seq {lowest} was inserted before entry 0 of the log", position=0
        )
    roots: dict[int, list[tuple[bytes, str]]] = {}
    for cp in checkpoints:
        roots.setdefault(cp.size, []).append((cp.root, "audit_checkpoints"))
    for item in published:
        roots.setdefault(item.size, []).append((item.root, item.source))
    connection = db.connection()
    tree = merkle.TreeAppender()
    last_signed = 0
    while tree.size < head_size:
        begin = tree.size
        # Core, not ORM, rows: a million entries do not need identity-map bookkeeping.
        rows = connection.execute(
            select(*_VERIFY_COLUMNS)
            .where(AuditEntry.seq >= begin, AuditEntry.seq < head_size)
            .order_by(AuditEntry.seq)
            .limit(chunk)
        ).all()
        if not rows:
            break
        problems: list[_Problem] = []
        emitted: list[merkle.Node] = []
        for row in rows:
            position = tree.size
            wrong = _check_entry(position, row)
            if wrong is not None:
                problems.append(_Problem(position, wrong))
                break
            emitted.extend(tree.append(row[-1]))
            mismatch = next(
                (where for root, where in roots.get(tree.size, ()) if tree.root() != root), None
            )
            if mismatch is not None:
                problems.append(
                    _Problem(
                        last_signed,
                        f"the first {tree.size} entries do not give the root signed at size "
                        f"{tree.size} (in {mismatch}): an entry from {last_signed} to "
                        f"{tree.size - 1} was changed together with its hashes, or the log was "
                        "rebuilt",
                        exact=False,
                    )
                )
                break
            if tree.size in roots:
                last_signed = tree.size
        node_problem = _check_nodes(emitted, _stored_nodes_completed_by(db, begin, tree.size))
        if node_problem is not None:
            problems.append(node_problem)
        if problems:
            # A problem that names its entry beats a checkpoint mismatch, which only bounds it.
            exact = [problem for problem in problems if problem.exact]
            first = min(exact or problems)
            raise LogMismatch(first.detail, position=first.position)
        if progress is not None:
            progress(len(rows))
    size = tree.size
    covered, source = max(
        ((n, where) for n, found in roots.items() for _, where in found), default=(0, "")
    )
    if size < covered:
        raise LogMismatch(
            f"entry {size} is missing: the checkpoint signed at size {covered} (in {source}) "
            f"covers it, but the stored log ends after {size} entries",
            position=size,
        )
    if size < head_size:
        raise LogMismatch(
            f"entry {size} is missing: the log's head says {head_size} entries, but the stored "
            f"log ends after {size}",
            position=size,
        )
    if tree.packed_right_edge != bytes(head_edge):
        raise LogMismatch("The log's head holds a right edge that the entries do not give.")
    _check_nothing_beyond(db, size)
    stored = {cp.size for cp in checkpoints}
    dropped = next((item for item in published if item.size not in stored), None)
    if dropped is not None:
        raise LogMismatch(
            f"the checkpoint signed at size {dropped.size} (in {dropped.source}) has no row in "
            "audit_checkpoints: checkpoint rows were deleted"
        )
    return VerifiedLog(
        size=size,
        root=tree.root(),
        checkpoints=len(checkpoints),
        checkpoint_size=checkpoints[-1].size if checkpoints else None,
        published=len({item.size for item in published}),
        cosignatures=cosigned,
    )


def _check_nothing_beyond(db: Session, size: int) -> None:
    """No entry or node lies beyond the log's head.

    Outside a snapshot the log may grow while this runs, so the rows are counted first and the
    head is read after them: an append commits its rows and the head together, so rows that
    a later head does not cover were not appended, they were inserted.
    """
    highest = db.scalar(select(func.max(AuditEntry.seq)))
    stored_nodes = db.scalar(select(func.count()).select_from(AuditNode)) or 0
    now = db.execute(select(AuditHead.size).where(AuditHead.id == HEAD_ID)).scalar_one()
    if highest is not None and highest >= now:
        first = db.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq >= now))
        raise LogMismatch(
            f"entry {first} lies beyond the log's head (size {now}): inserted",
            position=first if first is not None else highest,
        )
    expected = 2 * now - now.bit_count()
    if stored_nodes > expected:
        raise LogMismatch(
            f"audit_nodes holds {stored_nodes} nodes; a tree of {now} entries has "
            f"{expected}: nodes were inserted beyond the log",
            position=size,
        )
