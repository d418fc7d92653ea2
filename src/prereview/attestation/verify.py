"""Check a participation attestation offline: the envelope, the log's checkpoint, every proof,
and every figure.

Self-contained so that a procurement system can embed it: it imports only the standard
library, ``cryptography`` and its sibling :mod:`prereview.attestation.figures` (standard
library only), nothing else of the platform, and needs no server. Checks, in order, each
raising its own :class:`VerificationFailed` subclass with a message that names what failed:

1. the DSSE envelope (https://github.com/secure-systems-lab/dsse) is well formed and carries a
   signature by the platform's attestation key (Ed25519) that verifies over
   ``PAE(payloadType, payload)``: :class:`WrongKey`, :class:`SignatureInvalid`;
2. the payload is an in-toto Statement v1 of the participation predicate:
   :class:`StatementInvalid`;
3. the audit log checkpoint it carries is a C2SP signed note whose signature by the log's key
   verifies: :class:`CheckpointInvalid`;
4. each audit entry it carries is in the tree of that checkpoint (RFC 9162 inclusion proof):
   :class:`ProofInvalid`;
5. the figures, recomputed from those entries, are the ones stated, and the subject's digests
   are the ones the predicate names: :class:`FiguresMismatch`.

What it cannot check: that the platform included every entry about the submission (a log that
left out a finding would need its own witnesses to be caught); that rests on the attestation
key's signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from prereview.attestation.figures import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    FiguresInvalid,
    figures,
)

__all__ = [
    "CheckpointInvalid",
    "EnvelopeMalformed",
    "FiguresMismatch",
    "ProofInvalid",
    "SignatureInvalid",
    "StatementInvalid",
    "VerificationFailed",
    "Verified",
    "WrongKey",
    "key_id",
    "load_public_key",
    "pae",
    "verify_attestation",
    "verify_checkpoint_note",
    "verify_inclusion",
]


class VerificationFailed(Exception):
    """An attestation that does not verify; ``what`` names the check that failed."""

    what = "attestation"

    def __str__(self) -> str:
        return f"{self.what}: {super().__str__()}"


class EnvelopeMalformed(VerificationFailed):
    what = "envelope"


class WrongKey(VerificationFailed):
    what = "key"


class SignatureInvalid(VerificationFailed):
    what = "signature"


class StatementInvalid(VerificationFailed):
    what = "statement"


class CheckpointInvalid(VerificationFailed):
    what = "checkpoint"


class ProofInvalid(VerificationFailed):
    what = "proof"


class FiguresMismatch(VerificationFailed):
    what = "figures"


# --- Keys and the DSSE envelope ---------------------------------------------------------------


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """The platform's attestation key from its PEM (SubjectPublicKeyInfo) text."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw.strip() + b"\n")
    except (ValueError, TypeError):
        raise WrongKey("The attestation key is not a PEM public key.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise WrongKey("The attestation key is not an Ed25519 key.")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """The key's DSSE ``keyid``: the lowercase hex SHA-256 of its DER SubjectPublicKeyInfo."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: what the signature is over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _b64(text: object, what: str, error: type[VerificationFailed]) -> bytes:
    if not isinstance(text, str):
        raise error(f"The {what} is not a base64 string.")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"The {what} is not valid base64.") from None


def _open_envelope(envelope: object, key: Ed25519PublicKey) -> bytes:
    """The payload of a DSSE envelope signed by ``key``; raises what failed."""
    if not isinstance(envelope, Mapping):
        raise EnvelopeMalformed("The attestation is not a JSON object (a DSSE envelope).")
    for name in ("payload", "payloadType", "signatures"):
        if name not in envelope:
            raise EnvelopeMalformed(f"The DSSE envelope has no '{name}'.")
    payload_type = envelope["payloadType"]
    if payload_type != PAYLOAD_TYPE:
        raise EnvelopeMalformed(
            f"The envelope's payloadType is {payload_type!r}, not {PAYLOAD_TYPE!r}."
        )
    payload = _b64(envelope["payload"], "envelope's payload", EnvelopeMalformed)
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeMalformed("The DSSE envelope carries no signature.")
    wanted = key_id(key)
    message = pae(payload_type, payload)
    ours = [s for s in signatures if isinstance(s, Mapping) and s.get("keyid") == wanted]
    if not ours:
        seen = ", ".join(str(s.get("keyid")) for s in signatures if isinstance(s, Mapping))
        raise WrongKey(
            f"The envelope is not signed by the attestation key given (keyid {wanted}); its "
            f"signatures are by {seen or 'no named key'}. Check that you have the platform's "
            "current attestation key."
        )
    for signature in ours:
        raw = _b64(signature.get("sig"), "envelope's signature", SignatureInvalid)
        try:
            key.verify(raw, message)
        except InvalidSignature:
            raise SignatureInvalid(
                f"The envelope's signature by key {wanted} does not verify over its payload: "
                "the statement was changed after signing, or the signature is corrupt."
            ) from None
    return payload


# --- The audit log's checkpoint (C2SP signed note) and proofs -------------------------------

_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE


@dataclass(frozen=True, slots=True)
class _NoteKey:
    name: str
    key_id: int
    key: Ed25519PublicKey


def _note_key(vkey: str) -> _NoteKey:
    """A C2SP note verifier key ``<name>+<8 hex key ID>+<base64(0x01 || 32-byte key)>``."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise CheckpointInvalid("The log's verifier key is not <name>+<key ID>+<key>.")
    name, id_hex, key64 = parts
    material = _b64(key64, "log's verifier key", CheckpointInvalid)
    if len(material) != 33 or material[0] != 0x01:
        raise CheckpointInvalid("The log's verifier key is not an Ed25519 note key.")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + material).digest()
    if int.from_bytes(digest[:4], "big") != int(id_hex, 16):
        raise CheckpointInvalid(f"The log's key ID {id_hex} does not match its key.")
    return _NoteKey(name, int(id_hex, 16), Ed25519PublicKey.from_public_bytes(material[1:]))


def verify_checkpoint_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a signed checkpoint against the log's key; its ``(origin, size, root)``.

    Signatures by other keys (witnesses' cosignatures) are ignored, as the signed-note
    specification says; at least one by the log's key must be there, and all of its verify.
    """
    key = _note_key(vkey)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointInvalid("The checkpoint is not a signed note (text, blank line, lines).")
    text, block = note[: split + 1], note[split + 2 : -1]
    message = text.encode("utf-8")
    verified = 0
    for line in block.split("\n"):
        name, _, sig64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        if not line.startswith(_SIG_PREFIX) or not sig64:
            raise CheckpointInvalid(f"The checkpoint's signature line {line!r} is malformed.")
        blob = _b64(sig64, "checkpoint's signature", CheckpointInvalid)
        if name != key.name or len(blob) < 4 or int.from_bytes(blob[:4], "big") != key.key_id:
            continue
        try:
            key.key.verify(blob[4:], message)
        except InvalidSignature:
            raise CheckpointInvalid(
                f"The checkpoint's signature by the log key {key.name} does not verify: the "
                "checkpoint was changed after signing, or the signature is corrupt."
            ) from None
        verified += 1
    if not verified:
        raise CheckpointInvalid(f"The checkpoint carries no signature by the log key {key.name}.")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise CheckpointInvalid("The checkpoint's text is not origin, tree size and root.")
    root = _b64(lines[2], "checkpoint's root hash", CheckpointInvalid)
    if len(root) != 32:
        raise CheckpointInvalid("The checkpoint's root hash is not 32 bytes.")
    return lines[0], int(lines[1]), root


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2, step by step; interior nodes are ``SHA-256(0x01 || l || r)``.
    The hot loop of the verifier, so the hash is bound locally and nodes hashed inline.
    """
    if not 0 <= index < size:
        return False
    sha256 = hashlib.sha256
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0 or len(p) != 32:
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            while fn != 0 and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- The whole attestation --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verified:
    """What a verified attestation states, and the checkpoint its evidence rests on."""

    statement: dict[str, Any]
    checkpoint_origin: str
    checkpoint_size: int
    checkpoint_root: bytes
    entries: int

    @property
    def predicate(self) -> dict[str, Any]:
        predicate: dict[str, Any] = self.statement["predicate"]
        return predicate


def _statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise StatementInvalid("The payload is not JSON.") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise StatementInvalid(f"The payload is not an in-toto Statement ({STATEMENT_TYPE}).")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise StatementInvalid(
            f"The predicate type is {statement.get('predicateType')!r}, not {PREDICATE_TYPE!r}."
        )
    predicate = statement.get("predicate")
    subjects = statement.get("subject")
    if not isinstance(predicate, dict) or not isinstance(subjects, list) or not subjects:
        raise StatementInvalid("The statement has no predicate object or no subject.")
    for name in ("submissionId", "evidence", "digests", "access"):
        if name not in predicate:
            raise StatementInvalid(f"The predicate has no '{name}'.")
    return statement


def _entries(
    evidence: Mapping[str, Any], size: int, root: bytes
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Each carried entry's leaf, checked against the checkpoint; and its text by seq."""
    entries = evidence.get("entries")
    if not isinstance(entries, list) or not entries:
        raise StatementInvalid("The evidence carries no audit log entries.")
    leaves: list[dict[str, Any]] = []
    texts: dict[int, str] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("leaf"), str):
            raise StatementInvalid(f"Evidence entry {position} has no leaf text.")
        seq, text = entry.get("seq"), entry["leaf"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise StatementInvalid(f"Evidence entry {position} has no integer seq.")
        if seq in texts:  # counted twice, it would inflate the figures it backs
            raise StatementInvalid(f"Entry {seq} is carried twice.")
        proof = entry.get("proof")
        if not isinstance(proof, list):
            raise StatementInvalid(f"Evidence entry {seq} has no proof.")
        hashes = [_b64(p, f"proof of entry {seq}", ProofInvalid) for p in proof]
        leaf_hash = hashlib.sha256(b"\x00" + text.encode("utf-8")).digest()
        if not verify_inclusion(leaf_hash, seq, size, hashes, root):
            raise ProofInvalid(
                f"The inclusion proof of entry {seq} does not lead to the checkpoint's root "
                f"{root.hex()} (tree size {size}): the entry or its proof was changed."
            )
        try:
            leaf = json.loads(text)
        except ValueError:
            raise StatementInvalid(f"Entry {seq}'s leaf is not JSON.") from None
        if not isinstance(leaf, dict) or leaf.get("seq") != seq:
            raise ProofInvalid(f"Entry {seq}'s leaf records another position in the log.")
        leaves.append(leaf)
        texts[seq] = text
    return leaves, texts


def _first_difference(path: str, stated: Any, computed: Any) -> str | None:
    """The first path at which two JSON values differ, as ``a.b[2]``; None if they are equal."""
    if isinstance(stated, Mapping) and isinstance(computed, Mapping):
        for name in sorted(set(stated) | set(computed)):
            found = _first_difference(
                f"{path}.{name}" if path else name, stated.get(name), computed.get(name)
            )
            if found:
                return found
        return None
    if isinstance(stated, list) and isinstance(computed, list) and len(stated) == len(computed):
        for i, (a, b) in enumerate(zip(stated, computed, strict=True)):
            found = _first_difference(f"{path}[{i}]", a, b)
            if found:
                return found
        return None
    if stated != computed or type(stated) is not type(computed):
        return (
            f"{path}: the statement says {json.dumps(stated)}, the entries it carries give "
            f"{json.dumps(computed)}"
        )
    return None


def _check_figures(statement: Mapping[str, Any], leaves: list[dict[str, Any]]) -> None:
    predicate = statement["predicate"]
    declared = {
        str(d.get("of")): str(d.get("sha256")) for d in predicate["digests"] if isinstance(d, dict)
    }
    named = {
        str(org.get("id")): str(org.get("name"))
        for group in ("agencies", "partners")
        for org in predicate["access"].get(group, {}).get("named", [])
        if isinstance(org, dict)
    }
    naming = any("named" in group for group in predicate["access"].values())
    try:
        computed = figures(
            str(predicate["submissionId"]),
            leaves,
            declared_digests=declared,
            names=named if naming else None,
        )
    except (FiguresInvalid, KeyError, TypeError, ValueError) as exc:
        raise FiguresMismatch(f"The entries it carries do not add up: {exc}") from None
    stated = {name: predicate.get(name) for name in computed}
    difference = _first_difference("", stated, computed)
    if difference:
        raise FiguresMismatch(difference)


def _check_subject(statement: Mapping[str, Any], texts: Mapping[int, str]) -> None:
    """The subject's digests are the named ones, or else the submission record's entry."""
    predicate = statement["predicate"]
    wanted = sorted(d["sha256"] for d in predicate["digests"] if isinstance(d, dict))
    if not wanted:
        record = predicate.get("submissionEntry")
        if not isinstance(record, int) or record not in texts:
            raise FiguresMismatch("The statement names no digest and no submission entry.")
        wanted = [hashlib.sha256(texts[record].encode("utf-8")).hexdigest()]
    found = sorted(
        str(s.get("digest", {}).get("sha256")) for s in statement["subject"] if isinstance(s, dict)
    )
    if found != wanted:
        raise FiguresMismatch(
            f"subject: its digests {found} are not the ones the predicate names {wanted}."
        )


def verify_attestation(
    envelope: Mapping[str, Any] | bytes | str,
    attestation_key: Ed25519PublicKey | bytes | str,
    *,
    audit_key: str | None = None,
) -> Verified:
    """Verify an attestation (a DSSE envelope, parsed or as JSON text) with the platform's key.

    ``attestation_key`` is the Ed25519 public key or its PEM. With ``audit_key`` (a C2SP note
    verifier key), the checkpoint must be signed by that key, not only by the one the
    attestation names. Raises a :class:`VerificationFailed` subclass naming what failed.
    """
    if isinstance(envelope, bytes | str):
        try:
            envelope = json.loads(envelope)
        except (UnicodeDecodeError, ValueError):
            raise EnvelopeMalformed("The attestation is not JSON.") from None
    key = (
        attestation_key
        if isinstance(attestation_key, Ed25519PublicKey)
        else load_public_key(attestation_key)
    )
    statement = _statement(_open_envelope(envelope, key))
    evidence = statement["predicate"]["evidence"]
    log = evidence.get("log") if isinstance(evidence, Mapping) else None
    if not isinstance(log, Mapping) or not all(
        isinstance(log.get(name), str) for name in ("checkpoint", "verifierKey", "origin")
    ):
        raise StatementInvalid("The evidence names no checkpoint, log key and origin.")
    if audit_key is not None and audit_key.strip() != log["verifierKey"]:
        raise CheckpointInvalid(
            f"The checkpoint is vouched for by the log key {log['verifierKey']}, not by the "
            f"one you trust ({audit_key.strip()})."
        )
    origin, size, root = verify_checkpoint_note(log["checkpoint"], log["verifierKey"])
    if origin != log["origin"]:
        raise CheckpointInvalid(f"The checkpoint is for the log {origin!r}, not {log['origin']!r}.")
    try:
        leaves, texts = _entries(evidence, size, root)
        _check_figures(statement, leaves)
        _check_subject(statement, texts)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A signed statement of another shape: still a failure that names itself, not a crash.
        raise StatementInvalid(
            f"The predicate does not have the published shape ({exc!r})."
        ) from None
    return Verified(statement, origin, size, root, len(leaves))
