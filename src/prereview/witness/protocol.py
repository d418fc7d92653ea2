"""The wire format of ``add-checkpoint`` (C2SP tlog-witness), both directions.

Request body::

    old <size>\\n
    <base64 consistency proof hash>\\n      (0 to 63 lines)
    \\n
    <signed checkpoint note>

A 200 answer is one or more cosignature lines; a 409 answer is the witness's latest cosigned
size and a newline, as ``text/x.tlog.size``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from prereview.audit.merkle import HASH_SIZE
from prereview.witness.errors import RequestMalformed

MAX_PROOF_LINES = 63
"""A client MUST NOT send more (the proof of a 2^64-leaf tree fits)."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
COSIGNATURE_CONTENT_TYPE = "text/plain; charset=utf-8"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]*)")
_MAX_SIZE = 2**64 - 1


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request: the old size, the proof and the checkpoint note."""

    old: int
    proof: tuple[bytes, ...]
    note: str


def _hash_line(line: str, number: int) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise RequestMalformed(f"Proof line {number} is not base64.") from None
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != line:
        raise RequestMalformed(f"Proof line {number} is not one canonical base64 SHA-256 hash.")
    return raw


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse a request body; raise :class:`RequestMalformed` (400) for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestMalformed("The request body is not UTF-8.") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise RequestMalformed("The request has no blank line before the checkpoint.")
    old_line, *proof_lines = head.split("\n")
    matched = _OLD_RE.fullmatch(old_line)
    if matched is None:
        raise RequestMalformed(
            "The first line must be 'old <size>', the size in decimal without leading zeros."
        )
    old = int(matched.group(1))
    if old > _MAX_SIZE:
        raise RequestMalformed(f"The old size {old} does not fit in 64 bits.")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise RequestMalformed(f"The request has more than {MAX_PROOF_LINES} proof lines.")
    proof = tuple(_hash_line(line, n) for n, line in enumerate(proof_lines, start=1))
    return AddCheckpoint(old, proof, note)
