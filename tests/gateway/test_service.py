"""The gateway's administration API: upstreams stay secret, keys are scoped, bad input changes
nothing."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from prereview.gateway.models import GatewayKey, GatewayLimit, GatewayUpstream
from prereview.gateway.snapshots import hash_key
from prereview.vault.models import SealedSecret
from support.factories import Platform

API_KEY = "sk-secret-upstream-key-93b1d0"
BASE_URL = "https://models.internal.example-lab.com/pre/v1"
OTHER_HEADER = "tenant-token-5c5e1f0a"


def _upstream(**extra: Any) -> dict[str, Any]:
    return {
        "base_url": BASE_URL,
        "upstream_model": "atlas-2-rc3",
        "public_model": "atlas-preview",
        "api_key": API_KEY,
        "headers": {"X-Tenant": OTHER_HEADER},
    } | extra


def _no_secret(text: str) -> None:
    for secret in (API_KEY, BASE_URL, "models.internal.example-lab.com", OTHER_HEADER):
        assert secret not in text, secret


def _counts(platform: Platform) -> tuple[int, ...]:
    with transaction(platform.context.sessions) as db:
        return tuple(
            db.scalar(select(func.count()).select_from(table)) or 0
            for table in (GatewayUpstream, GatewayKey, GatewayLimit, SealedSecret, AuditEntry)
        )


@pytest.fixture
def sub(platform: Platform) -> dict[str, Any]:
    created = platform.submit()
    created["grant"] = platform.grant(created["id"])
    return created


def test_the_upstream_is_sealed_and_never_shown(
    platform: Platform, sub: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"/submissions/{sub['id']}/gateway/upstream"
    answers = [platform.call("developer", "PUT", path, 200, json=_upstream()).json()]
    shown = platform.call("developer", "GET", path, 200).json()
    answers.append(shown)
    assert shown["credential_headers"] == ["authorization", "x-tenant"]
    assert shown["public_model"] == "atlas-preview" and shown["version"] == 1
    assert "base_url" not in shown
    # Reviewers cannot read it at all; outsiders do not learn the submission exists.
    platform.call("agency", "GET", path, 403)
    platform.call("other_developer", "GET", path, 404)
    # Errors that concern it do not repeat it either.
    bad = platform.call("developer", "PUT", path, 422, json=_upstream(base_url="ftp://" + API_KEY))
    answers.append(bad.json())
    audit = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    answers.append(audit)
    everything = json.dumps(answers)
    _no_secret(everything)
    _no_secret(caplog.text)
    # At rest it is ciphertext: no secret appears in the database's sealed row.
    with transaction(platform.context.sessions) as db:
        sealed = db.scalars(select(SealedSecret.sealed)).all()
    assert sealed and all(API_KEY.encode() not in s and b"example-lab" not in s for s in sealed)


BAD_UPSTREAMS = [
    _upstream(base_url="not a url"),
    _upstream(base_url="ftp://host/v1"),
    _upstream(base_url="https://user:pw@host/v1"),
    _upstream(base_url="https://host/v1?x=1"),
    _upstream(base_url="https://host:99999/v1"),
    _upstream(headers={"Content-Type": "x"}),
    _upstream(headers={"bad header": "x"}),
    _upstream(headers={"X-Ok": "two\nlines"}),
    _upstream(headers={"Authorization": "Bearer x"}),
    _upstream(api_key="has space"),
    _upstream(upstream_model=""),
    _upstream(extra_field=1),
    {"upstream_model": "m"},
]


def test_bad_upstreams_are_422_problems_and_write_nothing(
    platform: Platform, sub: dict[str, Any]
) -> None:
    before = _counts(platform)
    for body in BAD_UPSTREAMS:
        answer = platform.call(
            "developer", "PUT", f"/submissions/{sub['id']}/gateway/upstream", 422, json=body
        )
        assert answer.headers["content-type"] == "application/problem+json"
        _no_secret(answer.text)
    assert _counts(platform) == before


def test_bad_limits_and_unknown_targets_change_nothing(
    platform: Platform, sub: dict[str, Any]
) -> None:
    before = _counts(platform)
    grant_path = f"/submissions/{sub['id']}/grants/{sub['grant']['id']}/limits"
    for body in ({"requests_per_minute": 0}, {"tokens_per_day": -5}, {"streams": 2}):
        platform.call("developer", "PUT", grant_path, 422, json=body)
    platform.call(
        "developer", "PUT", f"/submissions/{sub['id']}/grants/gnt_nope/limits", 404, json={}
    )
    platform.call(
        "developer", "PUT", f"/submissions/{sub['id']}/nominations/nom_nope/limits", 404, json={}
    )
    platform.call("agency", "PUT", grant_path, 403, json={"requests_per_minute": 5})
    platform.call("developer", "POST", f"/submissions/{sub['id']}/gateway/keys", 422, json={})
    assert _counts(platform) == before


def test_keys_are_shown_once_stored_hashed_and_scoped_to_their_organisation(
    platform: Platform, sub: dict[str, Any]
) -> None:
    keys = f"/submissions/{sub['id']}/gateway/keys"
    issued = platform.call("agency", "POST", keys, 201, json={"name": "notebook"}).json()
    assert issued["base_url"].endswith("/gateway/v1")
    with transaction(platform.context.sessions) as db:
        row = db.get(GatewayKey, issued["id"])
        assert row is not None and row.key_hash == hash_key(issued["key"])
    # Listed without the key; the developer sees all, the agency its own.
    listed = platform.call("agency", "GET", keys, 200).json()["items"]
    assert [k["id"] for k in listed] == [issued["id"]] and "key" not in listed[0]
    assert [k["id"] for k in platform.call("developer", "GET", keys, 200).json()["items"]] == [
        issued["id"]
    ]
    # Who may make keys: a live grant (agency) only; the developer and outsiders may not.
    platform.call("developer", "POST", keys, 403, json={"name": "x"})
    platform.call("other_agency", "POST", keys, 404, json={"name": "x"})
    platform.call("partner", "POST", keys, 404, json={"name": "x"})
    # Revocation: the holder or the developer; idempotent.
    revoke = f"{keys}/{issued['id']}/revoke"
    platform.call("other_agency", "POST", revoke, 404)
    first = platform.call("developer", "POST", revoke, 200).json()
    again = platform.call("agency", "POST", revoke, 200).json()
    assert first["revoked_at"] is not None and again["revoked_at"] == first["revoked_at"]
    # After its grant is revoked, the agency may list its old keys but make no new one.
    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/grants/{sub['grant']['id']}/revoke", 200
    )
    platform.call("agency", "GET", keys, 200)
    platform.call("agency", "POST", keys, 403, json={"name": "x"})


def test_no_upstream_means_a_clear_503_not_a_crash(platform: Platform, sub: dict[str, Any]) -> None:
    issued = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/gateway/keys", 201, json={"name": "n"}
    ).json()
    answer = platform.client.post(
        "/gateway/v1/chat/completions",
        headers={"Authorization": f"Bearer {issued['key']}"},
        json={"model": "x", "messages": []},
    )
    assert answer.status_code == 503
    assert answer.json()["type"] == "urn:prereview:problem:gateway-upstream-not-configured"
    platform.call("developer", "GET", f"/submissions/{sub['id']}/gateway/upstream", 404)


def test_withdrawal_shreds_the_upstream_and_closes_the_gateway(
    platform: Platform, sub: dict[str, Any]
) -> None:
    path = f"/submissions/{sub['id']}/gateway/upstream"
    platform.call("developer", "PUT", path, 200, json=_upstream())
    platform.call("developer", "POST", f"/submissions/{sub['id']}/withdraw", 200, json={})
    answer = platform.call("developer", "PUT", path, 409, json=_upstream())
    assert answer.json()["type"] == "urn:prereview:problem:gateway-access-not-live"


def test_without_a_public_name_reviewers_see_the_submissions_model_name(
    platform: Platform,
) -> None:
    """The upstream's id is the lab's internal name: it is never the default public one."""
    sub = platform.submit(model_name="Atlas  Frontier\tPreview")
    path = f"/submissions/{sub['id']}/gateway/upstream"
    body = _upstream() | {"public_model": None}
    set_ = platform.call("developer", "PUT", path, 200, json=body).json()
    assert set_["public_model"] == "Atlas-Frontier-Preview"
    assert set_["upstream_model"] == "atlas-2-rc3"
    platform.grant(sub["id"])
    key = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/gateway/keys", 201, json={"name": "k"}
    ).json()["key"]
    listed = platform.client.get(
        "/gateway/v1/models", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert [m["id"] for m in listed["data"]] == ["Atlas-Frontier-Preview"]
    assert "atlas-2-rc3" not in json.dumps(listed)
