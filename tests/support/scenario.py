"""A submission in the middle of its review, and an example call for every API operation.

``EXAMPLES`` has one entry per operation in the OpenAPI document; the no-veto and authorization
tests walk the document and fail on any operation missing here, so a new route cannot slip by
untested.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from support.factories import Platform


@dataclass
class Scenario:
    platform: Platform
    submission_id: str
    grant_id: str
    nomination_id: str
    finding_id: str
    planned_release_at: str
    token_id: str
    material_id: str

    @classmethod
    def build(cls, platform: Platform) -> Scenario:
        planned = (platform.context.clock.now() + timedelta(days=20)).isoformat()
        sub = platform.submit(planned_release_at=planned)
        grant = platform.grant(sub["id"], window_days=25)
        nomination = platform.call(
            "agency",
            "POST",
            f"/submissions/{sub['id']}/nominations",
            201,
            json={"partner_org_id": platform["partner"].org_id, "reason": "runs hospital EHR"},
        ).json()
        platform.call(
            "developer",
            "POST",
            f"/submissions/{sub['id']}/nominations/{nomination['id']}/consent",
            200,
        )
        finding = platform.call(
            "agency",
            "POST",
            f"/submissions/{sub['id']}/findings",
            201,
            json={"title": "t", "description": "d", "severity": "high", "category": "other"},
        ).json()
        spare = platform.call("developer", "POST", "/tokens", 201, json={"name": "spare"}).json()
        material = platform.call(
            "developer",
            "POST",
            f"/submissions/{sub['id']}/materials",
            201,
            params={"filename": "system-card.pdf", "kind": "system_card"},
            content=b"%PDF-1.7 system card",
        ).json()
        return cls(
            platform,
            sub["id"],
            grant["id"],
            nomination["id"],
            finding["id"],
            planned,
            spare["id"],
            material["id"],
        )

    def path_params(self, who: str | None) -> dict[str, str]:
        member = self.platform.members.get(who or "")
        return {
            "submission_id": self.submission_id,
            "grant_id": self.grant_id,
            "nomination_id": self.nomination_id,
            "finding_id": self.finding_id,
            "org_id": member.org_id if member else self.platform["developer"].org_id,
            "token_id": self.token_id,
            "material_id": self.material_id,
        }

    def call(self, who: str | None, method: str, template: str) -> Any:
        """Make the example call for one operation as ``who`` (None: anonymous)."""
        path = template.format(**self.path_params(who))
        kwargs = EXAMPLES[(method, template)](self)
        if not path.startswith("/api/v1/"):
            headers = self.platform.members[who].headers if who else {}
            return self.platform.client.request(method, path, headers=headers, **kwargs)
        return self.platform.call(who, method, path.removeprefix("/api/v1"), **kwargs)


def _json(body: dict[str, Any]) -> Callable[[Scenario], dict[str, Any]]:
    return lambda _: {"json": body}


def _none(_: Scenario) -> dict[str, Any]:
    return {}


EXAMPLES: dict[tuple[str, str], Callable[[Scenario], dict[str, Any]]] = {
    ("GET", "/api/v1/me"): _none,
    ("POST", "/api/v1/organisations"): _json({"name": "New Lab", "kind": "developer"}),
    ("GET", "/api/v1/organisations"): _none,
    ("GET", "/api/v1/organisations/{org_id}"): _none,
    ("POST", "/api/v1/organisations/{org_id}/users"): lambda _: {
        "json": {"email": f"person.{uuid.uuid4().hex[:8]}@example.org", "name": "New Person"}
    },
    ("GET", "/api/v1/organisations/{org_id}/users"): _none,
    ("POST", "/api/v1/tokens"): _json({"name": "ci"}),
    ("GET", "/api/v1/tokens"): _none,
    ("POST", "/api/v1/tokens/{token_id}/revoke"): _none,
    ("POST", "/api/v1/submissions"): _json({"model_name": "X", "model_version": "1"}),
    ("GET", "/api/v1/submissions"): _none,
    ("GET", "/api/v1/submissions/{submission_id}"): _none,
    ("PATCH", "/api/v1/submissions/{submission_id}"): _json(
        {"planned_release_at": "2030-01-01T00:00:00Z", "description": "changed"}
    ),
    ("POST", "/api/v1/submissions/{submission_id}/release"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/withdraw"): _json({"reason": "no"}),
    ("GET", "/api/v1/submissions/{submission_id}/window"): _none,
    ("PUT", "/api/v1/submissions/{submission_id}/window"): _json({"days": 20}),
    ("POST", "/api/v1/submissions/{submission_id}/grants"): lambda s: {
        "json": {"agency_org_id": s.platform["other_agency"].org_id}
    },
    ("GET", "/api/v1/submissions/{submission_id}/grants"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/grants/{grant_id}/revoke"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/nominations"): lambda s: {
        "json": {"partner_org_id": s.platform["other_partner"].org_id, "reason": "bank"}
    },
    ("GET", "/api/v1/submissions/{submission_id}/nominations"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/nominations/{nomination_id}/consent"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/nominations/{nomination_id}/decline"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/findings"): _json(
        {
            "title": "Blocks nothing",
            "description": "A critical finding is still advice.",
            "severity": "critical",
            "category": "cyber_offense_capability",
        }
    ),
    ("GET", "/api/v1/submissions/{submission_id}/findings"): _none,
    ("GET", "/api/v1/findings/{finding_id}"): _none,
    ("POST", "/api/v1/findings/{finding_id}/responses"): _json(
        {"status": "disputed", "text": "We disagree."}
    ),
    ("GET", "/api/v1/queue"): _none,
    ("GET", "/api/v1/submissions/{submission_id}/audit"): _none,
    ("GET", "/healthz"): _none,
    ("GET", "/api/v1/audit/checkpoint"): _none,
    ("GET", "/api/v1/audit/proof/inclusion"): lambda _: {"params": {"seq": 0}},
    ("GET", "/api/v1/audit/proof/consistency"): lambda _: {"params": {"first": 1}},
    ("GET", "/api/v1/audit/entries"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/materials"): lambda _: {
        "params": {"filename": "eval.json", "kind": "eval_report", "tlp": "TLP:GREEN"},
        "content": b'{"ctf": 0.41}',
    },
    ("GET", "/api/v1/submissions/{submission_id}/materials"): _none,
    ("GET", "/api/v1/materials/{material_id}"): _none,
    ("GET", "/api/v1/materials/{material_id}/content"): _none,
}


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) in an OpenAPI document."""
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    ]
