"""Signed checkpoints of the audit log.

A checkpoint is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) carried in a C2SP
signed note (https://c2sp.org/signed-note) signed with Ed25519::

    prereview.example/audit
    1234
    <base64 of the 32-byte RFC 9162 root>

    — prereview.example/audit <base64 of 4-byte key ID || 64-byte Ed25519 signature>

The key ID is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``, and keys travel in the
formats of Go's ``golang.org/x/mod/sumdb/note`` (which the C2SP specification grew from):

* verifier key: ``<name>+<8 hex digits of key ID>+<base64(0x01 || 32-byte public key)>``;
* signer key: ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte seed)>`` (a secret).

So notes signed here open with Go's note package, witnesses and tlog tools, and theirs here
(the tests check Go's published keys and notes byte for byte). Written by hand on
``cryptography``: the Python code that reads signed notes is either private to another tool
(sigstore's Rekor checkpoint check, verify-only) or in new, little-used packages, and the
format is small and exactly specified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from prereview.audit.errors import (
    CheckpointInvalid,
    CheckpointMalformed,
    CheckpointSignatureInvalid,
    CheckpointUnverified,
    KeyInvalid,
)
from prereview.audit.merkle import HASH_SIZE
from prereview.core.files import replace_private, write_new_private

ALG_ED25519 = 0x01
"""The signed-note signature type byte of Ed25519."""

MAX_SIGNATURES = 100
"""Signature lines accepted in one note (the specification asks for at least 16)."""

MAX_NOTE_BYTES = 1_000_000
"""Notes longer than this are refused unread."""

_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE
_SIGNER_PREFIX = "PRIVATE+KEY+"
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = 2**64 - 1


def _b64decode(text: str, what: str, error: type[Exception]) -> bytes:
    """Strict standard base64: alphabet, padding and canonical trailing bits."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"The {what} is not valid base64.") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"The {what} is not in canonical base64.")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty, has no Unicode space and no ``+`` (signed-note spec)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _require_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise KeyInvalid(
            f"The key name {name!r} is not valid: it must be non-empty, with no spaces and no '+'."
        )


def note_key_id(name: str, algorithm: int, public_key: bytes) -> int:
    """A signed-note key's ID: ``SHA-256(name || 0x0A || algorithm || public key)[:4]``,
    big-endian (0x01 for a log's Ed25519 key, 0x04 for a witness's cosignature key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([algorithm]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def key_id(name: str, public_key: bytes) -> int:
    """The Ed25519 note key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    return note_key_id(name, ALG_ED25519, public_key)


def parse_key_text(text: str, what: str, algorithm: int, wrong_type: str) -> tuple[str, int, bytes]:
    """``<name>+<hex key ID>+base64(algorithm || 32 bytes)`` -> name, key ID, the 32 bytes.

    The one parser of the key strings of signed notes, for note keys and cosignature keys,
    public or secret (after ``PRIVATE+KEY+``); ``wrong_type`` is the message when the type
    byte is another algorithm's. Raises ``KeyInvalid``."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyInvalid(f"A {what} has the form <name>+<key ID>+<key>.")
    name, id_hex, key64 = parts
    _require_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise KeyInvalid(f"The {what}'s ID {id_hex!r} is not 8 lowercase hex digits.")
    material = _b64decode(key64, what, KeyInvalid)
    if len(material) != 33 or material[0] != algorithm:
        raise KeyInvalid(wrong_type)
    return name, int(id_hex, 16), material[1:]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class NoteVerifier:
    """A trusted Ed25519 note key: its name, its key ID and its public key.

    Build one from the verifier key string with :meth:`from_string`; ``str()`` gives it back.
    """

    __slots__ = ("_key", "_key_id", "_name", "_raw")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        _require_key_name(name)
        self._name = name
        self._key = public_key
        self._raw = _raw_public(public_key)
        self._key_id = key_id(name, self._raw)

    @classmethod
    def from_string(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``; raise ``KeyInvalid``."""
        name, id_number, raw = parse_key_text(
            vkey,
            "verifier key",
            ALG_ED25519,
            "The verifier key is not an Ed25519 note key (0x01 + 32 bytes).",
        )
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw))
        if verifier.key_id != id_number:
            raise KeyInvalid(
                f"The key ID {id_number:08x} does not match the key; it should be "
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
    def public_key(self) -> Ed25519PublicKey:
        return self._key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, no key ID) is this key's over ``message``."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        material = _b64encode(bytes([ALG_ED25519]) + self._raw)
        return f"{self._name}+{self._key_id:08x}+{material}"

    def __repr__(self) -> str:
        return f"NoteVerifier({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoteVerifier) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class NoteSigner:
    """An Ed25519 note signing key and the name it signs under. Holds a secret: never log it."""

    __slots__ = ("_key", "_name", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _require_key_name(name)
        self._name = name
        self._key = private_key
        self._verifier = NoteVerifier(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A fresh random key for ``name`` (for example the log's origin)."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_string(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`` (Go's format)."""
        skey = skey.strip()
        if not skey.startswith(_SIGNER_PREFIX):
            raise KeyInvalid("A signer key starts with 'PRIVATE+KEY+'.")
        name, id_number, seed = parse_key_text(
            skey[len(_SIGNER_PREFIX) :],
            "signer key",
            ALG_ED25519,
            "The signer key is not an Ed25519 note key (0x01 + 32 bytes).",
        )
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.key_id != id_number:
            raise KeyInvalid(f"The signer key's ID {id_number:08x} does not match its key.")
        return signer

    @classmethod
    def from_pem(cls, name: str, pem: bytes) -> NoteSigner:
        """Load an unencrypted PKCS#8 PEM Ed25519 private key to sign as ``name``."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise KeyInvalid("The PEM data is not an unencrypted private key.") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyInvalid("The PEM key is not an Ed25519 key.")
        return cls(name, key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def verifier(self) -> NoteVerifier:
        """The public half, to publish so that anyone can check checkpoints."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``message``."""
        return self._key.sign(message)

    def to_string(self) -> str:
        """The secret signer key in Go's ``PRIVATE+KEY+...`` format."""
        seed = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        material = _b64encode(bytes([ALG_ED25519]) + seed)
        return f"{_SIGNER_PREFIX}{self._name}+{self.key_id:08x}+{material}"

    def to_pem(self) -> bytes:
        """The secret key as unencrypted PKCS#8 PEM (the name is not included)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"NoteSigner(verifier={str(self._verifier)!r})"


# --- Key files --------------------------------------------------------------------------------


def write_signer_key(
    path: str | os.PathLike[str], signer: NoteSigner, *, overwrite: bool = False
) -> None:
    """Write ``signer`` in Go's signer-key format to a file only its owner can read (0600).

    Without ``overwrite`` the file is created exclusively, so an existing key is never
    replaced, even by a concurrent writer. With it, the key is written under a temporary name in
    the same folder and renamed into place, so a reader never sees half a key.
    """
    target = Path(path)
    data = (signer.to_string() + "\n").encode("ascii")
    if overwrite:
        replace_private(target, data)
        return
    try:
        write_new_private(target, data)
    except FileExistsError:
        raise KeyInvalid(f"{target} already exists; refusing to overwrite a signing key.") from None


def read_signer_key(path: str | os.PathLike[str], *, name: str | None = None) -> NoteSigner:
    """Load a signer key file: Go's ``PRIVATE+KEY+...`` line, or a PKCS#8 PEM with ``name``.

    Refuses a file that its group or others can read or write, as ssh does: the key signs the
    log's history.
    """
    source = Path(path)
    try:
        mode = source.stat().st_mode
        data = source.read_bytes()
    except OSError as exc:
        raise KeyInvalid(f"Cannot read the signing key {source}: {exc.strerror}.") from None
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyInvalid(
            f"The signing key {source} is accessible to other users "
            f"(mode {stat.S_IMODE(mode):04o}); run 'chmod 600 {source}'."
        )
    if data.lstrip().startswith(b"-----BEGIN"):
        if name is None:
            raise KeyInvalid("A PEM signing key needs the key name to sign under.")
        return NoteSigner.from_pem(name, data)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyInvalid(f"The signing key {source} is not a signer key or PEM.") from None
    signer = NoteSigner.from_string(text)
    if name is not None and signer.name != name:
        raise KeyInvalid(f"The signing key {source} is for {signer.name!r}, not {name!r}.")
    return signer


# --- Signed notes -----------------------------------------------------------------------------


def _check_note_chars(text: str, what: str) -> None:
    if any(ch < " " and ch != "\n" for ch in text):
        raise CheckpointMalformed(f"The {what} contains a control character other than newline.")


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign ``text`` (which must end in a newline) with each signer: a C2SP signed note."""
    if not text.endswith("\n"):
        raise CheckpointMalformed("A note's text must end with a newline.")
    _check_note_chars(text, "note text")
    if not signers:
        raise ValueError("a signed note needs at least one signer")
    message = text.encode("utf-8")
    lines = [
        f"{_SIG_PREFIX}{s.name} {_b64encode(s.key_id.to_bytes(4, 'big') + s.sign(message))}\n"
        for s in signers
    ]
    return text + "\n" + "".join(lines)


def open_note(note: str, verifier: NoteVerifier) -> str:
    """Check a signed note against one trusted key and return its text.

    Following the signed-note specification: signatures by other keys are ignored (they may be
    witnesses' cosignatures); every signature by the trusted key must verify; at least one must
    be present. Raises ``CheckpointMalformed``, ``CheckpointSignatureInvalid`` or
    ``CheckpointUnverified``.
    """
    try:
        encoded = note.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointMalformed("The note is not valid UTF-8.") from None
    if len(encoded) > MAX_NOTE_BYTES:
        raise CheckpointMalformed(f"The note is longer than {MAX_NOTE_BYTES} bytes.")
    _check_note_chars(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointMalformed("The note has no blank line before its signatures.")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise CheckpointMalformed("The note has no signature line, or does not end in a newline.")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointMalformed(f"The note has more than {MAX_SIGNATURES} signatures.")
    message = text.encode("utf-8")
    verified = 0
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointMalformed(
                f"Signature line {number} does not start with an em dash and a space."
            )
        name, sep, sig64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not is_valid_key_name(name) or not sig64:
            raise CheckpointMalformed(
                f"Signature line {number} is not '— <key name> <base64 signature>'."
            )
        blob = _b64decode(sig64, f"signature on line {number}", CheckpointMalformed)
        if len(blob) < 5:
            raise CheckpointMalformed(f"The signature on line {number} is too short.")
        if name != verifier.name or int.from_bytes(blob[:4], "big") != verifier.key_id:
            continue  # another key's signature: ignored, as the specification requires
        if not verifier.verify(message, blob[4:]):
            raise CheckpointSignatureInvalid(
                f"The signature by {verifier.name} (key ID {verifier.key_id:08x}) on line "
                f"{number} does not verify: the note was changed after signing, or the "
                "signature is corrupt.",
            )
        verified += 1
    if not verified:
        raise CheckpointUnverified(
            f"The note has no signature by the trusted key {verifier.name} "
            f"(key ID {verifier.key_id:08x})."
        )
    return text


# --- Checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 9162 root, plus optional extension lines.

    Validated on construction, so an instance always has a well-formed body.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointMalformed("The checkpoint's origin must be one non-empty line.")
        _check_note_chars(self.origin, "checkpoint origin")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointMalformed(f"The tree size {self.size} is out of range.")
        if len(self.root) != HASH_SIZE:
            raise CheckpointMalformed(
                f"The checkpoint's root is {len(self.root)} bytes; a SHA-256 root is 32."
            )
        for line in self.extensions:
            if not line or "\n" in line:
                raise CheckpointMalformed("Each extension line must be one non-empty line.")
            _check_note_chars(line, "extension line")

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` and any extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (the note text); raise ``CheckpointMalformed``."""
        if not text.endswith("\n"):
            raise CheckpointMalformed("The checkpoint text must end with a newline.")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointMalformed(
                "A checkpoint has at least three lines: origin, tree size and root hash."
            )
        origin, size_text, root64, *extensions = lines
        if not origin:
            raise CheckpointMalformed("The checkpoint's origin line is empty.")
        if not _SIZE_RE.fullmatch(size_text):
            raise CheckpointMalformed(
                f"The tree size {size_text!r} is not a decimal number without leading zeros."
            )
        size = int(size_text)
        if size > _MAX_TREE_SIZE:
            raise CheckpointMalformed(f"The tree size {size} does not fit in 64 bits.")
        root_hash = _b64decode(root64, "root hash", CheckpointMalformed)
        if any(not line for line in extensions):
            raise CheckpointMalformed("The checkpoint has an empty extension line.")
        return cls(origin, size, root_hash, tuple(extensions))


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    signer: NoteSigner,
    *,
    extensions: tuple[str, ...] = (),
) -> str:
    """The signed note of the checkpoint ``(origin, size, root)``, signed by ``signer``.

    The C2SP checkpoint specification asks that the key name match the origin; a mismatch is
    allowed (the caller may have reasons) but is usually a configuration mistake.
    """
    return sign_note(Checkpoint(origin, size, root, extensions).body(), signer)


def parse_and_verify_checkpoint(
    note: str, verifier_key: NoteVerifier | str, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against the trusted key and return what it states.

    ``verifier_key`` is a :class:`NoteVerifier` or its string form. With ``origin``, the
    checkpoint must also be for that log. Raises ``KeyInvalid`` for a malformed key and a
    ``CheckpointInvalid`` subclass for everything wrong with the note: malformed, a bad
    signature, or no signature by that key.
    """
    verifier = (
        verifier_key
        if isinstance(verifier_key, NoteVerifier)
        else NoteVerifier.from_string(verifier_key)
    )
    checkpoint = Checkpoint.from_body(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointInvalid(
            f"The checkpoint is for the log {checkpoint.origin!r}, not for {origin!r}."
        )
    return checkpoint
