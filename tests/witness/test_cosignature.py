"""The cosignature format, against C2SP tlog-cosignature and its published example."""

from __future__ import annotations

import base64
import hashlib

import pytest

from prereview.audit.checkpoint import NoteSigner, sign_checkpoint
from prereview.audit.cosignature import (
    CosignatureVerifier,
    Cosigner,
    cosignature_key_id,
    cosigned_message,
    note_cosignatures,
)
from prereview.audit.errors import CosignatureInvalid, KeyInvalid

# The example of https://c2sp.org/tlog-cosignature: a checkpoint with one cosignature, whose
# signed message the specification shows with "time 1679315147".
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_the_specifications_example_has_our_layout() -> None:
    """key ID (4) || big-endian timestamp (8) || Ed25519 signature (64), and the message."""
    blob = base64.b64decode(SPEC_LINE.split(" ")[2])
    assert len(blob) == 4 + 8 + 64
    assert int.from_bytes(blob[4:12], "big") == 1679315147
    assert cosigned_message(SPEC_BODY, 1679315147) == SPEC_MESSAGE.encode()


def test_key_id_uses_type_0x04() -> None:
    cosigner = Cosigner.generate("witness.example/w1")
    raw = base64.b64decode(str(cosigner.verifier).split("+", 2)[2])
    assert raw[0] == 0x04
    digest = hashlib.sha256(b"witness.example/w1\n\x04" + raw[1:]).digest()
    assert cosigner.verifier.key_id == int.from_bytes(digest[:4], "big")
    assert cosignature_key_id("witness.example/w1", raw[1:]) == cosigner.verifier.key_id


def test_keys_round_trip_and_a_log_key_is_refused() -> None:
    cosigner = Cosigner.generate("witness.example/w1")
    again = Cosigner.from_string(cosigner.to_string())
    assert again.verifier == cosigner.verifier
    assert CosignatureVerifier.from_string(str(cosigner.verifier)) == cosigner.verifier
    with pytest.raises(KeyInvalid, match="0x04"):
        CosignatureVerifier.from_string(str(NoteSigner.generate("log.example").verifier))
    _, key_id, key = str(cosigner.verifier).split("+", 2)
    with pytest.raises(KeyInvalid, match="does not match"):
        CosignatureVerifier.from_string(f"other.example+{key_id}+{key}")


def test_a_cosignature_verifies_only_over_its_checkpoint() -> None:
    log = NoteSigner.generate("log.example")
    w1, w2 = Cosigner.generate("witness.example/w1"), Cosigner.generate("witness.example/w2")
    note = sign_checkpoint("log.example", 5, b"\x01" * 32, log)
    body = note[: note.rfind("\n\n") + 1]
    cosigned = note + w1.cosign(body, 1_700_000_000) + w2.cosign(body, 1_700_000_001)
    found = note_cosignatures(cosigned, [w1.verifier, w2.verifier])
    assert sorted((c.witness, c.timestamp) for c in found) == [
        ("witness.example/w1", 1_700_000_000),
        ("witness.example/w2", 1_700_000_001),
    ]
    # Lines by keys the client does not trust are ignored.
    assert note_cosignatures(cosigned, [Cosigner.generate("witness.example/w1").verifier]) == []
    # Moved to another checkpoint, a trusted witness's line fails, and says whose it is.
    other = sign_checkpoint("log.example", 5, b"\x02" * 32, log)
    with pytest.raises(CosignatureInvalid, match=r"witness\.example/w1"):
        note_cosignatures(other + w1.cosign(body, 1_700_000_000), [w1.verifier])
    # So does a changed timestamp: it is part of the signed message.
    line = w1.cosign(body, 1_700_000_000)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1
    forged = f"\u2014 witness.example/w1 {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CosignatureInvalid):
        note_cosignatures(note + forged, [w1.verifier])


def test_the_timestamp_is_never_zero() -> None:
    with pytest.raises(ValueError):
        Cosigner.generate("witness.example/w1").cosign("a\n1\nAA==\n", 0)
