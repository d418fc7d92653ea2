"""Database engine, sessions and the declarative base every capability's tables derive from."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Enum, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from prereview.core.clock import as_utc
from prereview.core.files import secure_sqlite_files
from prereview.core.storable import refuse_nul_in_text

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back in UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware value")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


# How long a SQLite writer waits for the write lock before its request fails.
BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S, **kwargs: Any) -> Engine:
    """An engine for ``url``; for SQLite it creates the folder, turns on foreign keys and WAL,
    and serializes writers (see :func:`_serialize_sqlite_writers`)."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)  # errors and logs never show bound values
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            secure_sqlite_files(database)  # folder 0700, database (so WAL and SHM) 0600
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _serialize_sqlite_writers(engine, busy_timeout_s)
        refuse_nul_in_text(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    refuse_nul_in_text(engine)  # PostgreSQL would raise DataError: a 500
    return engine


# -- SQLite: one writer at a time, readers never wait ----------------------------------------
#
# SQLite has one write lock per database. pysqlite's own transaction handling opens a
# DEFERRED transaction before the first INSERT/UPDATE/DELETE only, so a read-modify-write
# (the audit log reads its head, then appends ``seq = size``) read outside the transaction
# and two of them raced. Here the driver's handling is turned off and a transaction starts
# at the first statement that writes, or that reads FOR UPDATE, with BEGIN IMMEDIATE: it
# takes the write lock first, so what it reads next is current and stays so until COMMIT.
# That is PostgreSQL's READ COMMITTED with row locks, with the whole database as the row.
# Plain reads run outside any transaction (WAL readers), so they never wait for a writer.
# Within the process, writers queue first-come first-served on a gate, so one that waits
# gets the lock as soon as the holder commits, instead of polling in SQLite's busy handler
# and losing to a bulk import that commits and begins again at once.

_READS = frozenset({"SELECT", "PRAGMA", "EXPLAIN", "VALUES"})
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "RELEASE"})
_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)


class WriteLockTimeout(OperationalError):
    """A writer waited longer than the busy timeout for SQLite's write lock."""


class WriteGate:
    """A first-come, first-served lock for one SQLite database's writers in this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._owner: object | None = None
        self._owner_thread: int | None = None

    def acquire(self, owner: object, timeout: float) -> bool:
        """Wait in line for the gate; ``False`` if ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._owner is not None or self._queue[0] is not ticket:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                self._owner = owner
                self._owner_thread = threading.get_ident()
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self, owner: object) -> None:
        with self._cond:
            if self._owner is owner:
                self._owner = None
                self._owner_thread = None
                self._cond.notify_all()

    def held_by(self, owner: object) -> bool:
        return self._owner is owner

    def held_by_this_thread(self) -> bool:
        return self._owner is not None and self._owner_thread == threading.get_ident()


_GATES: dict[str, WriteGate] = {}
_GATES_GUARD = threading.Lock()


def _gate_for(engine: Engine) -> WriteGate:
    database = engine.url.database or ""
    key = str(Path(database).resolve()) if database and database != ":memory:" else f"{id(engine)}"
    with _GATES_GUARD:
        return _GATES.setdefault(key, WriteGate())


def _starts_write(statement: str, context: Any) -> bool:
    """Whether ``statement``, run outside a transaction, needs the write lock first."""
    found = _FIRST_WORD.match(statement)
    word = found.group(1).upper() if found else ""
    if word in _TRANSACTION_CONTROL:
        return False
    if word == "SELECT":
        compiled = getattr(context, "compiled", None)
        # SQLite's compiler drops FOR UPDATE; the statement still says the caller will write.
        return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    if word == "WITH":
        return _WRITE_WORDS.search(statement) is not None
    return word not in _READS


def _serialize_sqlite_writers(engine: Engine, busy_timeout_s: float) -> None:
    gate = _gate_for(engine)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _lazy_begin(_conn: Connection) -> None:
        """Nothing yet: the transaction begins at its first write (``_begin_for_write``)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_for_write(
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection is None or dbapi_connection.in_transaction:
            return
        gate.release(dbapi_connection)  # a transaction that ended by other means
        if not conn.in_transaction() or not _starts_write(statement, context):
            return
        # A thread that already holds the gate on another connection would wait for itself:
        # let SQLite's busy timeout answer it instead, as it would without the gate.
        if not gate.held_by_this_thread() and not gate.acquire(dbapi_connection, busy_timeout_s):
            raise WriteLockTimeout(statement, None, sqlite3.OperationalError("database is locked"))
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            gate.release(dbapi_connection)
            raise

    def _end(conn: Connection, finish: str) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection is None:
            return
        try:
            if dbapi_connection.in_transaction:
                getattr(dbapi_connection, finish)()
        finally:
            gate.release(dbapi_connection)

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        _end(conn, "commit")

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        _end(conn, "rollback")

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None and gate.held_by(dbapi_connection):
            if dbapi_connection.in_transaction:
                dbapi_connection.rollback()
            gate.release(dbapi_connection)

    @event.listens_for(engine, "close")
    def _close(dbapi_connection: Any, _record: Any) -> None:
        gate.release(dbapi_connection)


def holds_write_lock(db: Session) -> bool:
    """Whether ``db`` is inside a SQLite write transaction now (always ``False`` elsewhere):
    long transfers check it, since holding the lock through one would stop every writer."""
    bind = db.get_bind()
    if bind.dialect.name != "sqlite" or not db.in_transaction():
        return False
    connection = db.connection()
    dbapi_connection = connection.connection.dbapi_connection
    return bool(dbapi_connection is not None and dbapi_connection.in_transaction)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back whole on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def str_enum(cls: type[Any], length: int = 40) -> Enum:
    """A column type storing a ``StrEnum`` by value, as a plain string on every database."""
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )
