"""The review forms' objects and forms for the web matrix (``support.web_matrix``): the
scenario's grant (the agency's) and a finding the agency filed, inside its submission."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from support.factories import Platform


def _grant(platform: Platform, submission_id: str) -> str:
    path = f"/submissions/{submission_id}/grants"
    items = platform.call("developer", "GET", path, 200).json()["items"]
    return str(items[0]["id"])


def _finding(platform: Platform, submission_id: str) -> str:
    body = {"title": "matrix finding", "description": "d", "severity": "low", "category": "other"}
    path = f"/submissions/{submission_id}/findings"
    return str(platform.call("agency", "POST", path, 201, json=body).json()["id"])


SUBMISSION_IDS: dict[str, Callable[[Platform, str], str]] = {
    "grant_id": _grant,
    "finding_id": _finding,
}


def grant_form(scenario: Any, __: str | None) -> dict[str, Any]:
    """A grant to the agency the scenario has not granted yet."""
    return {"data": {"agency_org_id": scenario.platform["other_agency"].org_id}}


def nomination_form(scenario: Any, __: str | None) -> dict[str, Any]:
    """A nomination of the partner the scenario's agency has not nominated yet."""
    partner = scenario.platform["other_partner"].org_id
    return {"data": {"partner_org_id": partner, "reason": "runs a bank's core ledger"}}


def planned_release_form(scenario: Any, __: str | None) -> dict[str, Any]:
    """A planned release ten days ahead (``datetime-local``: no offset, UTC)."""
    later = scenario.platform.context.clock.now() + timedelta(days=10)
    return {"data": {"planned_release_at": later.strftime("%Y-%m-%dT%H:%M")}}


SUBMISSION_FORM = {"model_name": "Nimbus", "model_version": "0.9"}
RESPONSE_FORM = {"status": "acknowledged", "text": "we are looking into it"}
