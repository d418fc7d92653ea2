"""Files the platform writes: readable by its own user only, and no leftovers.

Data files (the SQLite database and its WAL and shared-memory files, encrypted blobs, key
files) are created mode 0600 and the folders the platform creates for them 0700, whatever the
process umask. Aborted uploads leave ``.partial`` blobs behind; :func:`sweep_partials` removes
those that nobody has written for a grace period (so an upload still in flight is kept).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
PARTIAL_SUFFIX = ".partial"
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents, each one this creates mode 0700.

    Folders that exist already are left as they are (``/tmp``, a home directory)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by a concurrent writer
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing (created or truncated), mode 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def write_new_private(path: Path, data: bytes) -> None:
    """Create ``path`` exclusively, mode 0600 from the start, and write and sync ``data``.

    Raises :class:`FileExistsError` when the file exists (a key is never clobbered, even by a
    concurrent writer: the caller says what that means); a failed write leaves no file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may only take bits away, but be explicit
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


def replace_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600: under a temporary name in the same
    folder, synced, then renamed into place, so a reader sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        write_new_private(temporary, data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _tighten(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(path, FILE_MODE)
            log.warning("%s was readable by others (mode %o); made it 0600", path, mode)
        except PermissionError:
            log.warning("%s is readable by others (mode %o); chmod 600 it", path, mode)


def secure_sqlite_files(database: str) -> None:
    """Prepare a SQLite database file before the first connection: its folder (0700 where
    created), the file itself created empty with mode 0600, so that SQLite, which gives the WAL
    and shared-memory files the database's own mode, creates them 0600 too. Existing files
    that others can read are tightened to 0600."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        _tighten(path.with_name(path.name + suffix))


def _partials(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(PARTIAL_SUFFIX):
                yield Path(folder) / name


def sweep_partials(root: Path, now: datetime, grace: timedelta) -> list[Path]:
    """Delete the ``.partial`` files under ``root`` last written more than ``grace`` before
    ``now`` (aborted uploads: a live upload writes its file at least once a chunk), and return
    them. Files younger than that are kept."""
    cutoff = (now - grace).timestamp()
    removed: list[Path] = []
    for path in _partials(root):
        try:
            if path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # finished or swept concurrently
        removed.append(path)
    if removed:
        log.info("swept %d aborted upload(s) under %s", len(removed), root)
    return removed


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "PARTIAL_SUFFIX",
    "open_private",
    "private_dir",
    "replace_private",
    "secure_sqlite_files",
    "sweep_partials",
    "write_new_private",
]
