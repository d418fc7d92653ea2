"""Signed checkpoints of the log: the signing key, signing on demand, and publishing.

Checkpoints are derived, not scheduled: asking for the latest one signs a fresh checkpoint when
the log has grown since the last (DESIGN rule 6). Every checkpoint signed is published where a
rebuilt log cannot silently drop it: the append-only ``audit_published_checkpoints`` table and
the journal file next to the key (:mod:`prereview.audit.journal`).
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from prereview.audit import merkle
from prereview.audit.checkpoint import (
    NoteSigner,
    read_signer_key,
    sign_checkpoint,
    write_signer_key,
)
from prereview.audit.errors import KeyInvalid, NodeMissing
from prereview.audit.head import locked_head as _locked_head
from prereview.audit.head import log_size
from prereview.audit.journal import append_to_journal
from prereview.audit.models import AuditCheckpoint, AuditKey, AuditPublishedCheckpoint
from prereview.core.db import Base
from prereview.core.files import private_dir
from prereview.core.settings import Settings

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
            private_dir(path.parent)  # folders it creates 0700; the key itself is 0600
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


def _insert_ignoring_duplicates(db: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL; whether a row was added.

    Concurrent first signers insert the same key row and the same checkpoint: the loser's row
    is simply not added, instead of an ``IntegrityError`` (a 500) at flush.
    """
    table = cast(Table, model.__table__)
    dialect = db.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the two supported databases are above
        statement = insert(table).values(**values)
    result = db.execute(statement)
    return bool(getattr(result, "rowcount", 0))


def ensure_key_stored(db: Session, signer: NoteSigner, now: datetime) -> str:
    """Store ``signer``'s verifier key in ``audit_keys`` if it is not there, and commit.

    Its own short transaction, before the head is locked, and idempotent under concurrency:
    concurrent first calls all succeed and all name the same row. Returns the row's name.
    """
    label = _key_label(signer)
    # No look-up first: a check then an insert is the race this replaces.
    _insert_ignoring_duplicates(
        db, AuditKey, {"name": label, "verifier": str(signer.verifier), "created_at": now}
    )
    db.commit()
    return label


def sign_checkpoint_now(
    db: Session,
    signer: NoteSigner,
    origin: str,
    now: datetime,
    journal: Path | None = None,
) -> AuditCheckpoint:
    """Sign and store a checkpoint of the log as it is now, and commit.

    The root comes from the head's right edge (O(log n), no node reads), under the head's lock so
    that size and root belong together. The verifier key is stored the first time it signs, so
    that old checkpoints stay checkable after a key rotation. Each new checkpoint is also
    published: written to ``audit_published_checkpoints`` (append-only) in the same transaction
    and, once committed, appended to ``journal`` (a file outside the database), so that a log
    rebuilt later cannot silently drop the checkpoints it must still match. If a checkpoint of
    this size exists already (signed by a concurrent request), that one is returned.
    """
    label = ensure_key_stored(db, signer, now)
    head = _locked_head(db)
    size = head.size
    existing = db.get(AuditCheckpoint, size)
    if existing is not None:
        db.commit()
        return existing
    root = merkle.TreeAppender.from_packed(size, head.right_edge).root()
    note = sign_checkpoint(origin, size, root, signer)
    added = _insert_ignoring_duplicates(
        db,
        AuditCheckpoint,
        {"size": size, "root": root, "note": note, "signed_at": now, "key_id": label},
    )
    _insert_ignoring_duplicates(
        db,
        AuditPublishedCheckpoint,
        {
            "size": size,
            "root": root,
            "note": note,
            "verifier": str(signer.verifier),
            "signed_at": now,
        },
    )
    db.commit()
    signed = db.get(AuditCheckpoint, size)
    if signed is None:  # pragma: no cover - committed just above, and append-only
        raise NodeMissing(f"The checkpoint at size {size} was not stored.")
    if added and journal is not None:
        append_to_journal(journal, signed)
    return signed


def latest_checkpoint(
    db: Session,
    signer: NoteSigner,
    origin: str,
    now: datetime,
    min_interval: timedelta = timedelta(0),
    journal: Path | None = None,
) -> AuditCheckpoint:
    """The latest checkpoint, signing a fresh one first if the log grew since the last.

    With ``min_interval``, a checkpoint younger than that is returned even if the log grew, so
    that readers polling a busy log do not sign one per request. A checkpoint signed here is
    appended to ``journal`` too (see :func:`sign_checkpoint_now`).
    """
    last = latest_stored_checkpoint(db)
    if last is not None and (last.size == log_size(db) or last.signed_at + min_interval > now):
        return last
    return sign_checkpoint_now(db, signer, origin, now, journal)


def verifier_of(db: Session, checkpoint: AuditCheckpoint) -> str:
    """The verifier key string (``<name>+<id>+<key>``) that checks ``checkpoint``."""
    return db.execute(
        select(AuditKey.verifier).where(AuditKey.name == checkpoint.key_id)
    ).scalar_one()
