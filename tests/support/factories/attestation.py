"""A submission through a whole review, and the attestation its developer asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prereview.core.clock import FixedClock
from support.factories import Platform

UNDISCLOSED = """
format = 1
id = "test-undisclosed"
version = "1"
title = "Undisclosed test policy"
disclose_outcome_to_developer = false

[criteria]
combine = "all"

[[criteria.criterion]]
kind = "training_compute"
id = "compute-1e26"
at_least_flop = 1e26
"""

WEIGHTS = b"not really weights, but hashed as they would be"


@dataclass
class Reviewed:
    """What was done to the submission, to check the attestation's figures against."""

    submission_id: str
    findings: dict[str, str]
    answered: set[str]
    material_sha256: str


def finding(platform: Platform, who: str, sid: str, severity: str) -> str:
    body = {"title": "t", "description": "d", "severity": severity, "category": "other"}
    made = platform.call(who, "POST", f"/submissions/{sid}/findings", 201, json=body).json()
    return str(made["id"])


def review_through(platform: Platform, clock: FixedClock) -> Reviewed:
    """Offered, two agencies and a partner let in, four findings, two answered (one twice),
    a weights upload, two determinations (one disclosed), a window change, the release."""
    sid = platform.submit(training_compute_flop=3e25)["id"]
    clock.advance(timedelta(hours=1))
    platform.grant(sid, window_days=20)
    platform.grant(sid, agency="other_agency")
    nomination = platform.call(
        "agency",
        "POST",
        f"/submissions/{sid}/nominations",
        201,
        json={"partner_org_id": platform["partner"].org_id, "reason": "hospital EHR"},
    ).json()
    platform.call(
        "developer", "POST", f"/submissions/{sid}/nominations/{nomination['id']}/consent", 200
    )
    platform.call("developer", "PUT", f"/submissions/{sid}/window", 200, json={"days": 25})
    findings = {
        finding(platform, "agency", sid, "critical"): "critical",
        finding(platform, "agency", sid, "high"): "high",
        finding(platform, "other_agency", sid, "high"): "high",
        finding(platform, "partner", sid, "low"): "low",
    }
    ids = list(findings)
    for fid, status in ((ids[0], "acknowledged"), (ids[0], "mitigated"), (ids[2], "disputed")):
        platform.call(
            "developer",
            "POST",
            f"/findings/{fid}/responses",
            201,
            json={"status": status, "text": "x"},
        )
    material = platform.call(
        "developer",
        "POST",
        f"/submissions/{sid}/materials",
        201,
        params={"filename": "weights.safetensors", "kind": "weights"},
        content=WEIGHTS,
    ).json()
    platform.call(
        "agency",
        "POST",
        f"/submissions/{sid}/determinations",
        201,
        json={"preset": "eu-ai-act-systemic-risk", "rationale": "declared 3e25"},
    )
    platform.call(
        "other_agency",
        "POST",
        f"/submissions/{sid}/determinations",
        201,
        json={"policy": UNDISCLOSED, "rationale": "below 1e26"},
    )
    clock.advance(timedelta(days=3))
    platform.call("developer", "POST", f"/submissions/{sid}/release", 200)
    return Reviewed(sid, findings, {ids[0], ids[2]}, material["sha256"])


def attest(platform: Platform, sid: str, **body: Any) -> dict[str, Any]:
    response = platform.call("developer", "POST", f"/submissions/{sid}/attestation", 200, json=body)
    return response.json()  # type: ignore[no-any-return]
