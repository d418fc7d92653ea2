"""Every answered call is in the audit log, durably: the write-ahead journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.core.settings import Settings
from prereview.gateway import CallRecord, SecretHeaders
from prereview.gateway.errors import GatewayAuditBehind
from prereview.gateway.journal import INTERRUPTED, journal_size, move_journal, write_journal
from prereview.gateway.testing.harness import running_gateway
from prereview.gateway.testing.upstream_sim import running_sim
from support.factories import Platform

UPSTREAM_KEY = "sk-journal"
MODEL = "preview"
SERVER = Path(__file__).with_name("journal_server.py")
AT = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def _call(call_id: str, submission_id: str, **fields: Any) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        started_at=AT,
        endpoint="chat.completions",
        status=200,
        latency_ms=1.5,
        submission_id=submission_id,
        access_id="gnt_x",
        **fields,
    )


def _audited(platform: Platform, submission_id: str) -> list[dict[str, Any]]:
    page = platform.call(
        "developer", "GET", f"/submissions/{submission_id}/audit", 200, params={"limit": 200}
    ).json()
    return [e for e in page["items"] if e["action"] == "gateway:call:complete"]


def test_journal_rows_move_into_the_audit_log_once(platform: Platform) -> None:
    sub = platform.submit()["id"]
    sessions = platform.context.sessions
    with transaction(sessions) as db:
        write_journal(
            db,
            [
                ("final", _call("c-plain", sub)),
                ("open", _call("c-stream", sub, stream=True)),
                ("open", _call("c-dead", sub, stream=True)),
            ],
            AT,
        )
    with transaction(sessions) as db:
        # Only the finished call moves; open streams wait for their end.
        assert move_journal(db, AT, stale_before=AT - timedelta(hours=1)) == 1
    with transaction(sessions) as db:
        # A second mover (another replica) finds nothing left to move.
        assert move_journal(db, AT, stale_before=AT - timedelta(hours=1)) == 0
        write_journal(db, [("close", _call("c-stream", sub, stream=True, completion_tokens=9))], AT)
    later = AT + timedelta(hours=2)
    with transaction(sessions) as db:
        # The finished stream, and the one whose process died, once it is stale.
        assert move_journal(db, later, stale_before=later - timedelta(hours=1)) == 2
        assert journal_size(db) == 0
    entries = {e["object_id"]: e["detail"] for e in _audited(platform, sub)}
    assert set(entries) == {"c-plain", "c-stream", "c-dead"}
    assert entries["c-stream"]["completion_tokens"] == 9
    assert entries["c-stream"]["error"] is None
    assert entries["c-dead"]["error"] == INTERRUPTED
    # A stream closed after its open row was moved as interrupted is recorded as well.
    with transaction(sessions) as db:
        write_journal(db, [("close", _call("c-dead", sub, stream=True))], later)
        assert journal_size(db) == 1


class _FailingJournal:
    """A journal whose database is down (or behind)."""

    def __init__(self, *, full: bool = False) -> None:
        self.full = full
        self.writes: list[tuple[str, CallRecord]] = []

    def check_capacity(self) -> None:
        if self.full:
            raise GatewayAuditBehind("The audit log is behind.", retry_after=2)

    async def write(self, call: CallRecord, *, state: Literal["open", "close", "final"]) -> None:
        self.writes.append((state, call))
        raise GatewayAuditBehind("The audit log cannot take this call.", retry_after=1)


@pytest.fixture
def upstream() -> Iterator[tuple[Any, str]]:
    with running_sim(UPSTREAM_KEY) as running:
        yield running


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_that_cannot_be_audited_is_withheld(
    upstream: tuple[Any, str], stream: bool
) -> None:
    _, url = upstream
    journal = _FailingJournal()
    with running_gateway(allow=(url,), journal=journal) as gw:
        gw.resolver.add(
            "key-j",
            access_id="grant-j",
            upstream_base_url=url,
            upstream_model="sim-model",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        answer = httpx.post(
            gw.base_url + "/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": stream},
            headers={"Authorization": "Bearer key-j"},
        )
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"] == "urn:prereview:problem:gateway-audit-unavailable"
    assert "sim reply" not in answer.text
    assert journal.writes[0][0] == ("open" if stream else "final")


def test_new_calls_are_refused_while_the_journal_is_behind(upstream: tuple[Any, str]) -> None:
    sim, url = upstream
    with running_gateway(allow=(url,), journal=_FailingJournal(full=True)) as gw:
        gw.resolver.add(
            "key-j",
            access_id="grant-j",
            upstream_base_url=url,
            upstream_model="sim-model",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        answer = httpx.post(
            gw.base_url + "/chat/completions",
            json={"model": MODEL, "messages": []},
            headers={"Authorization": "Bearer key-j"},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    # Refused before anything was forwarded.
    assert not sim.received


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    assert port.isdigit(), "the gateway process did not start"
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_answered_calls_survive_kill_9(
    platform: Platform, settings: Settings, clock: FixedClock
) -> None:
    """Attack: calls were audited from memory in batches: 30 answered calls, then kill -9,
    and none was in the log. Each answer is now released only after its record is committed;
    the next process to start audits what the killed one left."""
    with running_sim(UPSTREAM_KEY) as (_, sim_url):
        settings.gateway_upstream_allow = [sim_url]
        sub = platform.submit()["id"]
        platform.grant(sub, window_days=20)
        platform.call(
            "developer",
            "PUT",
            f"/submissions/{sub}/gateway/upstream",
            200,
            json={
                "base_url": sim_url,
                "upstream_model": "sim-model",
                "public_model": MODEL,
                "api_key": UPSTREAM_KEY,
            },
        )
        key = platform.call(
            "agency", "POST", f"/submissions/{sub}/gateway/keys", 201, json={"name": "k"}
        ).json()["key"]
        env = os.environ | {
            "PREREVIEW_DATABASE_URL": settings.database_url,
            "PREREVIEW_MASTER_KEY_FILE": str(settings.master_key_file),
            "PREREVIEW_BLOB_DIR": str(settings.blob_dir),
            "PREREVIEW_AUDIT_KEY_FILE": str(settings.audit_key_file),
            "PREREVIEW_GATEWAY_UPSTREAM_ALLOW": json.dumps([sim_url]),
            "GW_TEST_NOW": clock.now().isoformat(),
        }
        process, url = _start(env)
        try:
            statuses = [
                httpx.post(
                    url + "/gateway/v1/chat/completions",
                    json={"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}]},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                ).status_code
                for i in range(30)
            ]
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert statuses == [200] * 30
        with transaction(platform.context.sessions) as db:
            # Whatever was not moved yet is in the journal: nothing is only in memory.
            assert len(_audited(platform, sub)) + journal_size(db) == 30
        process, url = _start(env)
        try:
            audited = _audited(platform, sub)
        finally:
            process.terminate()
            process.wait()
    assert len(audited) == 30
    assert len({e["object_id"] for e in audited}) == 30
    assert {e["detail"]["status"] for e in audited} == {200}


def test_call_records_round_trip_through_the_journal() -> None:
    from prereview.gateway.journal import record_from_json, record_to_json

    call = replace(_call("c-1", "sub-1"), cut_off=True, ttft_ms=2.0, error="x")
    assert record_from_json(json.loads(json.dumps(record_to_json(call)))) == call
