"""The engine (:mod:`prereview.core.db`): writers serialized on SQLite, readers never waiting,
a busy database never a 500, and no statement's parameters in an error.

SQLite's writers take the write lock at the first write (or FOR UPDATE read) of a transaction
with BEGIN IMMEDIATE; plain reads run outside any transaction. The PostgreSQL runs check the
same properties hold there, unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from prereview.api import create_app
from prereview.audit import service as audit
from prereview.audit.models import AuditEntry, AuditHead
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import holds_write_lock, make_engine, session_factory, transaction
from prereview.core.settings import Settings
from prereview.identity.models import ApiToken
from support.factories import Platform


def test_concurrent_audit_appends_stay_contiguous(context: AppContext) -> None:
    """The audit log reads its head and appends ``seq = size``: two appends must never race."""
    at = context.clock.now()

    def append(worker: int) -> None:
        for n in range(15):
            with transaction(context.sessions) as db:
                audit.record(
                    db,
                    actor=None,
                    action="test:concurrency:append",
                    object_type="worker",
                    object_id=f"{worker}-{n}",
                    at=at,
                )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(8)))
    with context.sessions() as db:
        seqs = db.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        size = db.scalar(select(AuditHead.size))
    assert seqs == list(range(8 * 15)) and size == 8 * 15


@pytest.fixture
def sqlite_path(db_url: str) -> Path:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    database = make_url(db_url).database
    assert database
    return Path(database)


@pytest.fixture
def held_write_lock(sqlite_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer, in the middle of its transaction, holding the write lock."""
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE audit_head SET size = size")
    yield holder
    holder.rollback()
    holder.close()


def test_plain_reads_hold_no_transaction_and_for_update_takes_the_lock(
    context: AppContext, sqlite_path: Path
) -> None:
    with context.sessions() as db:
        db.scalar(select(AuditHead.size))
        assert not holds_write_lock(db)
        db.execute(select(AuditHead).with_for_update()).scalar_one()
        assert holds_write_lock(db)
        db.commit()
        assert not holds_write_lock(db)


def test_reads_do_not_wait_for_a_writer(
    context: AppContext, held_write_lock: sqlite3.Connection
) -> None:
    with context.sessions() as db:
        assert db.scalar(select(AuditHead.size)) == 0


def test_a_writer_that_cannot_get_the_lock_fails_cleanly(
    settings: Settings, held_write_lock: sqlite3.Connection
) -> None:
    engine = make_engine(settings.database_url, busy_timeout_s=0.05)
    try:
        with pytest.raises(Exception, match="database is locked"), session_factory(engine)() as db:
            db.execute(select(AuditHead).with_for_update()).scalar_one()
        # The failed writer left nothing behind: the next one, once the lock is free, proceeds.
        held_write_lock.rollback()
        with transaction(session_factory(engine)) as db:
            db.execute(select(AuditHead).with_for_update()).scalar_one()
            assert holds_write_lock(db)
    finally:
        engine.dispose()


def test_a_get_succeeds_when_its_last_use_cannot_be_recorded(
    settings: Settings, clock: FixedClock, sqlite_path: Path
) -> None:
    """last_used_at is a hint: a busy database skips it, and the GET still answers."""
    engine = make_engine(settings.database_url, busy_timeout_s=0.05)
    context = AppContext(settings, engine, session_factory(engine), clock)
    try:
        with TestClient(create_app(context=context), raise_server_exceptions=False) as client:
            platform = Platform.populate(context, client)
            sub = platform.submit()
            clock.advance(timedelta(minutes=5))  # the token's last use is now stale
            holder = sqlite3.connect(sqlite_path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                got = platform.call("developer", "GET", f"/submissions/{sub['id']}")
            finally:
                holder.rollback()
                holder.close()
            assert got.status_code == 200, got.text
            with context.sessions() as db:
                token = db.scalar(
                    select(ApiToken).where(ApiToken.user_id == platform["developer"].user_id)
                )
                assert token is not None and token.last_used_at is not None
                assert token.last_used_at < clock.now()  # not recorded, and no harm done
            again = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200)
            assert again.json()["id"] == sub["id"]
    finally:
        context.engine.dispose()


# -- engines never quote a statement's parameters in errors ------------------------------------

SECRET = "Model exfiltrates /etc/shadow via the sandbox's debug port 31337"


def test_engines_hide_sql_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(Exception) as failed, engine.begin() as connection:
            connection.execute(
                text("INSERT INTO no_such_table (finding) VALUES (:finding)"),
                {"finding": SECRET},
            )
    finally:
        engine.dispose()
    assert SECRET not in str(failed.value)
    assert "hidden" in str(failed.value)
