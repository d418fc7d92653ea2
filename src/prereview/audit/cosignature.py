"""Witness cosignatures of checkpoints: C2SP tlog-cosignature, Ed25519 ``cosignature/v1``.

A cosignature is one more signed-note signature line on a checkpoint
(https://c2sp.org/tlog-cosignature)::

    — witness.example/w1 base64(key ID || u64 timestamp || Ed25519 signature)

* the key ID is ``SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]`` (type ``0x04``, so a
  witness key can never be mistaken for a log's ``0x01`` note key);
* the signed message is ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole
  checkpoint body (its final newline included, no signature lines);
* the timestamp is POSIX seconds, big-endian, never zero, at most 2^63 - 1.

Verifier keys are vkeys ``<name>+<hex key ID>+base64(0x04 || public key)``; the secret key file
is ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)``, the shape of Go's note signer keys.
A v1 cosignature does not commit to the witness's name, so one key must serve one witness only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from prereview.audit.checkpoint import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    is_valid_key_name,
    note_key_id,
    parse_key_text,
)
from prereview.audit.errors import CheckpointMalformed, CosignatureInvalid, KeyInvalid

ALG_COSIGNATURE_V1 = 0x04
"""The signature type byte of Ed25519 ``cosignature/v1`` keys."""

MAX_TIMESTAMP = 2**63 - 1
_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE
_SIGNER_PREFIX = "PRIVATE+KEY+"
_BLOB_SIZE = 4 + 8 + 64


def cosignature_key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` as a big-endian integer."""
    return note_key_id(name, ALG_COSIGNATURE_V1, public_key)


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: the header line, the time line, then the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _parse_key(text: str, what: str) -> tuple[str, int, bytes]:
    """``<name>+<hex key ID>+base64(0x04 || 32 bytes)`` -> name, key ID, the 32 bytes."""
    return parse_key_text(
        text,
        f"witness {what}",
        ALG_COSIGNATURE_V1,
        f"The {what} is not an Ed25519 cosignature key (type 0x04 + 32 bytes); a log's "
        "note key (type 0x01) cannot verify cosignatures.",
    )


@dataclass(frozen=True, slots=True)
class Cosignature:
    """One witness's verified cosignature: who, when (POSIX seconds), and its note line."""

    witness: str
    key_id: int
    timestamp: int
    line: str
    """The signature line, ending in a newline."""


class CosignatureVerifier:
    """A witness's public key, as its vkey string names it."""

    __slots__ = ("_key", "_key_id", "_name", "_raw")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        if not is_valid_key_name(name):
            raise KeyInvalid(f"The witness name {name!r} is not a valid key name.")
        self._name = name
        self._key = public_key
        self._raw = public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key_id = cosignature_key_id(name, self._raw)

    @classmethod
    def from_string(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<key ID>+base64(0x04 || key)``; raise ``KeyInvalid``."""
        name, key_id, raw = _parse_key(vkey.strip(), "verifier key")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw))
        if verifier.key_id != key_id:
            raise KeyInvalid(
                f"The key ID {key_id:08x} does not match the witness key; it should be "
                f"{verifier.key_id:08x}."
            )
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def label(self) -> str:
        """``<name>+<key ID>``: how the platform names this witness key in its tables."""
        return f"{self._name}+{self._key_id:08x}"

    def verify(self, body: str, blob: bytes) -> int | None:
        """The timestamp of ``blob`` (key ID || timestamp || signature) if it is this key's
        valid cosignature of ``body``; ``None`` otherwise."""
        if len(blob) != _BLOB_SIZE or int.from_bytes(blob[:4], "big") != self._key_id:
            return None
        timestamp = int.from_bytes(blob[4:12], "big")
        if not 0 < timestamp <= MAX_TIMESTAMP:
            return None
        try:
            self._key.verify(blob[12:], cosigned_message(body, timestamp))
        except InvalidSignature:
            return None
        return timestamp

    def __str__(self) -> str:
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self._raw).decode("ascii")
        return f"{self._name}+{self._key_id:08x}+{material}"

    def __repr__(self) -> str:
        return f"CosignatureVerifier({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CosignatureVerifier) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class Cosigner:
    """A witness's Ed25519 signing key and its name. Holds a secret: never log it."""

    __slots__ = ("_key", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._verifier = CosignatureVerifier(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_string(cls, skey: str) -> Cosigner:
        """Parse ``PRIVATE+KEY+<name>+<key ID>+base64(0x04 || seed)``; raise ``KeyInvalid``."""
        skey = skey.strip()
        if not skey.startswith(_SIGNER_PREFIX):
            raise KeyInvalid("A witness key starts with 'PRIVATE+KEY+'.")
        name, key_id, seed = _parse_key(skey[len(_SIGNER_PREFIX) :], "witness key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.verifier.key_id != key_id:
            raise KeyInvalid(f"The witness key's ID {key_id:08x} does not match its key.")
        return signer

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def verifier(self) -> CosignatureVerifier:
        """The public half: give it to the logs and clients that rely on this witness."""
        return self._verifier

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line (with its newline) of the checkpoint ``body`` at ``timestamp``."""
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise ValueError("a v1 cosignature's timestamp is between 1 and 2^63 - 1")
        signature = self._key.sign(cosigned_message(body, timestamp))
        blob = self._verifier.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"

    def to_string(self) -> str:
        """The secret key in the ``PRIVATE+KEY+...`` format of the key file."""
        seed = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode("ascii")
        return f"{_SIGNER_PREFIX}{self.name}+{self._verifier.key_id:08x}+{material}"

    def __repr__(self) -> str:
        return f"Cosigner(verifier={str(self._verifier)!r})"


# --- Reading the signature lines of a note ---------------------------------------------------


def split_note(note: str) -> tuple[str, list[str]]:
    """A signed note's text (ending in its newline) and its signature lines (each with its
    newline). Raises ``CheckpointMalformed``."""
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise CheckpointMalformed(f"The note is longer than {MAX_NOTE_BYTES} bytes.")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointMalformed("The note has no blank line before its signatures.")
    text, block = note[: split + 1], note[split + 2 :]
    lines = [line + "\n" for line in block[:-1].split("\n")] if block else []
    if not lines or len(lines) > MAX_SIGNATURES:
        raise CheckpointMalformed(f"A note has 1 to {MAX_SIGNATURES} signature lines.")
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointMalformed(
                f"Signature line {number} does not start with an em dash and a space."
            )
    return text, lines


def _line_parts(line: str) -> tuple[str, bytes] | None:
    """A signature line's key name and decoded blob, or ``None`` when it is not well formed."""
    name, sep, sig64 = line[len(_SIG_PREFIX) :].rstrip("\n").partition(" ")
    if not line.startswith(_SIG_PREFIX) or not sep or not is_valid_key_name(name):
        return None
    try:
        blob = base64.b64decode(sig64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return name, blob


def cosignatures_of(
    body: str, lines: Sequence[str], witnesses: Sequence[CosignatureVerifier]
) -> list[Cosignature]:
    """The valid cosignatures of ``body`` among ``lines``, one per witness key at most.

    As the signed-note specification asks, lines of unknown keys are ignored, and a line whose
    name and key ID are a trusted witness's but whose signature fails makes the whole note
    invalid: :class:`CosignatureInvalid` names that witness.
    """
    by_id = {(w.name, w.key_id): w for w in witnesses}
    found: dict[CosignatureVerifier, Cosignature] = {}
    for line in lines:
        parts = _line_parts(line)
        if parts is None or len(parts[1]) < 4:
            continue
        name, blob = parts
        witness = by_id.get((name, int.from_bytes(blob[:4], "big")))
        if witness is None:
            continue
        timestamp = witness.verify(body, blob)
        if timestamp is None:
            raise CosignatureInvalid(
                f"The cosignature by witness {witness.label} does not verify over this "
                "checkpoint: it was made for another checkpoint, or corrupted.",
                witness=witness.label,
            )
        previous = found.get(witness)
        if previous is None or timestamp > previous.timestamp:
            found[witness] = Cosignature(witness.name, witness.key_id, timestamp, line)
    return list(found.values())


def note_cosignatures(note: str, witnesses: Sequence[CosignatureVerifier]) -> list[Cosignature]:
    """The valid witness cosignatures on a signed note (see :func:`cosignatures_of`)."""
    text, lines = split_note(note)
    return cosignatures_of(text, lines, witnesses)
