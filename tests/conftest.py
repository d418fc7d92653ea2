"""Fixtures shared by every capability's tests: databases, the clock, the app, a populated platform.

Store and API tests take the ``db_url`` fixture, which runs them on SQLite and on PostgreSQL.
PostgreSQL is found at ``PREREVIEW_TEST_PG`` (default: the local server with trust auth); when
it is not reachable those runs skip with the reason, except under CI (``CI=true``), where a
missing PostgreSQL fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import Base
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.models import load_all
from support import access_oracle
from support.factories import Platform

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment. Rich reads
# COLUMNS once, when a console is made (the command line's, at import), and would then keep 80
# columns whatever width a test gives a command: without them it asks at each print, as in a
# terminal.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

PG_ADMIN_URL = os.environ.get("PREREVIEW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, migrated once and copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    reason = _pg_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; under CI the PostgreSQL runs are required")
        pytest.skip(reason)
    name = f"prereview_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # Commits need not wait for the WAL to reach the disk: that protects against the
        # *server* crashing, which no test does (the kill -9 tests kill the platform's
        # process), and the wait is most of a PostgreSQL test's time.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    load_all()
    from prereview.core.db import make_engine

    engine = make_engine(url)
    names = [t.name for t in Base.metadata.sorted_tables]
    superuser = text("SELECT usesuper FROM pg_user WHERE usename = current_user")
    # DELETE, not TRUNCATE: truncating every table makes new files for each, written out at
    # commit, seconds before each PostgreSQL test; deleting the few rows a test left takes
    # milliseconds. Replica mode (a superuser's) skips the foreign keys and the append-only
    # triggers, as TRUNCATE does, and the tables' own sequences restart, as with RESTART
    # IDENTITY. Any other role truncates.
    with engine.begin() as connection:
        if connection.execute(superuser).scalar():
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for name in reversed(names):
                connection.execute(text(f'DELETE FROM "{name}"'))
            for sequence in connection.execute(_OWNED_SEQUENCES, {"n": names}).scalars():
                connection.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
        else:
            tables = ", ".join(f'"{name}"' for name in names)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("INSERT INTO audit_head (id, size, right_edge) VALUES (1, 0, '')"))
    engine.dispose()


_OWNED_SEQUENCES = text(
    "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d"
    " ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND t.relname = ANY(:n)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """An empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "prereview.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        master_key_file=tmp_path / "master.keys",
        audit_key_file=tmp_path / "audit.key",
        attestation_key_file=tmp_path / "attestation.key",
        blob_dir=tmp_path / "blobs",
    )


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[AppContext]:
    ctx = AppContext.create(settings, clock)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def app(context: AppContext) -> FastAPI:
    return create_app(context=context)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def platform(context: AppContext, client: TestClient) -> Platform:
    """A platform with one organisation of every kind and a token for each."""
    return Platform.populate(context, client)


@pytest.fixture(autouse=True)
def access_changes_are_announced() -> Iterator[None]:
    """Fail any test in which a commit changed access without the explicit signal."""
    access_oracle.install()
    access_oracle.violations.clear()
    yield
    found = list(access_oracle.violations)
    access_oracle.violations.clear()
    assert not found, found[0]
