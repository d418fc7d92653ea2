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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.routing import APIRoute

from prereview.coverage.criteria import Evidence
from prereview.coverage.policy import parse_policy, preset_text
from prereview.coverage.service import judge
from prereview.web.pages import ROUTERS
from prereview.web.pages.coverage import whatif_digest
from prereview.web.session import COOKIE
from support import web_clearinghouse, web_evals, web_review
from support.factories import Platform
from support.matrix import ACTORS
from support.web_console import SUBMISSION_IDS, UPSTREAM_FORM, limits_form, upload_form
from support.web_partner_admin import IDS, fresh_invitation, new_organisation, unique_email

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
    # Other objects a route's path names, made when first asked for (support.web_partner_admin).
    ids: dict[str, str] = field(default_factory=dict)

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
        for key, make in IDS.items():
            if f"{{{key}}}" in template and key not in self.ids:
                self.ids[key] = make(self.platform)
        if any(f"{{{key}}}" in template for key in web_clearinghouse.KEYS) and not (
            set(web_clearinghouse.KEYS) <= set(self.ids)
        ):
            self.ids |= web_clearinghouse.clearinghouse_ids(self.platform)
        # Objects inside this scenario's submission.
        for key, make_in in (
            SUBMISSION_IDS | web_evals.SUBMISSION_IDS | web_review.SUBMISSION_IDS
        ).items():
            if f"{{{key}}}" in template and key not in self.ids:
                self.ids[key] = make_in(self.platform, self.submission_id)
        return template.format(
            submission_id=self.submission_id,
            nomination_id=self.nomination_id,
            decision="consent",
            **self.ids,
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
    ("GET", "/web/transparency"): _none,
    ("GET", "/web/"): _none,
    ("GET", "/web/submissions/{submission_id}"): _none,
    ("GET", "/web/submissions/{submission_id}/window"): _none,
    ("GET", "/web/queue"): _none,
    ("GET", "/web/submissions"): _none,
    ("GET", "/web/submissions/{submission_id}/release"): _none,
    ("GET", "/web/submissions/{submission_id}/withdraw"): _none,
    ("POST", "/web/submissions/{submission_id}/release"): _none,
    ("POST", "/web/submissions/{submission_id}/withdraw"): _form({"reason": "launch cancelled"}),
    ("POST", "/web/submissions/{submission_id}/attestation"): _form({"name_reviewers": "yes"}),
    ("POST", "/web/submissions/{submission_id}/nominations/{nomination_id}/{decision}"): _none,
    ("POST", "/web/submissions/{submission_id}/findings"): _form(
        {
            "title": "Bypasses refusal",
            "description": "two-turn framing",
            "severity": "high",
            "category": "safeguard_bypass",
        }
    ),
    ("GET", "/web/submissions/new"): _none,
    ("POST", "/web/submissions/new"): _form(web_review.SUBMISSION_FORM),
    ("POST", "/web/submissions/{submission_id}/grants"): web_review.grant_form,
    ("GET", "/web/submissions/{submission_id}/grants/{grant_id}/revoke"): _none,
    ("POST", "/web/submissions/{submission_id}/grants/{grant_id}/revoke"): _none,
    ("POST", "/web/submissions/{submission_id}/planned-release"): web_review.planned_release_form,
    ("POST", "/web/submissions/{submission_id}/nominations"): web_review.nomination_form,
    ("POST", "/web/findings/{finding_id}/responses"): _form(web_review.RESPONSE_FORM),
    ("GET", "/web/invitations/redeem"): _none,
    ("POST", "/web/invitations/redeem"): fresh_invitation,
    ("GET", "/web/inventory"): _none,
    ("POST", "/web/inventory"): _form({"identifiers": "pkg:pypi/ehrkit", "proof": "TXT record"}),
    ("GET", "/web/inventory/{claim_id}/withdraw"): _none,
    ("POST", "/web/inventory/{claim_id}/withdraw"): _none,
    ("GET", "/web/advisories"): _none,
    ("GET", "/web/advisories/{advisory_id}"): _none,
    ("GET", "/web/advisories/{advisory_id}/export/{fmt}"): _none,
    ("GET", "/web/admin/users"): _none,
    ("POST", "/web/admin/users"): unique_email,
    ("GET", "/web/admin/users/{user_id}/deactivate"): _none,
    ("GET", "/web/admin/users/{user_id}/reactivate"): _none,
    ("POST", "/web/admin/users/{user_id}/deactivate"): _none,
    ("POST", "/web/admin/users/{user_id}/reactivate"): _none,
    ("POST", "/web/admin/organisations/{organisation_id}/invitations"): _form(
        {"email": "invitee@example.org", "role": "member"}
    ),
    ("GET", "/web/admin/tokens"): _none,
    ("POST", "/web/admin/tokens"): _form({"name": "ci", "ttl_days": "7"}),
    ("GET", "/web/admin/tokens/{token_id}/revoke"): _none,
    ("POST", "/web/admin/tokens/{token_id}/revoke"): _none,
    ("GET", "/web/admin/organisations"): _none,
    ("POST", "/web/admin/organisations"): new_organisation,
    ("GET", "/web/submissions/{submission_id}/evaluations"): _none,
    ("GET", "/web/eval-results/{result_id}/download"): _none,
    ("GET", "/web/submissions/{submission_id}/coverage"): _none,
    ("POST", "/web/submissions/{submission_id}/coverage/what-if"): _form(
        {"source": "preset", "preset": "ca-sb53-frontier-compute"}
    ),
    ("POST", "/web/submissions/{submission_id}/coverage/determinations"): lambda _, __: {
        "data": {
            "source": "preset",
            "preset": "ca-sb53-frontier-compute",
            "rationale": "declared 3e25 FLOP",
            "digest": compute_only_digest("ca-sb53-frontier-compute"),
        }
    },
    ("GET", "/web/submissions/{submission_id}/materials"): _none,
    ("POST", "/web/submissions/{submission_id}/materials"): upload_form,
    ("GET", "/web/materials/{material_id}/download"): _none,
    ("GET", "/web/submissions/{submission_id}/audit"): _none,
    ("GET", "/web/submissions/{submission_id}/gateway"): _none,
    ("POST", "/web/submissions/{submission_id}/gateway/upstream"): _form(UPSTREAM_FORM),
    ("POST", "/web/submissions/{submission_id}/gateway/limits"): limits_form,
    ("POST", "/web/submissions/{submission_id}/gateway/keys"): _form({"name": "runner"}),
    ("GET", "/web/submissions/{submission_id}/gateway/keys/{key_id}/revoke"): _none,
    ("POST", "/web/submissions/{submission_id}/gateway/keys/{key_id}/revoke"): _none,
    ("GET", "/web/submissions/{submission_id}/gateway/transcripts/{call_id}"): _none,
    ("GET", "/web/clearinghouse/reports"): _none,
    ("GET", "/web/clearinghouse/reports/{report_id}"): _none,
    ("GET", "/web/clearinghouse/duplicates/{duplicate_id}/merge"): _none,
    ("POST", "/web/clearinghouse/duplicates/{duplicate_id}/merge"): _none,
    ("GET", "/web/clearinghouse/duplicates/{duplicate_id}/not-duplicate"): _none,
    ("POST", "/web/clearinghouse/duplicates/{duplicate_id}/not-duplicate"): _none,
    ("GET", "/web/clearinghouse/reports/{report_id}/publish"): _none,
    ("POST", "/web/clearinghouse/reports/{report_id}/publish"): _none,
    ("GET", "/web/clearinghouse/cases"): _none,
    ("GET", "/web/clearinghouse/federation"): _none,
    ("POST", "/web/clearinghouse/cases"): web_clearinghouse.case_form,
    ("GET", "/web/clearinghouse/cases/{case_id}"): _none,
    ("POST", "/web/clearinghouse/cases/{case_id}/vendors"): lambda s, _: {
        "data": {"vendor_org_id": s.platform["other_developer"].org_id}
    },
    ("POST", "/web/clearinghouse/cases/{case_id}/vendors/{org_id}/statuses/{report_id}"): _form(
        {"status": "affected", "due_on": "2026-08-01", "statement": "we ship it"}
    ),
    ("POST", "/web/clearinghouse/cases/{case_id}/messages"): _form({"text": "fix by Friday?"}),
    ("POST", "/web/clearinghouse/cases/{case_id}/vendors/{org_id}/messages"): _form(
        {"text": "just between us"}
    ),
    ("POST", "/web/clearinghouse/cases/{case_id}/vendors/{org_id}/cells"): _form(
        {"product": "pkg:pypi/uploadkit", "status": "affected", "due_on": "2026-08-01"}
    ),
    ("POST", "/web/clearinghouse/cases/{case_id}/vendors/{org_id}/remove"): _none,
}


def compute_only_digest(preset: str) -> str:
    """What the what-if page of a compute-only preset shows for a fresh scenario's submission
    (no evaluation run; the training compute ``Platform.submit`` declares), as its form
    carries it to the determination."""
    policy = parse_policy(preset_text(preset))
    return whatif_digest(policy.sha256, judge(policy, Evidence(training_compute_flop=3e25)))


def observe(
    platform: Platform, only: Sequence[tuple[str, str]] | None = None
) -> dict[str, dict[str, Seen]]:
    """{"METHOD path": {actor: Seen}} for the web routes in ``only`` (default: every one), as
    every kind of actor."""
    sessions = {member: sign_in(platform, member) for member in ACTORS.values() if member}
    shared = WebScenario.build(platform, MODEL, REASON, FINDING)
    seen: dict[str, dict[str, Seen]] = {}
    for method, template in routes() if only is None else only:
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
