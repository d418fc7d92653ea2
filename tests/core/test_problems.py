"""Errors as problems (:mod:`prereview.core.problems`): bad input is a 4xx problem+json with a
stable type, never a 500, and nothing written; an unexpected error is a 500 whose log gets the
error's class and a correlation id, never what was sent."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from prereview.audit.models import AuditEntry
from prereview.core.context import AppContext
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


# -- unexpected errors: logged by class and correlation id, never by content ---------------------

FINDING = "Model exfiltrates /etc/shadow via the sandbox's debug port 31337"
RED_REPORT = "TLP:RED unpatched RCE in the grid operator's SCADA historian"
UPSTREAM = "internal-models.lab.example:8443"


def _install_failing_route(app: FastAPI, context: AppContext) -> None:
    def fail() -> None:
        try:
            with context.engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO no_such_table (finding, report) VALUES (:finding, :report)"),
                    {"finding": FINDING, "report": RED_REPORT},
                )
        except Exception as exc:
            raise RuntimeError(f"could not reach {UPSTREAM} for {FINDING}") from exc

    app.add_api_route("/api/v1/test-only/fail", fail, methods=["POST"])


def test_a_500_logs_class_and_correlation_id_not_parameters(
    app: FastAPI, context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    _install_failing_route(app, context)
    caplog.set_level(logging.DEBUG)
    # raise_server_exceptions=True: the error must not travel on to the server (whose logger
    # would print its traceback and message); the app answers and stops it.
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.post("/api/v1/test-only/fail", json={"description": RED_REPORT})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    correlation_id = problem["correlation_id"]
    assert correlation_id.startswith("err_") and correlation_id in problem["detail"]
    assert response.headers["x-correlation-id"] == correlation_id
    for secret in (FINDING, RED_REPORT, UPSTREAM):
        assert secret not in response.text

    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    rendered = logging.Formatter("%(message)s").format(record)  # with any traceback
    assert correlation_id in rendered
    assert "builtins.RuntimeError at " in rendered  # the class and where it was raised
    assert "ProgrammingError" in rendered or "OperationalError" in rendered  # and its cause
    assert record.exc_info is None and record.exc_text is None
    everything = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    for secret in (FINDING, RED_REPORT, UPSTREAM, "31337", "SCADA"):
        assert secret not in everything
