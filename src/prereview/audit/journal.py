"""The published-checkpoints journal: every checkpoint the server signed, in a file.

The file lives next to the signing key, outside the database, so that whoever can rewrite the
log's tables (and rebuild its hashes, and delete its checkpoint rows) still leaves behind the
checkpoints it signed, for ``prereview audit verify`` to check the log against. One JSON object
per line: ``{"note", "root", "signed_at", "size"}``, the root in standard base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

from prereview.audit.errors import LogMismatch
from prereview.audit.models import AuditCheckpoint

MAX_JOURNAL_LINE = 100_000
"""A longer line is not a checkpoint: refused unread."""


@dataclass(frozen=True, slots=True)
class PublishedCheckpoint:
    """A signed checkpoint found outside the log's tables, and where it was found."""

    size: int
    root: bytes
    note: str
    source: str


def append_to_journal(path: Path, checkpoint: AuditCheckpoint) -> None:
    """Append one published checkpoint to the journal file (JSON lines, created 0600).

    One ``write`` of one line on a file opened ``O_APPEND``, then ``fsync``: concurrent writers
    interleave whole lines. Called after the commit, so the journal never holds a checkpoint
    the database did not store (it may lack one if the process dies in between).
    """
    line = json.dumps(
        {
            "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode("ascii"),
            "note": checkpoint.note,
            "signed_at": checkpoint.signed_at.isoformat(),
        },
        sort_keys=True,
        ensure_ascii=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(path: Path) -> list[PublishedCheckpoint]:
    """Every checkpoint in the journal at ``path`` (none if the file does not exist).

    A last line without its newline is a write cut short by a crash and is skipped; any other
    line that is not a journal record raises :class:`LogMismatch`, since the file is only ever
    appended to by the server.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise LogMismatch(f"Cannot read the checkpoint journal {path}: {exc.strerror}.") from None
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a torn write
    found: list[PublishedCheckpoint] = []
    for number, raw in enumerate(lines, start=1):
        where = f"{path.name} line {number}"
        found.append(_parse_record(raw, where))
    return found


def _parse_record(raw: bytes, where: str) -> PublishedCheckpoint:
    if len(raw) > MAX_JOURNAL_LINE:
        raise LogMismatch(f"The checkpoint journal's {where} is too long to be a checkpoint.")
    try:
        record = json.loads(raw)
        size, root64, note = record["size"], record["root"], record["note"]
        if not isinstance(size, int) or not isinstance(note, str):
            raise TypeError
        root = base64.b64decode(str(root64), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LogMismatch(f"The checkpoint journal's {where} is not a checkpoint record.") from None
    return PublishedCheckpoint(size=size, root=root, note=note, source=f"journal {where}")
