"""The objects that the partner's and the administrator's pages act on, for the web matrix:
each made on demand (only for a route whose path names it) through the API, as its owner would.

- ``claim_id``: an inventory claim of the partner, waiting for an analyst;
- ``advisory_id``: a published TLP:AMBER advisory on a product the partner runs (its claim
  verified), so that the partner and the clearinghouse may read it and nobody else;
- ``user_id``: a second person of the owning developer's organisation;
- ``token_id``: a spare API token of the owning developer's person;
- ``organisation_id``: the owning developer's organisation (invitations into it);
- ``fmt``: an export format of an advisory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from support.factories import Platform
from support.factories.clearinghouse import report


def _claim(platform: Platform) -> str:
    body = {"identifiers": [f"pkg:pypi/matrix-{uuid.uuid4().hex[:8]}"]}
    (claim,) = platform.call("partner", "POST", "/clearinghouse/inventory", 201, json=body).json()
    return str(claim["id"])


def _advisory(platform: Platform) -> str:
    package = f"ehr-{uuid.uuid4().hex[:8]}"
    claim = platform.call(
        "partner",
        "POST",
        "/clearinghouse/inventory",
        201,
        json={"identifiers": [f"pkg:pypi/{package}"]},
    ).json()[0]
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim['id']}/decision",
        200,
        json={"decision": "verify", "note": "TXT record checked"},
    )
    doc = report(affected=[{"purl": f"pkg:pypi/{package}@1.0.0"}])
    platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=doc)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{doc['id']}/publish", 200)
    return str(doc["id"])


def _user(platform: Platform) -> str:
    org = platform["developer"].org_id
    body = {"email": f"spare.{uuid.uuid4().hex[:8]}@example.org", "name": "Spare"}
    user = platform.call("developer", "POST", f"/organisations/{org}/users", 201, json=body)
    return str(user.json()["id"])


def _token(platform: Platform) -> str:
    token = platform.call("developer", "POST", "/tokens", 201, json={"name": "spare"})
    return str(token.json()["id"])


IDS: dict[str, Callable[[Platform], str]] = {
    "claim_id": _claim,
    "advisory_id": _advisory,
    "user_id": _user,
    "token_id": _token,
    "organisation_id": lambda platform: platform["developer"].org_id,
    "fmt": lambda _: "osv",
}


def unique_email(_: object, __: str | None) -> dict[str, dict[str, str]]:
    """A form adding a person (each organisation's emails are unique)."""
    return {"data": {"name": "New Person", "email": f"p.{uuid.uuid4().hex[:8]}@example.org"}}


def new_organisation(_: object, __: str | None) -> dict[str, dict[str, str]]:
    """A form admitting an organisation (names are unique)."""
    return {"data": {"name": f"Lab {uuid.uuid4().hex[:8]}", "kind": "developer"}}


def fresh_invitation(scenario: Any, _: str | None) -> dict[str, dict[str, str]]:
    """A form redeeming a new invitation into the owning developer's organisation (each works
    once, and needs no session: whoever holds it may)."""
    platform: Platform = scenario.platform
    org = platform["developer"].org_id
    body = {"email": f"invitee.{uuid.uuid4().hex[:8]}@example.org", "role": "member"}
    created = platform.call(
        "developer", "POST", f"/organisations/{org}/invitations", 201, json=body
    )
    return {"data": {"secret": created.json()["secret"], "name": "Invitee"}}
