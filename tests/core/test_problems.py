"""Bad input: a 4xx problem+json with a stable type, never a 500, and nothing written."""

from __future__ import annotations

import sqlite3

from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.review.models import Submission
from support.factories import Platform


def counts(platform: Platform) -> tuple[int, int]:
    with platform.context.sessions() as db:
        return (
            db.scalar(select(func.count()).select_from(Submission)) or 0,
            db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def test_malformed_and_invalid_bodies_write_nothing(platform: Platform) -> None:
    before = counts(platform)
    bad_bodies = [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"json": {"model_name": "", "model_version": "1"}},
        {"json": {"model_name": "M", "model_version": "1", "training_compute_flop": -1}},
        {
            "json": {
                "model_name": "M",
                "model_version": "1",
                "planned_release_at": "2026-07-01T00:00:00",
            }
        },
        {"json": {"model_name": "M", "model_version": "1", "modalities": ["smell"]}},
        {"json": {"model_name": "M", "model_version": "1", "surprise": True}},
        {
            "json": {
                "model_name": "M",
                "model_version": "1",
                "contacts": [{"name": "A", "email": "nope"}],
            }
        },
        {"json": ["not", "an", "object"]},
    ]
    for body in bad_bodies:
        response = platform.call("developer", "POST", "/submissions", **body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "urn:prereview:problem:invalid-input"
        assert problem["status"] == 422 and problem["detail"]
        assert problem["errors"], problem
    assert counts(platform) == before


def test_naive_datetime_is_named_in_the_error(platform: Platform) -> None:
    problem = platform.call(
        "developer",
        "POST",
        "/submissions",
        422,
        json={"model_name": "M", "model_version": "1", "planned_release_at": "2026-07-01T00:00:00"},
    ).json()
    assert problem["errors"][0]["location"] == ["body", "planned_release_at"]
    assert "timezone" in problem["errors"][0]["message"]


def test_unknown_ids_are_404_problems(platform: Platform) -> None:
    for path in ["/submissions/sub_nope", "/findings/fnd_nope", "/organisations/org_nope"]:
        problem = platform.call("developer", "GET", path, 404).json()
        assert problem["type"].startswith("urn:prereview:problem:") and problem["type"].endswith(
            "not-found"
        )
    route = platform.client.get("/api/v1/no/such/route")
    assert route.status_code == 404
    assert route.headers["content-type"].startswith("application/problem+json")
    method = platform.client.delete("/api/v1/queue", headers=platform["agency"].headers)
    assert method.status_code == 405
    assert method.json()["type"] == "urn:prereview:problem:method-not-allowed"


def test_secret_input_is_not_echoed(platform: Platform) -> None:
    secret = "sk-live-THIS-MUST-NOT-COME-BACK"
    response = platform.call(
        "developer",
        "POST",
        "/submissions",
        422,
        json={"model_name": "M", "model_version": secret * 10},
    )
    assert secret not in response.text


def test_deep_or_non_utf8_json_bodies_are_4xx_and_write_nothing(platform: Platform) -> None:
    before = counts(platform)
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"model_name": "\xff", "model_version": "1"}'):
        response = platform.call(
            "developer",
            "POST",
            "/submissions",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].startswith("urn:prereview:problem:")
    assert counts(platform) == before


def test_unexpected_errors_answer_a_correlation_id(platform: Platform) -> None:
    def boom() -> None:
        raise ValueError("secret-upstream.internal:8443")

    platform.client.app.add_api_route("/api/v1/test-only/boom", boom)  # type: ignore[attr-defined]
    response = platform.client.get("/api/v1/test-only/boom")
    assert response.status_code == 500
    problem = response.json()
    assert problem["type"] == "urn:prereview:problem:internal"
    assert problem["correlation_id"] == response.headers["x-correlation-id"]
    assert "secret-upstream" not in response.text


def test_a_write_lock_held_past_the_wait_is_a_503_to_retry(platform: Platform) -> None:
    from prereview.core.db import WriteLockTimeout

    def locked() -> None:
        raise WriteLockTimeout("INSERT", None, sqlite3.OperationalError("database is locked"))

    platform.client.app.add_api_route("/api/v1/test-only/locked", locked)  # type: ignore[attr-defined]
    response = platform.client.get("/api/v1/test-only/locked")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:prereview:problem:database-busy"
