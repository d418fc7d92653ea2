"""Review's test steps over HTTP: nominating a trusted partner, deciding, filing a finding.

Many tests need a partner let into a submission (an agency's nomination, then the developer's
consent) or a finding filed; each step here asserts the status it expects, so a test reads as
the flow it checks and the setup is written once. ``Platform.submit`` and ``Platform.grant``
cover submitting and granting.
"""

from __future__ import annotations

from typing import Any

from support.factories import Platform

FINDING: dict[str, str] = {
    "title": "PACS auth bypass",
    "description": "found one",
    "severity": "low",
    "category": "third_party_vulnerability",
}
"""A finding's smallest valid body."""


def nominate(
    platform: Platform,
    submission_id: str,
    partner: str = "partner",
    *,
    agency: str = "agency",
    reason: str = "operates affected systems",
) -> dict[str, Any]:
    """``agency`` nominates ``partner`` for the submission (it must hold a grant)."""
    return platform.call(  # type: ignore[no-any-return]
        agency,
        "POST",
        f"/submissions/{submission_id}/nominations",
        201,
        json={"partner_org_id": platform[partner].org_id, "reason": reason},
    ).json()


def decide(
    platform: Platform,
    submission_id: str,
    nomination_id: str,
    *,
    consent: bool = True,
    note: str | None = None,
) -> dict[str, Any]:
    """The developer consents to (or declines) a nomination."""
    verb = "consent" if consent else "decline"
    body = {"json": {"note": note}} if note is not None else {}
    return platform.call(  # type: ignore[no-any-return]
        "developer",
        "POST",
        f"/submissions/{submission_id}/nominations/{nomination_id}/{verb}",
        200,
        **body,
    ).json()


def consent_partner(
    platform: Platform,
    submission_id: str,
    partner: str = "partner",
    *,
    agency: str = "agency",
    reason: str = "operates affected systems",
) -> dict[str, Any]:
    """Let ``partner`` into the submission: ``agency``'s nomination, the developer's consent.

    Returns the nomination as it was created (pending); its ``id`` is what later steps use."""
    nomination = nominate(platform, submission_id, partner, agency=agency, reason=reason)
    decide(platform, submission_id, nomination["id"])
    return nomination


def file_finding(
    platform: Platform,
    submission_id: str,
    who: str = "agency",
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    """``who`` files a finding (:data:`FINDING` with ``fields`` over it)."""
    return platform.call(  # type: ignore[no-any-return]
        who, "POST", f"/submissions/{submission_id}/findings", expect, json=FINDING | fields
    ).json()
