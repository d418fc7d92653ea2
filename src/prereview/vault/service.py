"""The vault's use cases: data keys per submission, encrypted blobs, sealed secrets, shredding.

Other capabilities call these functions; none of them sees a master key, and a data key never
leaves this module except inside an encrypting or decrypting iterator.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prereview.authz import events
from prereview.core.db import holds_write_lock
from prereview.core.files import PARTIAL_SUFFIX, open_private, private_dir
from prereview.core.ids import new_id
from prereview.vault.errors import KeyShredded, VaultError
from prereview.vault.keyring import LocalKeyProvider
from prereview.vault.keys import DataKey, KeyProvider, WrappedKey, new_data_key
from prereview.vault.models import DataKeyRecord, SealedSecret
from prereview.vault.seal import open_, seal
from prereview.vault.stream import decrypt_iter, encrypt_iter


class SecretNotFound(VaultError):
    slug = "vault-secret-not-found"
    status = 404
    title = "No such secret"


@dataclass
class Vault:
    """A key provider and the folder where encrypted blobs live."""

    provider: KeyProvider
    blob_dir: Path

    @classmethod
    def local(cls, master_key_file: Path, blob_dir: Path) -> Vault:
        """The vault on this machine: the keyring file is created (mode 0600) on first use."""
        return cls(LocalKeyProvider.generate(master_key_file), blob_dir)

    def blob_path(self, context: str, blob_id: str) -> Path:
        safe = context.replace(":", "_").replace("/", "_")
        return self.blob_dir / safe / f"{blob_id}.prvs"


@dataclass
class StoredBlob:
    size: int
    sha256: str
    path: Path = field(repr=False)


def submission_key_context(submission_id: str) -> str:
    """The key context of a submission: the name its data key is stored under (the
    ``data_keys`` row, the folder of its blobs), passed as ``context`` to every function here.

    Not :func:`prereview.vault.keys.submission_wrap_context`, the bytes a key provider binds
    into a wrapped key: this module wraps under the key context's own bytes.
    """
    return f"submission:{submission_id}"


def _key_record(db: Session, context: str) -> DataKeyRecord | None:
    return db.get(DataKeyRecord, context)


def data_key(
    db: Session, vault: Vault, context: str, now: datetime, create: bool = False
) -> DataKey:
    """The data key of ``context``, created on first use if ``create``.

    Raises :class:`KeyShredded` once the key was destroyed.
    """
    record = _key_record(db, context)
    if record is None:
        if not create:
            raise KeyShredded("nothing was ever stored under this key")
        dek, wrapped = new_data_key(vault.provider, context.encode())
        db.add(
            DataKeyRecord(
                context=context,
                wrapped=wrapped.to_text(),
                master_key_id=wrapped.key_id,
                created_at=now,
                rotated_at=None,
                shredded_at=None,
            )
        )
        events.access_changed(db)  # the gateway's upstream secrets live under this key
        db.flush()
        return dek
    if record.wrapped is None:
        raise KeyShredded(
            "the data key was destroyed (the submission was withdrawn or its retention "
            "period ended); its materials and secrets can no longer be decrypted"
        )
    return vault.provider.unwrap(WrappedKey.from_text(record.wrapped), context.encode())


def is_shredded(db: Session, context: str) -> bool:
    record = _key_record(db, context)
    return record is not None and record.wrapped is None


def upload_key(db: Session, vault: Vault, context: str, now: datetime) -> DataKey:
    """The data key for a long upload under ``context``, created on first use in its own
    short transaction (a session of its own), so that no transaction stays open while the
    bytes stream: the caller's session is left as it was.

    Raises :class:`KeyShredded` once the key was destroyed.
    """
    with Session(db.get_bind(), expire_on_commit=False) as own:
        record = _key_record(own, context)
        if record is not None:
            return data_key(own, vault, context, now)
        try:
            # FOR UPDATE: on SQLite this takes the write lock, so two first uploads agree.
            own.execute(
                select(DataKeyRecord.context)
                .where(DataKeyRecord.context == context)
                .with_for_update()
            )
            dek = data_key(own, vault, context, now, create=True)
            own.commit()
            return dek
        except IntegrityError:  # another upload created it first (PostgreSQL)
            own.rollback()
            return data_key(own, vault, context, now)


def write_blob(
    vault: Vault, dek: DataKey, context: str, blob_id: str, chunks: Iterable[bytes]
) -> StoredBlob:
    """Encrypt ``chunks`` into the blob store as they arrive; memory stays about two chunks.

    No database is touched. The ciphertext goes to a temporary file, is fsynced and renamed
    to its final name only once complete; on any error nothing is left.
    """
    path = vault.blob_path(context, blob_id)
    private_dir(path.parent)  # folders 0700, the blob 0600 (core.files)
    partial = path.with_suffix(PARTIAL_SUFFIX)
    digest = hashlib.sha256()
    size = 0

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    try:
        with open_private(partial) as sink:
            for piece in encrypt_iter(dek, counted(), associated_data=blob_id.encode()):
                sink.write(piece)
            sink.flush()
            os.fsync(sink.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return StoredBlob(size=size, sha256=digest.hexdigest(), path=path)


def store_blob(
    db: Session, vault: Vault, context: str, blob_id: str, chunks: Iterable[bytes], now: datetime
) -> StoredBlob:
    """Encrypt small, in-memory ``chunks`` into the blob store within the caller's transaction
    (a new data key is added to it). For a request body or anything long, use
    :func:`stream_blob`, which holds no transaction while it writes."""
    dek = data_key(db, vault, context, now, create=True)
    return write_blob(vault, dek, context, blob_id, chunks)


def stream_blob(
    db: Session, vault: Vault, context: str, blob_id: str, chunks: Iterable[bytes], now: datetime
) -> StoredBlob:
    """Encrypt a long transfer (an upload as it arrives) into the blob store, holding no
    database transaction meanwhile: the data key is obtained first (:func:`upload_key`), the
    bytes are written, and the caller records the blob afterwards in one short transaction
    (under :func:`recording_blob`). A SQLite write lock held through a transfer would stop
    every other organisation's writes, so holding one here is a programming error."""
    if holds_write_lock(db):
        raise RuntimeError("a long transfer must not run inside a write transaction")
    dek = upload_key(db, vault, context, now)
    return write_blob(vault, dek, context, blob_id, chunks)


def key_is_live(db: Session, context: str) -> bool:
    """Whether ``context``'s data key exists and is not shredded, read with a lock (FOR
    UPDATE) so that a shredding in progress is waited for: recording a blob checks it in the
    recording transaction, so no blob is recorded after a withdrawal committed."""
    wrapped = db.execute(
        select(DataKeyRecord.wrapped).where(DataKeyRecord.context == context).with_for_update()
    ).first()
    return wrapped is not None and wrapped[0] is not None


def open_blob(
    db: Session, vault: Vault, context: str, blob_id: str, now: datetime
) -> Iterator[bytes]:
    """Verified plaintext of a blob, chunk by chunk. The key is checked before anything is read,
    so a shredded or missing key fails before the first byte is sent."""
    dek = data_key(db, vault, context, now)
    path = vault.blob_path(context, blob_id)

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as source:
            yield from decrypt_iter(dek, source, associated_data=blob_id.encode())

    return chunks()


def delete_blob(vault: Vault, context: str, blob_id: str) -> None:
    vault.blob_path(context, blob_id).unlink(missing_ok=True)


@contextmanager
def recording_blob(db: Session, vault: Vault, context: str, blob_id: str) -> Iterator[None]:
    """Guard the caller's recording of a stored blob: if it fails, the transaction is rolled
    back and the blob deleted, so no blob outlives its record and no record lacks its blob."""
    try:
        yield
    except BaseException:
        db.rollback()
        delete_blob(vault, context, blob_id)
        raise


def put_secret(
    db: Session, vault: Vault, context: str, name: str, value: bytes, now: datetime
) -> str:
    """Seal a short secret under ``context``'s data key, replacing any of the same name."""
    dek = data_key(db, vault, context, now, create=True)
    existing = db.scalar(
        select(SealedSecret).where(SealedSecret.context == context, SealedSecret.name == name)
    )
    secret_id = existing.id if existing else new_id("sec")
    sealed = seal(dek, value, aad=f"{context}/{name}/{secret_id}".encode())
    if existing:
        existing.sealed = sealed
        existing.created_at = now
    else:
        db.add(
            SealedSecret(id=secret_id, context=context, name=name, sealed=sealed, created_at=now)
        )
    db.flush()
    return secret_id


def get_secret(db: Session, vault: Vault, context: str, name: str, now: datetime) -> bytes:
    """The plaintext of a sealed secret; for the gateway's use only, never for an answer."""
    secret = db.scalar(
        select(SealedSecret).where(SealedSecret.context == context, SealedSecret.name == name)
    )
    if secret is None:
        raise SecretNotFound(f"no secret '{name}' is stored for this submission")
    dek = data_key(db, vault, context, now)
    return open_(dek, secret.sealed, aad=f"{context}/{name}/{secret.id}".encode())


def shred(db: Session, context: str, now: datetime) -> bool:
    """Destroy ``context``'s data key: everything encrypted under it becomes unreadable.

    Returns whether a key was destroyed now. The ciphertext stays where it is (and in any
    backup): without the key it is noise, which is the point of crypto-shredding.
    """
    # Read with a lock (on SQLite, the write lock), so a first upload creating the key
    # meanwhile is either seen here or waits, never raced into a duplicate row.
    record = db.scalar(
        select(DataKeyRecord)
        .where(DataKeyRecord.context == context)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if record is None:
        db.add(
            DataKeyRecord(
                context=context,
                wrapped=None,
                master_key_id=None,
                created_at=now,
                rotated_at=None,
                shredded_at=now,
            )
        )
        events.access_changed(db)
        db.flush()
        return False
    if record.wrapped is None:
        return False
    record.wrapped = None
    record.master_key_id = None
    record.shredded_at = now
    events.access_changed(db)
    db.flush()
    return True


def rewrap_all(db: Session, vault: Vault, now: datetime) -> int:
    """Re-wrap every live data key under the provider's current master key (after a
    rotation), without touching any ciphertext. Returns how many keys moved."""
    current = vault.provider.current_key_id
    moved = 0
    records = db.scalars(
        select(DataKeyRecord).where(
            DataKeyRecord.wrapped.is_not(None), DataKeyRecord.master_key_id != current
        )
    ).all()
    for record in records:
        assert record.wrapped is not None
        rewrapped = vault.provider.rewrap(
            WrappedKey.from_text(record.wrapped), record.context.encode()
        )
        record.wrapped = rewrapped.to_text()
        record.master_key_id = rewrapped.key_id
        record.rotated_at = now
        moved += 1
    if moved:
        events.access_changed(db)
    db.flush()
    return moved


def keys_using(db: Session, master_key_id: str) -> int:
    """How many live data keys are wrapped under ``master_key_id``."""
    return len(
        db.scalars(
            select(DataKeyRecord.context).where(DataKeyRecord.master_key_id == master_key_id)
        ).all()
    )
