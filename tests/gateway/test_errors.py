"""The gateway's problem documents: a closed access names its reason, never its id."""

from __future__ import annotations

import json

import pytest

from prereview.gateway.errors import GatewayAccessClosed, GatewayRateLimited


def test_error_problem_documents() -> None:
    closed = GatewayAccessClosed("Window ended.", reason="expired", access_id="g-1")
    problem = closed.problem()
    assert problem["type"] == "urn:prereview:problem:gateway-access-closed"
    assert problem["reason"] == "expired"
    assert "g-1" not in json.dumps(problem)
    with pytest.raises(ValueError, match="unknown access-closed reason"):
        GatewayAccessClosed("x", reason="tired")
    limited = GatewayRateLimited("Slow down.", limit="requests-per-minute", retry_after=0.2)
    assert limited.retry_after == 1
    assert limited.problem()["retry_after"] == 1
