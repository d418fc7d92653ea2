"""A submission in the middle of its review, and an example call for every API operation.

``EXAMPLES`` has one entry per operation in the OpenAPI document; the no-veto and authorization
tests walk the document and fail on any operation missing here, so a new route cannot slip by
untested.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prereview.clearinghouse.taxii import COLLECTIONS
from prereview.exchange.csaf import csaf_filename
from prereview.exchange.stix import stable_id
from support.factories import Platform
from support.factories.evals import eval_log, solved


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
    eval_result_id: str = ""
    clearinghouse: dict[str, str] = field(default_factory=dict)
    gateway: dict[str, str] = field(default_factory=dict)
    pack: dict[str, str] = field(default_factory=dict)
    spare_user_id: str = ""

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
        run = platform.call(
            "agency", "POST", f"/submissions/{sub['id']}/evals", 201, json=EVAL_RUN
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
            eval_result_id=run["tasks"][0]["id"],
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
            "result_id": self.eval_result_id,
            "tile_path": "0/000.p/1",  # the log's first leaf hash, as a tlog-tiles tile
        }

    def call(self, who: str | None, method: str, template: str) -> Any:
        """Make the example call for one operation as ``who`` (None: anonymous)."""
        params = self.path_params(who)
        if any(f"{{{key}}}" in template for key in CLEARINGHOUSE_PARAMS):
            params |= clearinghouse_ids(self)
        if "/gateway/" in template or any(f"{{{key}}}" in template for key in GATEWAY_PARAMS):
            params |= gateway_ids(self)
        if "{user_id}" in template:
            params["user_id"] = spare_user(self)
        if "{pack_id}" in template:
            params |= pack_ids(self)
        path = template.format(**params)
        kwargs = EXAMPLES[(method, template)](self)
        if not path.startswith("/api/v1/"):
            headers = self.platform.members[who].headers if who else {}
            return self.platform.client.request(method, path, headers=headers, **kwargs)
        return self.platform.call(who, method, path.removeprefix("/api/v1"), **kwargs)


CLEARINGHOUSE_PARAMS = (
    "report_id",
    "csaf_name",
    "case_id",
    "duplicate_id",
    "collection_id",
    "object_id",
    "claim_id",
)


def verify_claims(platform: Platform, who: str) -> list[dict[str, Any]]:
    """A clearinghouse analyst verifies every pending product claim of ``who``'s organisation
    (claims confer a need to know only once verified)."""
    pending = platform.call(
        "clearinghouse", "GET", "/clearinghouse/claims", 200, params={"limit": 200}
    ).json()["items"]
    return [
        platform.call(
            "clearinghouse",
            "POST",
            f"/clearinghouse/claims/{claim['id']}/decision",
            200,
            json={"decision": "verify", "note": "DNS TXT challenge checked"},
        ).json()
        for claim in pending
        if claim["org_id"] == platform[who].org_id
    ]


def ch_report(report_id: str, **extra: Any) -> dict[str, Any]:
    """A vulnerability report in uploadkit whose text is unique to ``report_id``."""
    token = report_id.replace("-", "_").lower()
    return {
        "id": report_id,
        "title": f"Path traversal in handler_{token}",
        "description": f"handler_{token}() in app/{token}.py joins the user's file name to the "
        "upload root without normalising it, so '../' sequences write outside the root.",
        "affected": [{"purl": "pkg:pypi/uploadkit@1.2.0"}],
        "cwes": ["CWE-22"],
        **extra,
    }


def clearinghouse_ids(scenario: Scenario) -> dict[str, str]:
    """Built on first use: an AMBER report by the agency in uploadkit, which the developer
    makes and the partner runs (both claims verified), published but in a case under embargo
    with the developer as vendor; a near-duplicate of it proposed to the clearinghouse; and a
    product claim of the other partner waiting for an analyst."""
    if scenario.clearinghouse:
        return scenario.clearinghouse
    platform = scenario.platform
    product = {"identifiers": ["pkg:pypi/uploadkit"]}
    platform.call("developer", "POST", "/clearinghouse/products", 201, json=product)
    platform.call("partner", "POST", "/clearinghouse/inventory", 201, json=product)
    verify_claims(platform, "developer")
    verify_claims(platform, "partner")
    (pending,) = platform.call(
        "other_partner",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": [f"pkg:npm/claimed-{uuid.uuid4().hex[:8]}"], "proof": "TXT record"},
    ).json()
    report_id = f"PRV-{uuid.uuid4().hex[:12]}"
    cve = f"CVE-2026-{10_000_000 + uuid.uuid4().int % 90_000_000}"  # 8 digits: no draw collides
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        201,
        json=ch_report(report_id, aliases=[cve]),
    )
    twin = ch_report(f"{report_id}-B") | {
        "title": ch_report(report_id)["title"],
        "description": ch_report(report_id)["description"],
    }
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=twin)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{report_id}/publish", 200)
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit",
            "report_ids": [report_id],
            "vendor_org_ids": [platform["developer"].org_id],
        },
    ).json()
    proposals = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"limit": 200}
    ).json()["items"]
    (proposal,) = [p for p in proposals if p["report_id"] == f"{report_id}-B"]
    scenario.clearinghouse.update(
        report_id=report_id,
        case_id=case["id"],
        duplicate_id=proposal["id"],
        # TAXII: the TLP:AMBER collection, and the report's STIX vulnerability (embargoed).
        collection_id=next(c.id for c in COLLECTIONS.values() if c.title.endswith("TLP:AMBER")),
        object_id=stable_id("vulnerability", report_id),
        claim_id=pending["id"],
        csaf_name=csaf_filename(report_id),  # the advisory's canonical CSAF file name
    )
    return scenario.clearinghouse


def spare_user(scenario: Scenario) -> str:
    """Built on first use: a member of the developer's organisation, to deactivate and back."""
    if not scenario.spare_user_id:
        developer = scenario.platform["developer"].org_id
        scenario.spare_user_id = scenario.platform.call(
            "developer",
            "POST",
            f"/organisations/{developer}/users",
            201,
            json={"email": f"spare.{uuid.uuid4().hex[:8]}@example.org", "name": "Spare"},
        ).json()["id"]
    return scenario.spare_user_id


def _invitation(scenario: Scenario) -> dict[str, Any]:
    """A fresh invitation into the developer's organisation, to redeem (no token needed)."""
    developer = scenario.platform["developer"].org_id
    created = scenario.platform.call(
        "developer",
        "POST",
        f"/organisations/{developer}/invitations",
        201,
        json={"email": f"invitee.{uuid.uuid4().hex[:8]}@example.org", "role": "member"},
    ).json()
    return {"json": {"secret": created["secret"], "name": "Invitee"}}


def _json(body: dict[str, Any]) -> Callable[[Scenario], dict[str, Any]]:
    return lambda _: {"json": body}


def _none(_: Scenario) -> dict[str, Any]:
    return {}


def _report_entries(scenario: Scenario) -> dict[str, Any]:
    """The entries of the current quarter's report, at the checkpoint the report names."""
    report = scenario.platform.call(None, "GET", "/transparency/report", 200).json()
    return {"params": {"period": report["period"]["label"], "size": report["checkpoint"]["size"]}}


EVAL_RUN: dict[str, Any] = {
    "model": "openai/atlas",
    "tasks": [
        {
            "task": "ctf",
            "status": "success",
            "accuracy": 0.5,
            "stderr": 0.1,
            "ci_lower": 0.3,
            "ci_upper": 0.7,
            "samples": 24,
            "scored": 24,
        }
    ],
}


def _eval_log() -> bytes:
    """A real .eval log that bears out EVAL_RUN (12 of 24): the server reads every log."""
    with tempfile.TemporaryDirectory() as folder:
        path = eval_log(
            Path(folder) / "ctf.eval",
            solved(12, 24),
            started=datetime(2026, 6, 10, 9, 0, tzinfo=UTC),
        )
        return path.read_bytes()


EVAL_LOG = _eval_log()


def _with_eval_log(scenario: Scenario) -> dict[str, Any]:
    # A download needs a stored log: the agency uploads it first (a second upload is a 409).
    scenario.platform.call(
        "agency",
        "POST",
        f"/eval-results/{scenario.eval_result_id}/log",
        params={"filename": "ctf.eval"},
        content=EVAL_LOG,
    )
    return {}


POC_ATTACH: dict[str, Any] = {
    "params": {"package": "pyyaml", "affected": "5.3.1", "fixed": "5.4"},
    "content": b"import yaml\nprint(yaml.__version__)\n",
}


def _with_poc(scenario: Scenario) -> dict[str, Any]:
    # A PoC to read: its reporter (the agency) attaches one first (each call adds a version).
    report_id = clearinghouse_ids(scenario)["report_id"]
    scenario.platform.call(
        "agency", "POST", f"/clearinghouse/reports/{report_id}/poc", 201, **POC_ATTACH
    )
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
    ("POST", "/api/v1/users/{user_id}/deactivate"): _none,
    ("POST", "/api/v1/users/{user_id}/reactivate"): _none,
    ("POST", "/api/v1/organisations/{org_id}/invitations"): lambda _: {
        "json": {"email": f"invitee.{uuid.uuid4().hex[:8]}@example.org"}
    },
    ("POST", "/api/v1/invitations/redeem"): _invitation,
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
    ("POST", "/api/v1/submissions/{submission_id}/attestation"): _json({"name_reviewers": True}),
    ("GET", "/healthz"): _none,
    ("GET", "/audit/log/checkpoint"): _none,
    ("GET", "/audit/log/tile/{tile_path}"): _none,
    ("GET", "/api/v1/audit/checkpoint"): _none,
    ("GET", "/api/v1/audit/proof/inclusion"): lambda _: {"params": {"seq": 0}},
    ("GET", "/api/v1/audit/proof/consistency"): lambda _: {"params": {"first": 1}},
    ("GET", "/api/v1/audit/entries"): _none,
    ("GET", "/api/v1/transparency/report"): lambda _: {"params": {"period": "2026Q2"}},
    ("GET", "/api/v1/transparency/entries"): _report_entries,
    ("POST", "/api/v1/submissions/{submission_id}/materials"): lambda _: {
        "params": {"filename": "eval.json", "kind": "eval_report", "tlp": "TLP:GREEN"},
        "content": b'{"ctf": 0.41}',
    },
    ("GET", "/api/v1/submissions/{submission_id}/materials"): _none,
    ("GET", "/api/v1/materials/{material_id}"): _none,
    ("GET", "/api/v1/materials/{material_id}/content"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/evals"): _json(EVAL_RUN),
    ("GET", "/api/v1/submissions/{submission_id}/evals"): _none,
    ("POST", "/api/v1/eval-results/{result_id}/log"): lambda _: {
        "params": {"filename": "ctf.eval"},
        "content": EVAL_LOG,
    },
    ("GET", "/api/v1/eval-results/{result_id}/log"): _with_eval_log,
    ("POST", "/api/v1/submissions/{submission_id}/determinations"): _json(
        {"preset": "eu-ai-act-systemic-risk", "rationale": "declared 3e25 FLOP"}
    ),
    ("GET", "/api/v1/submissions/{submission_id}/determinations"): _none,
    ("GET", "/api/v1/submissions/{submission_id}/determination-notices"): _none,
    ("POST", "/api/v1/submissions/{submission_id}/coverage/what-if"): _json(
        {"preset": "draft-cyber-capability"}
    ),
    ("GET", "/api/v1/coverage/presets"): _none,
    ("POST", "/api/v1/clearinghouse/reports"): lambda _: {
        "json": ch_report(f"PRV-{uuid.uuid4().hex[:12]}")
    },
    ("POST", "/api/v1/clearinghouse/imports"): lambda _: {
        "content": json.dumps(ch_report(f"PRV-{uuid.uuid4().hex[:12]}")).encode(),
        "params": {"format": "jsonl"},
    },
    ("GET", "/api/v1/clearinghouse/reports"): _none,
    ("GET", "/api/v1/clearinghouse/reports/{report_id}"): _none,
    ("GET", "/api/v1/clearinghouse/reports/{report_id}/evidence"): _none,
    ("POST", "/api/v1/clearinghouse/reports/{report_id}/poc"): lambda _: dict(POC_ATTACH),
    ("GET", "/api/v1/clearinghouse/reports/{report_id}/poc"): _with_poc,
    ("GET", "/api/v1/clearinghouse/reports/{report_id}/reproduction"): _with_poc,
    ("GET", "/api/v1/clearinghouse/reports/{report_id}/relations"): _none,
    ("GET", "/api/v1/clearinghouse/reports/{report_id}/versions"): _none,
    ("POST", "/api/v1/clearinghouse/reports/{report_id}/publish"): _json({"tlp": "AMBER"}),
    # Tightening: the reporter and the clearinghouse may; loosening is the reporter's alone.
    ("PUT", "/api/v1/clearinghouse/reports/{report_id}/tlp"): _json({"tlp": "AMBER+STRICT"}),
    ("POST", "/api/v1/clearinghouse/relations"): lambda _: {
        "json": {"kind": "alias", "source": f"X-{uuid.uuid4().hex}", "target": "CVE-2026-9"}
    },
    ("GET", "/api/v1/clearinghouse/duplicates"): _none,
    ("POST", "/api/v1/clearinghouse/duplicates/{duplicate_id}/decision"): _json(
        {"decision": "merge", "note": "same bug"}
    ),
    ("POST", "/api/v1/clearinghouse/cases"): _json({"title": "A new case"}),
    ("GET", "/api/v1/clearinghouse/cases"): _none,
    ("GET", "/api/v1/clearinghouse/cases/{case_id}"): _none,
    ("POST", "/api/v1/clearinghouse/cases/{case_id}/members"): lambda s: {
        "json": {"vendor_org_ids": [s.platform["other_developer"].org_id]}
    },
    ("PUT", "/api/v1/clearinghouse/cases/{case_id}/embargo"): _json(
        {"embargo_until": "2026-07-01T12:00:00+02:00", "reason": "fix ready"}
    ),
    ("GET", "/api/v1/clearinghouse/cases/{case_id}/vendors"): _none,
    ("GET", "/api/v1/clearinghouse/cases/{case_id}/messages"): _none,
    ("POST", "/api/v1/clearinghouse/cases/{case_id}/messages"): _json({"text": "fix by Friday?"}),
    ("PUT", "/api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/statuses/{report_id}"): _json(
        {"status": "affected", "statement": "we ship the vulnerable code"}
    ),
    ("PUT", "/api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/cells"): _json(
        {"product": "pkg:pypi/uploadkit", "status": "affected", "due_on": "2026-08-01"}
    ),
    ("DELETE", "/api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}"): _none,
    ("GET", "/api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/messages"): _none,
    ("POST", "/api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/messages"): _json(
        {"text": "just between us"}
    ),
    ("POST", "/api/v1/clearinghouse/products"): _json({"identifiers": ["pkg:npm/framekit"]}),
    ("POST", "/api/v1/clearinghouse/inventory"): _json({"identifiers": ["pkg:npm/framekit"]}),
    ("GET", "/api/v1/clearinghouse/products"): _none,
    ("GET", "/api/v1/clearinghouse/notifications"): _none,
    ("POST", "/api/v1/clearinghouse/reports/{report_id}/model-label"): lambda s: {
        "json": {"submission_id": s.submission_id, "model": "Atlas"}
    },
    ("GET", "/api/v1/clearinghouse/triage/summary"): _none,
    ("GET", "/api/v1/clearinghouse/triage/queue"): _none,
    ("GET", "/api/v1/clearinghouse/triage/groups"): _none,
    ("POST", "/api/v1/clearinghouse/reports/{report_id}/triage"): _json({"outcome": "accepted"}),
    ("GET", "/api/v1/clearinghouse/funnel"): _none,
    ("GET", "/api/v1/clearinghouse/federation/peers"): _none,
    ("GET", "/api/v1/clearinghouse/vendors/{org_id}/capacity"): _none,
    ("PUT", "/api/v1/clearinghouse/vendors/{org_id}/capacity"): _json({"per_week": 1000}),
    ("POST", "/api/v1/clearinghouse/products/{claim_id}/withdraw"): _none,
    ("GET", "/api/v1/clearinghouse/claims"): _none,
    ("POST", "/api/v1/clearinghouse/claims/{claim_id}/decision"): _json(
        {"decision": "verify", "note": "signed statement checked"}
    ),
    ("GET", "/api/v1/clearinghouse/advisories/for-me"): _none,
    ("GET", "/api/v1/clearinghouse/advisories/{report_id}.csaf.json"): _none,
    ("GET", "/api/v1/clearinghouse/advisories/{report_id}/csaf/{csaf_name}"): _none,
    ("GET", "/api/v1/clearinghouse/advisories/{report_id}.osv.json"): _none,
    ("GET", "/api/v1/clearinghouse/advisories/{report_id}.cve.json"): _none,
    ("GET", "/api/v1/clearinghouse/advisories/{report_id}.stix.json"): _none,
    ("GET", "/taxii2/"): _none,
    ("GET", "/taxii2/api/"): _none,
    ("GET", "/taxii2/api/collections/"): _none,
    ("GET", "/taxii2/api/collections/{collection_id}/"): _none,
    ("GET", "/taxii2/api/collections/{collection_id}/objects/"): _none,
    ("GET", "/taxii2/api/collections/{collection_id}/manifest/"): _none,
    ("GET", "/taxii2/api/collections/{collection_id}/objects/{object_id}/"): _none,
    ("GET", "/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/"): _none,
}


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) in an OpenAPI document."""
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    ]


# -- gateway: an upstream, a key of the agency, and a kept transcript, built on first use ----

GATEWAY_PARAMS = ("key_id", "call_id")


def gateway_ids(scenario: Scenario) -> dict[str, str]:
    """The developer's upstream (an address nothing listens on: no call is made), a gateway key
    of the granted agency, and one kept transcript of an agency call, stored as the gateway's
    transcript sink stores it."""
    if scenario.gateway:
        return scenario.gateway
    from datetime import UTC, datetime

    from prereview.core.db import transaction
    from prereview.gateway.engine.interfaces import TranscriptRecord
    from prereview.gateway.service import store_transcripts
    from prereview.vault.service import Vault

    platform = scenario.platform
    sub_id = scenario.submission_id
    platform.call(
        "developer",
        "PUT",
        f"/submissions/{sub_id}/gateway/upstream",
        200,
        json={"base_url": "https://upstream.invalid/v1", "upstream_model": "m", "api_key": "sk-x"},
    )
    key = platform.call(
        "agency", "POST", f"/submissions/{sub_id}/gateway/keys", 201, json={"name": "k"}
    ).json()
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    settings = platform.context.settings
    with transaction(platform.context.sessions) as db:
        store_transcripts(
            db,
            Vault.local(settings.master_key_file, settings.blob_dir),
            [
                TranscriptRecord(
                    call_id=call_id,
                    started_at=datetime.now(UTC),
                    access_id=scenario.grant_id,
                    submission_id=sub_id,
                    endpoint="chat.completions",
                    request_body=b'{"messages":[]}',
                    response_body=b'{"choices":[]}',
                )
            ],
            platform.context.clock.now(),
        )
    scenario.gateway.update(key_id=key["id"], call_id=call_id)
    return scenario.gateway


EXAMPLES.update(
    {
        ("PUT", "/api/v1/submissions/{submission_id}/gateway/upstream"): _json(
            {"base_url": "https://upstream.invalid/v1", "upstream_model": "m2", "api_key": "sk-y"}
        ),
        ("GET", "/api/v1/submissions/{submission_id}/gateway/upstream"): _none,
        ("POST", "/api/v1/submissions/{submission_id}/gateway/keys"): _json({"name": "ci"}),
        ("GET", "/api/v1/submissions/{submission_id}/gateway/keys"): _none,
        ("POST", "/api/v1/submissions/{submission_id}/gateway/keys/{key_id}/revoke"): _none,
        ("GET", "/api/v1/submissions/{submission_id}/gateway/limits"): _none,
        ("PUT", "/api/v1/submissions/{submission_id}/grants/{grant_id}/limits"): _json(
            {"requests_per_minute": 60}
        ),
        ("PUT", "/api/v1/submissions/{submission_id}/nominations/{nomination_id}/limits"): _json(
            {"tokens_per_day": 100000}
        ),
        ("GET", "/api/v1/submissions/{submission_id}/gateway/transcripts"): _none,
        ("GET", "/api/v1/submissions/{submission_id}/gateway/transcripts/{call_id}"): _none,
    }
)


# -- private task packs: one the agency owns, not shared, built on first use ---------------


def pack_ids(scenario: Scenario) -> dict[str, str]:
    """A pack the agency uploaded and shares with nobody; the other agency names a share."""
    if not scenario.pack:
        from support.factories.packs import upload_pack

        pack = upload_pack(scenario.platform)
        scenario.pack.update(
            pack_id=pack["id"], agency_org_id=scenario.platform["other_agency"].org_id
        )
    return scenario.pack


def _shared_pack(scenario: Scenario) -> dict[str, Any]:
    # Unsharing needs a live share: the agency shares its pack with the other agency first.
    ids = pack_ids(scenario)
    scenario.platform.call(
        "agency",
        "POST",
        f"/eval-packs/{ids['pack_id']}/shares",
        201,
        json={"agency_org_id": ids["agency_org_id"]},
    )
    return {}


def _fresh_pack(_: Scenario) -> dict[str, Any]:
    from support.factories.packs import pack_bytes

    return {"params": {"filename": "pack.tar.gz"}, "content": pack_bytes()}


EXAMPLES.update(
    {
        ("POST", "/api/v1/eval-packs"): _fresh_pack,
        ("GET", "/api/v1/eval-packs"): _none,
        ("GET", "/api/v1/eval-packs/{pack_id}"): _none,
        ("GET", "/api/v1/eval-packs/{pack_id}/content"): _none,
        ("POST", "/api/v1/eval-packs/{pack_id}/shares"): lambda s: {
            "json": {"agency_org_id": s.platform["other_agency"].org_id}
        },
        ("DELETE", "/api/v1/eval-packs/{pack_id}/shares/{agency_org_id}"): _shared_pack,
    }
)
