"""Signed checkpoints: C2SP signed-note and tlog-checkpoint, against published vectors.

Known answers come from Go's golang.org/x/mod/sumdb/note (the PeterNeumann key and note, and
the EnochRoot key, which Go's example derives from an all-zero seed) and from a C2SP
signed-note example. Ed25519 is deterministic (RFC 8032), so signing the same text with the
same key must give Go's note byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from prereview.audit.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_and_verify_checkpoint,
    read_signer_key,
    sign_checkpoint,
    sign_note,
    write_signer_key,
)
from prereview.audit.errors import (
    CheckpointInvalid,
    CheckpointMalformed,
    CheckpointSignatureInvalid,
    CheckpointUnverified,
    KeyInvalid,
)
from prereview.core.errors import PrereviewError

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_LINE = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_LINE = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ORIGIN = "prereview.example/audit"
ROOT = hashlib.sha256(b"some root").digest()


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


def enoch() -> NoteSigner:
    return NoteSigner("EnochRoot", Ed25519PrivateKey.from_private_bytes(bytes(32)))


# --- Known answers --------------------------------------------------------------------------


def test_go_signer_key_gives_go_verifier_key_and_note() -> None:
    peter = NoteSigner.from_string(PETER_SKEY)
    assert str(peter.verifier) == PETER_VKEY
    assert peter.key_id == 0xC74F20A3
    assert peter.to_string() == PETER_SKEY
    assert sign_note(GO_TEXT, peter) == GO_TEXT + "\n" + PETER_LINE


def test_go_doubly_signed_note() -> None:
    assert str(enoch().verifier) == ENOCH_VKEY
    note = sign_note(GO_TEXT, NoteSigner.from_string(PETER_SKEY), enoch())
    assert note == GO_TEXT + "\n" + PETER_LINE + ENOCH_LINE
    # Each key verifies its own signature and ignores the other's.
    assert open_note(note, NoteVerifier.from_string(PETER_VKEY)) == GO_TEXT
    assert open_note(note, NoteVerifier.from_string(ENOCH_VKEY)) == GO_TEXT
    assert open_note(GO_TEXT + "\n" + ENOCH_LINE + PETER_LINE, enoch().verifier) == GO_TEXT


def test_c2sp_example_note_verifies() -> None:
    assert open_note(C2SP_NOTE, NoteVerifier.from_string(C2SP_VKEY)) == (
        "This is an example message.\n"
    )


def test_verifier_key_round_trips() -> None:
    for vkey in (PETER_VKEY, ENOCH_VKEY, C2SP_VKEY):
        verifier = NoteVerifier.from_string(vkey)
        assert str(verifier) == vkey
        assert verifier == NoteVerifier.from_string(vkey)
        assert repr(verifier) == f"NoteVerifier({vkey!r})"


def test_mangled_verifier_keys_are_rejected() -> None:
    """As Go's TestNewVerifier: every proper substring and every one-character change fails."""
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(KeyInvalid):
                    NoteVerifier.from_string(PETER_VKEY[i:j])
    for i, ch in enumerate(PETER_VKEY):
        mangled = PETER_VKEY[:i] + chr(ord(ch) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(KeyInvalid):
            NoteVerifier.from_string(mangled)


@pytest.mark.parametrize(
    "skey",
    [
        PETER_SKEY.replace("PRIVATE+KEY+", "PRIVATE+KYE+"),
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),
        PETER_SKEY.replace("+AYEK", "+AoEK"),
        PETER_SKEY[:-2],
        "PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ],
)
def test_bad_signer_keys_are_rejected(skey: str) -> None:
    with pytest.raises(KeyInvalid):
        NoteSigner.from_string(skey)


def test_signer_repr_holds_no_secret() -> None:
    peter = NoteSigner.from_string(PETER_SKEY)
    assert "AYEKFALV" not in repr(peter)
    assert PETER_VKEY in repr(peter)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0here"])
def test_bad_key_names_are_rejected(name: str) -> None:
    with pytest.raises(KeyInvalid):
        NoteSigner.generate(name)


# --- Checkpoints ----------------------------------------------------------------------------


def test_checkpoint_signature_passes_an_independent_check(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    body, sig_line = note.split("\n\n")
    assert body + "\n" == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
    assert sig_line.startswith("\u2014 " + ORIGIN + " ")
    assert sig_line.endswith("\n")
    assert sig_line.count("\n") == 1
    blob = base64.b64decode(sig_line.split(" ")[2])
    assert len(blob) == 4 + 64
    public = signer.verifier.public_key.public_bytes_raw()
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    assert blob[:4] == expected_id
    Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], (body + "\n").encode())
    material = base64.b64encode(b"\x01" + public).decode()
    vkey = f"{ORIGIN}+{expected_id.hex()}+{material}"
    assert str(signer.verifier) == vkey

    checkpoint = parse_and_verify_checkpoint(note, vkey, origin=ORIGIN)
    assert checkpoint == Checkpoint(ORIGIN, 1234, ROOT)


def test_empty_tree_and_extensions_round_trip(signer: NoteSigner) -> None:
    empty = hashlib.sha256(b"").digest()
    assert parse_and_verify_checkpoint(
        sign_checkpoint(ORIGIN, 0, empty, signer), signer.verifier
    ) == Checkpoint(ORIGIN, 0, empty)
    note = sign_checkpoint(ORIGIN, 7, ROOT, signer, extensions=("ext one", "ext two"))
    assert note.split("\n")[3:5] == ["ext one", "ext two"]
    assert parse_and_verify_checkpoint(note, signer.verifier).extensions == ("ext one", "ext two")


def test_any_change_to_the_body_is_rejected(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    body_length = note.index("\n\n") + 1
    for i in range(body_length):
        for replacement in {"0", "A", "x", "\n", "\u2014"} - {note[i]}:
            changed = note[:i] + replacement + note[i + 1 :]
            with pytest.raises(CheckpointInvalid):
                parse_and_verify_checkpoint(changed, signer.verifier)
    for i in range(body_length):  # deleting any character
        with pytest.raises(CheckpointInvalid):
            parse_and_verify_checkpoint(note[:i] + note[i + 1 :], signer.verifier)


def test_any_change_to_the_signature_is_rejected(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    start = note.rindex(" ") + 1
    alphabet = "AQgwBz+/9="
    for i in range(start, len(note) - 1):
        for replacement in set(alphabet) - {note[i]}:
            changed = note[:i] + replacement + note[i + 1 :]
            with pytest.raises(CheckpointInvalid):
                parse_and_verify_checkpoint(changed, signer.verifier)


def test_a_flipped_signature_bit_is_a_signature_failure(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    head, b64 = note[:-1].rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[10] ^= 1
    changed = f"{head} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointSignatureInvalid, match="does not verify"):
        parse_and_verify_checkpoint(changed, signer.verifier)


def test_wrong_key_is_rejected(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    other_same_name = NoteSigner.generate(ORIGIN)
    with pytest.raises(CheckpointUnverified, match="no signature by the trusted key"):
        parse_and_verify_checkpoint(note, other_same_name.verifier)
    with pytest.raises(CheckpointUnverified):
        parse_and_verify_checkpoint(note, PETER_VKEY)


def test_foreign_signatures_are_ignored_but_a_bad_trusted_one_is_not(
    signer: NoteSigner,
) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, signer)
    witness = NoteSigner.generate("witness.example/w1")
    cosigned = sign_note(note.split("\n\n")[0] + "\n", signer, witness)
    assert parse_and_verify_checkpoint(cosigned, signer.verifier).size == 1234
    assert parse_and_verify_checkpoint(cosigned, witness.verifier).size == 1234
    # A second, forged signature line under the trusted key spoils the note.
    forged = sign_note("something else\n", signer).split("\n\n")[1]
    with pytest.raises(CheckpointSignatureInvalid):
        parse_and_verify_checkpoint(note + forged, signer.verifier)


def test_origin_must_match_when_given(signer: NoteSigner) -> None:
    note = sign_checkpoint(ORIGIN, 1, ROOT, signer)
    with pytest.raises(CheckpointInvalid, match=r"not for 'other\.example/log'"):
        parse_and_verify_checkpoint(note, signer.verifier, origin="other.example/log")


def _signed(text: str, signer: NoteSigner) -> str:
    return sign_note(text, signer)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("origin\n1234\n", "at least three lines"),
        ("\n1234\nROOT\n", "origin line is empty"),
        ("origin\n01234\nROOT\n", "leading zeros"),
        ("origin\n-1\nROOT\n", "decimal"),
        ("origin\n+1\nROOT\n", "decimal"),
        ("origin\n1 \nROOT\n", "decimal"),
        ("origin\n18446744073709551616\nROOT\n", "64 bits"),
        ("origin\n5\nnot base64!\n", "base64"),
        ("origin\n5\n" + base64.b64encode(b"short").decode() + "\n", "32"),
        ("origin\n5\nROOT\n\next\n", "blank line|empty extension"),
    ],
)
def test_malformed_checkpoint_bodies(body: str, message: str, signer: NoteSigner) -> None:
    body = body.replace("ROOT", base64.b64encode(ROOT).decode())
    with pytest.raises(CheckpointMalformed, match=message):
        parse_and_verify_checkpoint(_signed(body, signer), signer.verifier)


def test_non_canonical_base64_root_is_rejected(signer: NoteSigner) -> None:
    root64 = base64.b64encode(ROOT).decode()  # 32 bytes: two spare bits before "="
    assert root64.endswith("=")
    last = root64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = alphabet[alphabet.index(last) ^ 1]
    assert base64.b64decode(root64[:-2] + sibling + "=") == ROOT
    body = f"{ORIGIN}\n5\n{root64[:-2]}{sibling}=\n"
    with pytest.raises(CheckpointMalformed, match="canonical"):
        parse_and_verify_checkpoint(_signed(body, signer), signer.verifier)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("text\n" + PETER_LINE, "no blank line"),
        ("text\n\n", "no signature line"),
        ("text\n\n" + PETER_LINE[:-1], "no signature line"),
        ("te\x00xt\n\n" + PETER_LINE, "control character"),
        ("text\r\n\n" + PETER_LINE, "control character"),
        ("text\n\n- PeterNeumann AAAA\n", "em dash"),
        ("text\n\n\u2014 PeterNeumann\n", "key name"),
        ("text\n\n\u2014 Peter+Neumann AAAAAAAA\n", "key name"),
        ("text\n\n\u2014 PeterNeumann AAAA\n", "too short"),
        ("text\n\n\u2014 PeterNeumann !!!!\n", "base64"),
        ("text\n\n" + PETER_LINE * 101, "more than 100"),
        ("text\ud800\n\n" + PETER_LINE, "UTF-8"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(CheckpointMalformed, match=message):
        open_note(note, NoteVerifier.from_string(PETER_VKEY))


def test_hundred_signatures_are_accepted() -> None:
    note = GO_TEXT + "\n" + ENOCH_LINE * 99 + PETER_LINE
    assert open_note(note, NoteVerifier.from_string(PETER_VKEY)) == GO_TEXT


def test_checkpoint_model_validates_itself() -> None:
    with pytest.raises(CheckpointMalformed):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointMalformed):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(CheckpointMalformed):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointMalformed):
        Checkpoint(ORIGIN, 1, b"short")
    with pytest.raises(CheckpointMalformed):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
    with pytest.raises(CheckpointMalformed, match="newline"):
        sign_note("no newline", NoteSigner.from_string(PETER_SKEY))


def test_errors_are_problems() -> None:
    error = CheckpointSignatureInvalid("x")
    assert isinstance(error, PrereviewError)
    assert error.status == 422
    assert error.type_uri == "urn:prereview:problem:audit-checkpoint-signature-invalid"


# --- Key files ------------------------------------------------------------------------------


def test_signer_key_file_is_private_and_round_trips(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.key"
    write_signer_key(path, signer)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith(f"PRIVATE+KEY+{ORIGIN}+")
    loaded = read_signer_key(path)
    assert loaded.verifier == signer.verifier
    assert read_signer_key(path, name=ORIGIN).verifier == signer.verifier
    with pytest.raises(KeyInvalid, match="is for"):
        read_signer_key(path, name="other.example")
    with pytest.raises(KeyInvalid, match="already exists"):
        write_signer_key(path, NoteSigner.generate(ORIGIN))
    replacement = NoteSigner.generate(ORIGIN)
    write_signer_key(path, replacement, overwrite=True)
    assert read_signer_key(path).verifier == replacement.verifier
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.key"]


def test_readable_key_file_is_refused(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.key"
    write_signer_key(path, signer)
    os.chmod(path, 0o644)
    with pytest.raises(KeyInvalid, match="chmod 600"):
        read_signer_key(path)


def test_pem_key_file(tmp_path: Path, signer: NoteSigner) -> None:
    path = tmp_path / "log.pem"
    path.write_bytes(signer.to_pem())
    os.chmod(path, 0o600)
    assert read_signer_key(path, name=ORIGIN).verifier == signer.verifier
    with pytest.raises(KeyInvalid, match="needs the key name"):
        read_signer_key(path)
    assert NoteSigner.from_pem(ORIGIN, signer.to_pem()).verifier == signer.verifier
    with pytest.raises(KeyInvalid):
        NoteSigner.from_pem(
            ORIGIN, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )


def test_missing_or_garbage_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyInvalid, match="Cannot read"):
        read_signer_key(tmp_path / "absent.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\xff\xfe")
    os.chmod(garbage, 0o600)
    with pytest.raises(KeyInvalid):
        read_signer_key(garbage)
