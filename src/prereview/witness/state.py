"""The witness's durable state: the latest checkpoint it cosigned for each log.

A small SQLite file of the witness's own (the witness is a separate program, not the
platform's database). Checking a request against the latest checkpoint and recording the new
one happen in one ``BEGIN IMMEDIATE`` transaction, behind a per-origin lock: two concurrent
requests from the same old size cannot both succeed, and a smaller checkpoint can never
overwrite a larger one (the race that C2SP tlog-witness warns of). ``synchronous=FULL`` makes a
commit durable before the cosignature is returned.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prereview.core.files import private_dir

_SCHEMA = (
    # Sizes are up to 2^64 - 1, beyond SQLite's signed integers: kept as decimal text.
    "CREATE TABLE IF NOT EXISTS cosigned ("
    " origin TEXT PRIMARY KEY, size TEXT NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,"
    " cosigned_at INTEGER NOT NULL)",
    # Validly signed checkpoints that failed a consistency check: evidence of a misbehaving log.
    "CREATE TABLE IF NOT EXISTS refused ("
    " id INTEGER PRIMARY KEY, origin TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,"
    " note TEXT NOT NULL)",
)
MAX_REFUSED_KEPT = 10_000
"""Refusals kept per origin; the oldest go first, so a noisy log cannot fill the disk."""


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest checkpoint cosigned for one log: its size, root and the cosigned note."""

    size: int
    root: bytes
    note: str
    cosigned_at: int


class Transaction:
    """One origin's state inside its lock and an immediate SQLite transaction."""

    def __init__(self, connection: sqlite3.Connection, origin: str) -> None:
        self._connection = connection
        self.origin = origin

    def latest(self) -> Latest | None:
        row = self._connection.execute(
            "SELECT size, root, note, cosigned_at FROM cosigned WHERE origin = ?", (self.origin,)
        ).fetchone()
        if row is None:
            return None
        return Latest(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))

    def record(self, size: int, root: bytes, note: str, at: int) -> None:
        """Make (``size``, ``root``) the latest cosigned checkpoint of this origin."""
        self._connection.execute(
            "INSERT INTO cosigned (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,"
            " note = excluded.note, cosigned_at = excluded.cosigned_at",
            (self.origin, str(size), root, note, at),
        )


class WitnessState:
    """The state file at ``path`` (created 0600 in a 0700 folder if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        with contextlib.closing(self._connect()) as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
        path.chmod(0o600)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def _lock(self, origin: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(origin, threading.Lock())

    @contextlib.contextmanager
    def transaction(self, origin: str) -> Iterator[Transaction]:
        """The state of ``origin``, locked (in this process and, by SQLite, in any other)
        until the block ends; committed if it ends normally, rolled back otherwise."""
        with self._lock(origin), contextlib.closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(connection, origin)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def latest(self, origin: str) -> Latest | None:
        """The latest cosigned checkpoint of ``origin`` (a plain read)."""
        with contextlib.closing(self._connect()) as connection:
            return Transaction(connection, origin).latest()

    def origins(self) -> list[str]:
        with contextlib.closing(self._connect()) as connection:
            return [row[0] for row in connection.execute("SELECT origin FROM cosigned")]

    def log_refusal(self, origin: str, at: int, reason: str, note: str) -> None:
        """Keep a validly signed checkpoint that failed a check (the specification's MAY)."""
        with contextlib.closing(self._connect()) as connection:
            connection.execute(
                "INSERT INTO refused (origin, at, reason, note) VALUES (?, ?, ?, ?)",
                (origin, at, reason, note),
            )
            connection.execute(
                "DELETE FROM refused WHERE origin = ? AND id NOT IN"
                " (SELECT id FROM refused WHERE origin = ? ORDER BY id DESC LIMIT ?)",
                (origin, origin, MAX_REFUSED_KEPT),
            )

    def refusals(self, origin: str) -> list[tuple[int, str, str]]:
        """The kept refusals of ``origin``: (time, reason, note), oldest first."""
        with contextlib.closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT at, reason, note FROM refused WHERE origin = ? ORDER BY id", (origin,)
            )
            return [(int(a), str(r), str(n)) for a, r, n in rows]
