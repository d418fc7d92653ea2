"""Long transfers hold no database transaction; concurrent first uploads agree on one key."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from prereview.audit.models import AuditHead
from prereview.core.context import AppContext
from prereview.vault import service as vault_service
from prereview.vault.models import DataKeyRecord
from prereview.vault.service import Vault, submission_key_context

CONTEXT = submission_key_context("sub_concurrent")


@pytest.fixture
def vault(context: AppContext) -> Vault:
    settings = context.settings
    return Vault.local(settings.master_key_file, settings.blob_dir)


def test_a_stream_refuses_to_run_inside_a_sqlite_write_transaction(
    context: AppContext, vault: Vault
) -> None:
    if context.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    with context.sessions() as db:
        db.execute(select(AuditHead).with_for_update()).scalar_one()
        with pytest.raises(RuntimeError, match="write transaction"):
            vault_service.stream_blob(db, vault, CONTEXT, "blob", [b"x"], context.clock.now())


def test_a_stream_commits_its_key_first_and_holds_no_lock_while_it_reads(
    context: AppContext, vault: Vault
) -> None:
    now = context.clock.now()
    seen: list[str] = []

    def body() -> Iterator[bytes]:
        # Runs as the vault reads the body: the key is already committed and no write lock
        # is held, so another session can write at once.
        with context.sessions() as other:
            assert other.get(DataKeyRecord, CONTEXT) is not None
            other.execute(select(AuditHead).with_for_update()).scalar_one()
            other.commit()
        seen.append("other writer went through")
        yield b"abc"
        yield b"def"

    with context.sessions() as db:
        stored = vault_service.stream_blob(db, vault, CONTEXT, "blob", body(), now)
        assert not db.new and not db.dirty
    assert seen == ["other writer went through"] and stored.size == 6
    with context.sessions() as db:
        chunks = vault_service.open_blob(db, vault, CONTEXT, "blob", now)
        assert b"".join(chunks) == b"abcdef"


def test_concurrent_first_uploads_agree_on_one_data_key(context: AppContext, vault: Vault) -> None:
    now = context.clock.now()

    def store(n: int) -> bytes:
        with context.sessions() as db:
            vault_service.stream_blob(db, vault, CONTEXT, f"blob-{n}", [b"%d" % n], now)
        with context.sessions() as db:
            return b"".join(vault_service.open_blob(db, vault, CONTEXT, f"blob-{n}", now))

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(store, range(6))) == [b"%d" % n for n in range(6)]
    with context.sessions() as db:
        assert db.scalar(select(func.count()).select_from(DataKeyRecord)) == 1
