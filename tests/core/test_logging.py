"""Unexpected errors: the log gets the error's class and a correlation id, never what was sent."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from prereview.core.context import AppContext
from prereview.core.db import make_engine

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


def test_engines_hide_sql_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(Exception) as failed, engine.begin() as connection:
            connection.execute(
                text("INSERT INTO no_such_table (finding) VALUES (:finding)"),
                {"finding": FINDING},
            )
    finally:
        engine.dispose()
    assert FINDING not in str(failed.value)
    assert "hidden" in str(failed.value)
