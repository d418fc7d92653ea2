"""An auditor's recomputation of a published report from the audit log's entries.

Given the published report and the pages of entries the server answers for its period and
checkpoint (``GET /transparency/entries``), :func:`recompute` checks the checkpoint's signature
(with the pinned log key, or the one the report names), checks every entry against it (its leaf
hash and inclusion proof), rebuilds the report with the same function the server runs and
lists every difference. The server cannot make the figures say other than its signed log.

What this does not prove: that the server answered *every* entry of those actions. An auditor
that reads the whole log (``prereview audit verify`` on the server's machine) checks that too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prereview.audit import merkle
from prereview.audit.checkpoint import parse_and_verify_checkpoint
from prereview.audit.errors import CheckpointInvalid, KeyInvalid, ProofInvalid
from prereview.transparency.periods import PeriodInvalid, parse_period
from prereview.transparency.report import CheckpointRef, build_report, differences


class RecomputeFailed(Exception):
    """The evidence does not hold: a bad signature or proof, or a malformed answer."""


@dataclass(frozen=True, slots=True)
class Recomputed:
    report: dict[str, Any]
    entries: int
    differences: list[str]
    noised: bool
    key_pinned: bool


def _b64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise RecomputeFailed(f"{what} is not base64.") from None


def _checkpoint(published: Mapping[str, Any], pinned: str | None) -> CheckpointRef:
    point = published.get("checkpoint")
    if not isinstance(point, Mapping):
        raise RecomputeFailed("The report names no checkpoint.")
    key = pinned or str(point.get("verifierKey"))
    try:
        stated = parse_and_verify_checkpoint(
            str(point.get("note")), key, origin=str(point.get("origin"))
        )
    except (CheckpointInvalid, KeyInvalid) as exc:
        raise RecomputeFailed(f"The report's checkpoint does not verify: {exc}") from None
    root = _b64(point.get("rootHash"), "The checkpoint's root hash")
    if stated.size != point.get("size") or stated.root != root:
        raise RecomputeFailed(
            f"The report names size {point.get('size')} and root {point.get('rootHash')}, but "
            f"its signed checkpoint says size {stated.size} and root "
            f"{base64.b64encode(stated.root).decode()}."
        )
    return CheckpointRef(
        origin=stated.origin,
        size=stated.size,
        root=base64.b64encode(stated.root).decode("ascii"),
        note=str(point["note"]),
        verifier_key=str(point.get("verifierKey")),
        signed_at=datetime.fromisoformat(str(point.get("signedAt"))),
    )


def _checked_leaves(
    pages: Iterable[Mapping[str, Any]], checkpoint: CheckpointRef
) -> list[dict[str, Any]]:
    root = _b64(checkpoint.root, "The root hash")
    leaves: dict[int, dict[str, Any]] = {}
    for page in pages:
        point = page.get("checkpoint", {})
        if point.get("size") != checkpoint.size or point.get("rootHash") != checkpoint.root:
            raise RecomputeFailed("The entries were answered against another checkpoint.")
        for item in page.get("items", []):
            seq, text = int(item["seq"]), str(item["leaf"])
            proof = [_b64(h, f"Entry {seq}'s proof") for h in item["proof"]]
            try:
                merkle.verify_inclusion(
                    merkle.leaf_hash(text.encode("utf-8")), seq, checkpoint.size, proof, root
                )
            except ProofInvalid as exc:
                raise RecomputeFailed(f"Entry {seq} is not in the signed log: {exc}") from None
            leaf = json.loads(text)
            if not isinstance(leaf, dict) or leaf.get("seq") != seq:
                raise RecomputeFailed(f"Entry {seq}'s text names another seq.")
            leaves[seq] = leaf
    return [leaves[seq] for seq in sorted(leaves)]


def recompute(
    published: Mapping[str, Any],
    pages: Iterable[Mapping[str, Any]],
    pinned_key: str | None = None,
) -> Recomputed:
    """Rebuild ``published`` from the entry ``pages`` and compare; raises
    :class:`RecomputeFailed` when the evidence itself does not verify."""
    try:
        period = parse_period(str(published.get("period", {}).get("label")))
    except PeriodInvalid as exc:
        raise RecomputeFailed(f"The report names no period: {exc}") from None
    checkpoint = _checkpoint(published, pinned_key)
    leaves = _checked_leaves(pages, checkpoint)
    rebuilt = build_report(leaves, period, checkpoint)
    return Recomputed(
        report=rebuilt,
        entries=len(leaves),
        differences=differences(published, rebuilt),
        noised=bool(published.get("disclosure", {}).get("noise")),
        key_pinned=pinned_key is not None,
    )
