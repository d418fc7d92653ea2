"""Runs every web route (GET pages and POST forms) as every kind of actor, signed in through a
real web session, each form post on a fresh submission.

The route list comes from :data:`prereview.web.pages.ROUTERS`, the routers the app mounts, so a
page added there is walked here; ``EXAMPLES`` holds the form each route is sent, and a route
missing from it fails the walk. Every actor signs in once with its API token (``POST
/web/login``, as a browser does) and sends the session cookie it got back; form posts carry the
site's ``Origin``, as a browser's do. Sign-out revokes the session it is sent, so it gets a
session of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.routing import APIRoute

from prereview.web.pages import ROUTERS
from prereview.web.session import COOKIE
from support.factories import Platform
from support.matrix import ACTORS

# A browser sends Origin with every form post; the pages refuse forms without it.
SITE = {"origin": "http://testserver"}


def routes() -> list[tuple[str, str]]:
    """(method, path template) of every page and form the app mounts, in mounting order."""
    found: list[tuple[str, str]] = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), f"{route} is not a page route"
            found.extend((method, route.path) for method in sorted(route.methods or ()))
    return found


# What the shared submission holds, each with who the API lets read it (the API matrix's rows
# GET /submissions/{id}, GET .../nominations and GET /findings/{id}: a reviewer reads only its
# own organisation's findings): no page may show more.
MODEL = "Lodestar-7"
REASON = "runs the regional hospital EHR"
FINDING = "Two-turn framing bypasses refusal"
READERS: dict[str, frozenset[str]] = {
    MODEL: frozenset({"owner", "agency", "partner"}),
    REASON: frozenset({"owner", "agency"}),
    FINDING: frozenset({"owner", "agency"}),
}


@dataclass(frozen=True)
class Seen:
    """What one actor got from one route: the status, for a redirect where to, and which of
    the shared submission's confidential texts (:data:`READERS`) the answer shows."""

    status: int
    location: str | None
    shows: frozenset[str]


@dataclass
class WebScenario:
    """A submission in review: granted to the agency, its nomination of the partner consented;
    the shared one (:data:`READERS`' texts) also has a finding filed by the agency."""

    platform: Platform
    submission_id: str
    nomination_id: str

    @classmethod
    def build(
        cls,
        platform: Platform,
        model: str = "Helios",
        reason: str = "runs an EHR",
        finding: str | None = None,
    ) -> WebScenario:
        planned = (platform.context.clock.now() + timedelta(days=20)).isoformat()
        sub = platform.submit(model_name=model, planned_release_at=planned)
        platform.grant(sub["id"], window_days=25)
        nomination = platform.call(
            "agency",
            "POST",
            f"/submissions/{sub['id']}/nominations",
            201,
            json={"partner_org_id": platform["partner"].org_id, "reason": reason},
        ).json()
        platform.call(
            "developer",
            "POST",
            f"/submissions/{sub['id']}/nominations/{nomination['id']}/consent",
            200,
        )
        if finding is not None:
            platform.call(
                "agency",
                "POST",
                f"/submissions/{sub['id']}/findings",
                201,
                json={
                    "title": finding,
                    "description": "d",
                    "severity": "high",
                    "category": "other",
                },
            )
        return cls(platform, sub["id"], nomination["id"])

    def path(self, template: str) -> str:
        return template.format(
            submission_id=self.submission_id,
            nomination_id=self.nomination_id,
            decision="consent",
        )


def sign_in(platform: Platform, member: str) -> str:
    """Open a web session as ``member`` and return the secret its cookie holds."""
    platform.client.cookies.clear()
    response = platform.client.post(
        "/web/login",
        data={"token": platform[member].token},
        headers=SITE,
        follow_redirects=False,
    )
    assert response.status_code == 303, (member, response.status_code, response.text)
    secret = response.cookies.get(COOKIE)
    assert secret, f"signing in as {member} set no session cookie"
    platform.client.cookies.clear()
    return secret


def _login(scenario: WebScenario, member: str | None) -> dict[str, Any]:
    # Anonymous is a visitor with a token that is not one (a member signs in with its own).
    token = scenario.platform[member].token if member else "prv_not-a-token"
    return {"data": {"token": token}}


def _none(_: WebScenario, __: str | None) -> dict[str, Any]:
    return {}


def _form(fields: dict[str, str]) -> Callable[[WebScenario, str | None], dict[str, Any]]:
    return lambda _, __: {"data": fields}


# The form each route is sent (GET pages send nothing).
EXAMPLES: dict[tuple[str, str], Callable[[WebScenario, str | None], dict[str, Any]]] = {
    ("GET", "/web/login"): _none,
    ("POST", "/web/login"): _login,
    ("POST", "/web/logout"): _none,
    ("GET", "/web/"): _none,
    ("GET", "/web/submissions/{submission_id}"): _none,
    ("GET", "/web/submissions/{submission_id}/window"): _none,
    ("GET", "/web/queue"): _none,
    ("GET", "/web/submissions"): _none,
    ("GET", "/web/submissions/{submission_id}/release"): _none,
    ("GET", "/web/submissions/{submission_id}/withdraw"): _none,
    ("POST", "/web/submissions/{submission_id}/release"): _none,
    ("POST", "/web/submissions/{submission_id}/withdraw"): _form({"reason": "launch cancelled"}),
    ("POST", "/web/submissions/{submission_id}/nominations/{nomination_id}/{decision}"): _none,
    ("POST", "/web/submissions/{submission_id}/findings"): _form(
        {
            "title": "Bypasses refusal",
            "description": "two-turn framing",
            "severity": "high",
            "category": "safeguard_bypass",
        }
    ),
}


def observe(platform: Platform) -> dict[str, dict[str, Seen]]:
    """{"METHOD path": {actor: Seen}} for every web route, as every kind of actor."""
    sessions = {member: sign_in(platform, member) for member in ACTORS.values() if member}
    shared = WebScenario.build(platform, MODEL, REASON, FINDING)
    seen: dict[str, dict[str, Seen]] = {}
    for method, template in routes():
        example = EXAMPLES[(method, template)]
        row: dict[str, Seen] = {}
        for actor, member in ACTORS.items():
            scenario = shared if method == "GET" else WebScenario.build(platform)
            headers = dict(SITE) if method == "POST" else {}
            if member:
                # Signing out revokes the session it is sent: give it one of its own.
                secret = sign_in(platform, member) if template == "/web/logout" else None
                headers["cookie"] = f"{COOKIE}={secret or sessions[member]}"
            platform.client.cookies.clear()
            response = platform.client.request(
                method,
                scenario.path(template),
                headers=headers,
                follow_redirects=False,
                **example(scenario, member),
            )
            shows = frozenset(text for text in READERS if text in response.text)
            row[actor] = Seen(response.status_code, response.headers.get("location"), shows)
        seen[f"{method} {template}"] = row
    return seen
