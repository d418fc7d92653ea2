"""The offline verifier: each kind of tampering fails with a message naming what failed, and it
imports nothing of the platform but its own sibling."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from prereview.attestation.schema import schema_errors
from prereview.attestation.signing import AttestationKey, load_key
from prereview.attestation.verify import (
    CheckpointInvalid,
    EnvelopeMalformed,
    FiguresMismatch,
    ProofInvalid,
    SignatureInvalid,
    StatementInvalid,
    VerificationFailed,
    WrongKey,
    verify_attestation,
)
from support.factories import Platform
from support.factories.attestation import Reviewed, attest


@pytest.fixture
def signed(platform: Platform, reviewed: Reviewed) -> tuple[dict[str, Any], AttestationKey]:
    key = load_key(platform.context.settings)
    return attest(platform, reviewed.submission_id, name_reviewers=True), key


def payload_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def resigned(
    envelope: dict[str, Any], key: AttestationKey, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """The statement changed by ``change`` and signed again with the platform's own key: what a
    compromised or mistaken signer could produce, which the evidence checks must still catch."""
    statement = copy.deepcopy(payload_of(envelope))
    change(statement)
    return key.sign(json.dumps(statement, sort_keys=True, separators=(",", ":")).encode())


def test_the_predicate_is_valid_under_its_shipped_schema(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, _ = signed
    assert schema_errors(payload_of(envelope)["predicate"]) == []
    assert schema_errors({"findings": 1}) != []


def test_a_changed_payload_field_breaks_the_signature(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, key = signed
    statement = payload_of(envelope)
    statement["predicate"]["findings"]["answered"] = 4
    forged = dict(envelope, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    with pytest.raises(SignatureInvalid, match="does not verify over its payload"):
        verify_attestation(forged, key.public_pem())


def test_a_corrupt_signature_fails(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    envelope, key = signed
    raw = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    raw[0] ^= 1
    forged = copy.deepcopy(envelope)
    forged["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureInvalid) as failed:
        verify_attestation(forged, key.public_pem())
    assert str(failed.value).startswith("signature: ")


def test_a_wrong_key_fails(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    envelope, _ = signed
    other = AttestationKey(Ed25519PrivateKey.generate())
    with pytest.raises(WrongKey, match="not signed by the attestation key given"):
        verify_attestation(envelope, other.public_pem())
    # Another key that claims the platform's keyid is still refused by the signature.
    impostor = other.sign(base64.b64decode(envelope["payload"]))
    impostor["signatures"][0]["keyid"] = envelope["signatures"][0]["keyid"]
    with pytest.raises(SignatureInvalid):
        verify_attestation(impostor, signed[1].public_pem())
    rsa = b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
    with pytest.raises(WrongKey, match="not a PEM public key"):
        verify_attestation(envelope, rsa)


def test_a_changed_proof_fails_against_the_checkpoint(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, key = signed

    def flip_proof(statement: dict[str, Any]) -> None:
        entry = next(e for e in statement["predicate"]["evidence"]["entries"] if e["proof"])
        raw = bytearray(base64.b64decode(entry["proof"][0]))
        raw[5] ^= 0x40
        entry["proof"][0] = base64.b64encode(bytes(raw)).decode()

    with pytest.raises(ProofInvalid, match=r"inclusion proof of entry \d+ does not lead"):
        verify_attestation(resigned(envelope, key, flip_proof), key.public_pem())


def test_a_changed_entry_fails_its_proof(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    """Turning a critical finding into a low one in the carried entry breaks its proof."""
    envelope, key = signed

    def soften(statement: dict[str, Any]) -> None:
        for entry in statement["predicate"]["evidence"]["entries"]:
            if '"severity":"critical"' in entry["leaf"]:
                entry["leaf"] = entry["leaf"].replace('"critical"', '"low"')
        findings = statement["predicate"]["findings"]["bySeverity"]
        findings["critical"], findings["low"] = 0, findings["low"] + 1

    with pytest.raises(ProofInvalid, match="the entry or its proof was changed"):
        verify_attestation(resigned(envelope, key, soften), key.public_pem())


def test_a_dropped_entry_leaves_the_figures_unproven(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, key = signed

    def drop_answer(statement: dict[str, Any]) -> None:
        entries = statement["predicate"]["evidence"]["entries"]
        [first] = [e for e in entries if '"review:finding:create"' in e["leaf"]][:1]
        entries.remove(first)

    with pytest.raises(FiguresMismatch, match=r"^figures: findings\.") as failed:
        verify_attestation(resigned(envelope, key, drop_answer), key.public_pem())
    assert "the statement says" in str(failed.value)


def test_an_entry_carried_twice_is_refused(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    envelope, key = signed

    def repeat(statement: dict[str, Any]) -> None:
        entries = statement["predicate"]["evidence"]["entries"]
        entries.append(entries[-1])

    with pytest.raises(StatementInvalid, match=r"Entry \d+ is carried twice"):
        verify_attestation(resigned(envelope, key, repeat), key.public_pem())


def test_a_changed_figure_fails_even_when_signed(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, key = signed

    def inflate(statement: dict[str, Any]) -> None:
        statement["predicate"]["findings"]["answered"] = 4

    with pytest.raises(
        FiguresMismatch,
        match=r"findings\.answered: the statement says 4, the entries it carries give 2",
    ):
        verify_attestation(resigned(envelope, key, inflate), key.public_pem())

    def rename(statement: dict[str, Any]) -> None:
        statement["predicate"]["access"]["agencies"]["named"][0]["id"] = "org_someone_else"

    with pytest.raises(FiguresMismatch, match=r"access\.agencies\.named"):
        verify_attestation(resigned(envelope, key, rename), key.public_pem())


def test_a_changed_checkpoint_fails_its_signature(
    signed: tuple[dict[str, Any], AttestationKey],
) -> None:
    envelope, key = signed

    def grow(statement: dict[str, Any]) -> None:
        log = statement["predicate"]["evidence"]["log"]
        origin, size, rest = log["checkpoint"].split("\n", 2)
        log["checkpoint"] = f"{origin}\n{int(size) + 1}\n{rest}"

    with pytest.raises(CheckpointInvalid, match="checkpoint's signature by the log key"):
        verify_attestation(resigned(envelope, key, grow), key.public_pem())

    def other_log_key(statement: dict[str, Any]) -> None:
        statement["predicate"]["evidence"]["log"]["verifierKey"] = (
            "prereview.local/audit+00000000+AQ" + "A" * 42 + "="
        )

    with pytest.raises(CheckpointInvalid):
        verify_attestation(resigned(envelope, key, other_log_key), key.public_pem())


def test_a_pinned_audit_key_must_match(
    platform: Platform, signed: tuple[dict[str, Any], AttestationKey]
) -> None:
    envelope, key = signed
    stated = payload_of(envelope)["predicate"]["evidence"]["log"]["verifierKey"]
    verify_attestation(envelope, key.public_pem(), audit_key=stated)
    with pytest.raises(CheckpointInvalid, match="not by the one you trust"):
        verify_attestation(envelope, key.public_pem(), audit_key="someone+00000000+AAAA")


def test_malformed_documents_fail_as_such(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    envelope, key = signed
    pem = key.public_pem()
    with pytest.raises(EnvelopeMalformed, match="not JSON"):
        verify_attestation(b"{", pem)
    with pytest.raises(EnvelopeMalformed, match="no 'payload'"):
        verify_attestation({"payloadType": "x", "signatures": []}, pem)
    with pytest.raises(EnvelopeMalformed, match="payloadType"):
        verify_attestation(dict(envelope, payloadType="text/plain"), pem)
    with pytest.raises(EnvelopeMalformed, match="no signature"):
        verify_attestation(dict(envelope, signatures=[]), pem)
    not_intoto = key.sign(b'{"_type": "something else"}')
    with pytest.raises(StatementInvalid, match="not an in-toto Statement"):
        verify_attestation(not_intoto, pem)
    with pytest.raises(VerificationFailed):
        verify_attestation(json.dumps(envelope).encode()[:-3], pem)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("access",), []),
        (("access", "agencies"), "many"),
        (("findings",), None),
        (("digests",), [{"of": "weights"}]),
        (("evidence", "entries"), [{"seq": 0, "leaf": 7, "proof": []}]),
        (("evidence", "entries"), [{"seq": 0, "leaf": "{}", "proof": "AAAA"}]),
        (("window",), {"openedAt": 3}),
    ],
)
def test_a_signed_statement_of_another_shape_fails_as_such(
    signed: tuple[dict[str, Any], AttestationKey], path: tuple[str, ...], value: Any
) -> None:
    envelope, key = signed

    def reshape(statement: dict[str, Any]) -> None:
        target = statement["predicate"]
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    with pytest.raises(VerificationFailed):
        verify_attestation(resigned(envelope, key, reshape), key.public_pem())


def test_the_verifier_imports_nothing_of_the_platform() -> None:
    script = (
        "import sys, json\n"
        "import prereview.attestation.verify\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        ).stdout
    )
    ours = [m for m in loaded if m.startswith("prereview")]
    assert ours == [
        "prereview",
        "prereview.attestation",
        "prereview.attestation.figures",
        "prereview.attestation.verify",
    ]
    top = {m.split(".")[0] for m in loaded}
    for heavy in ("sqlalchemy", "fastapi", "pydantic", "securesystemslib", "google", "httpx"):
        assert heavy not in top
    assert "cryptography" in top


def test_keys_serialise_as_pem(signed: tuple[dict[str, Any], AttestationKey]) -> None:
    envelope, key = signed
    loaded = serialization.load_pem_public_key(key.public_pem().encode())
    assert isinstance(loaded, type(key.public))
    assert envelope["signatures"][0]["keyid"] == key.key_id
