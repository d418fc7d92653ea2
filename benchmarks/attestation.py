"""The offline attestation verifier's speed: inclusion proofs per second, and whole attestations.

Usage: ``.venv/bin/python benchmarks/attestation.py [--entries N] [--proofs P] [--rounds R]``
(default a log of 1,000,000 entries, 20,000 proofs, 200 whole attestations).

Builds an in-memory RFC 9162 tree of N leaves (:mod:`prereview.audit.merkle`), in which one
submission's review (its offer, two grants, a consent, twelve findings, answers and the
release) sits at random positions among filler entries, and signs a C2SP checkpoint of it.
Then times :func:`prereview.attestation.verify.verify_inclusion` (the check the verifier runs
for every entry an attestation carries) over P proofs of random leaves, and
:func:`prereview.attestation.verify.verify_attestation` (envelope signature, checkpoint
signature, every proof, every figure recomputed) over R copies of that submission's signed
attestation. Prints one JSON line. The issue's goal is at least 10,000 proofs per second.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from prereview.attestation.figures import PREDICATE_TYPE, STATEMENT_TYPE, figures
from prereview.attestation.signing import AttestationKey
from prereview.attestation.verify import verify_attestation, verify_inclusion
from prereview.audit import merkle
from prereview.audit.checkpoint import NoteSigner, sign_checkpoint
from prereview.audit.service import canonical_leaf

ORIGIN = "bench.prereview.local/audit"
SUBMISSION = "sub_bench"
START = datetime(2026, 6, 1, tzinfo=UTC)


def _review(positions: list[int]) -> dict[int, str]:
    """The leaf texts of one submission's review, at the given seqs (in order)."""
    steps: list[tuple[str, str, str | None, dict[str, Any]]] = [
        ("review:submission:create", "submission", SUBMISSION, {"model": "Atlas 1.0"}),
        (
            "review:grant:create",
            "grant",
            "gnt_1",
            {"agency_org_id": "org_a", "window_ends_at": (START + timedelta(days=30)).isoformat()},
        ),
        (
            "review:grant:create",
            "grant",
            "gnt_2",
            {"agency_org_id": "org_b", "window_ends_at": None},
        ),
        (
            "review:nomination:decide",
            "nomination",
            "nom_1",
            {"status": "consented", "partner_org_id": "org_p"},
        ),
    ]
    for i in range(12):
        severity = ("critical", "high", "medium", "low")[i % 4]
        steps.append(("review:finding:create", "finding", f"fnd_{i}", {"severity": severity}))
    for i in range(0, 12, 2):
        steps.append(("review:finding:respond", "finding", f"fnd_{i}", {"status": "mitigated"}))
    steps.append(("review:submission:release", "submission", SUBMISSION, {}))
    texts: dict[int, str] = {}
    for seq, (action, object_type, object_id, detail) in zip(positions, steps, strict=False):
        texts[seq] = canonical_leaf(
            {
                "seq": seq,
                "at": (START + timedelta(hours=seq % 1000)).isoformat(),
                "actor_user_id": "usr_1",
                "actor_org_id": "org_dev",
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "submission_id": SUBMISSION,
                "detail": detail,
            }
        )
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(13)
    positions = sorted(rng.sample(range(args.entries), 23))
    texts = _review(positions)

    built = time.perf_counter()
    store = merkle.MemoryNodeStore()
    tree = merkle.TreeAppender()
    for seq in range(args.entries):
        text = texts.get(seq)
        leaf = text.encode("utf-8") if text is not None else b"filler %d" % seq
        store.put(tree.append(merkle.leaf_hash(leaf)))
    build_s = time.perf_counter() - built
    size, root = tree.size, tree.root()
    signer = NoteSigner.generate(ORIGIN)
    note = sign_checkpoint(ORIGIN, size, root, signer)

    sampled = [rng.randrange(size) for _ in range(args.proofs)]
    cases = [(store.node(0, seq), seq, merkle.inclusion_proof(seq, size, store)) for seq in sampled]
    began = time.perf_counter()
    for leaf_hash, seq, proof in cases:
        if not verify_inclusion(leaf_hash, seq, size, proof, root):
            sys.exit(f"proof of {seq} did not verify")
    proofs_s = time.perf_counter() - began

    leaves = [json.loads(text) for text in texts.values()]
    created = positions[0]
    predicate = {
        "issuedAt": START.isoformat(),
        "model": {"name": "Atlas", "version": "1.0"},
        "submissionEntry": created,
        **figures(SUBMISSION, leaves),
        "evidence": {
            "log": {"origin": ORIGIN, "verifierKey": str(signer.verifier), "checkpoint": note},
            "entries": [
                {
                    "seq": seq,
                    "leaf": text,
                    "proof": [
                        base64.b64encode(h).decode()
                        for h in merkle.inclusion_proof(seq, size, store)
                    ],
                }
                for seq, text in texts.items()
            ],
        },
    }
    subject = {
        "name": "Atlas 1.0",
        "digest": {"sha256": hashlib.sha256(texts[created].encode()).hexdigest()},
    }
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    key = AttestationKey(Ed25519PrivateKey.generate())
    envelope = key.sign(json.dumps(statement, sort_keys=True, separators=(",", ":")).encode())
    document = json.dumps(envelope).encode()
    began = time.perf_counter()
    for _ in range(args.rounds):
        verified = verify_attestation(document, key.public)
    whole_s = time.perf_counter() - began

    print(
        json.dumps(
            {
                "benchmark": "attestation_verify",
                "log_entries": size,
                "tree_build_s": round(build_s, 2),
                "proofs": args.proofs,
                "proof_hashes_mean": round(sum(len(p) for _, _, p in cases) / len(cases), 1),
                "proofs_per_s": round(args.proofs / proofs_s),
                "goal_proofs_per_s": 10_000,
                "attestation_entries": verified.entries,
                "attestation_bytes": len(document),
                "attestations_per_s": round(args.rounds / whole_s, 1),
                "attestation_verify_ms": round(whole_s / args.rounds * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
