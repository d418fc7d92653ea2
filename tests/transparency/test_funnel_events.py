"""Notified and reproduced are in the log: pacing's delivery and the worker's verdict each write
an entry with the change, and the transparency report's funnel counts and times them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prereview.audit import service as audit
from prereview.clearinghouse.reproduction import verdict as judging
from prereview.clearinghouse.reproduction import worker
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.transparency.figures import ACTIONS, compute
from prereview.transparency.periods import parse_period, period_of
from prereview.transparency.report import CheckpointRef, build_report
from prereview.vault.service import Vault
from support.factories import Platform
from support.factories.clearinghouse import report
from support.scenario import verify_claims

DELIVER = "clearinghouse:notification:deliver"
VERDICT = "clearinghouse:report-poc:verdict"
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _leaves(platform: Platform, action: str | None = None) -> list[dict[str, Any]]:
    with transaction(platform.context.sessions) as db:
        rows = audit.entries_with_actions(
            db, ACTIONS, below=10**9, before=datetime.max.replace(tzinfo=UTC)
        )
        leaves = [json.loads(row.leaf) for row in rows]
    return [x for x in leaves if action is None or x["action"] == action]


def _vendor_with_capacity(platform: Platform, per_week: int) -> str:
    platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit"]},
    )
    verify_claims(platform, "developer")
    vendor = platform["developer"].org_id
    path = f"/clearinghouse/vendors/{vendor}/capacity"
    platform.call("developer", "PUT", path, 200, json={"per_week": per_week})
    return vendor


def test_a_delivery_is_logged_once_with_its_slot_and_no_content(
    platform: Platform, clock: FixedClock
) -> None:
    vendor = _vendor_with_capacity(platform, 1)
    first = report("N-1")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=first)
    clock.advance(timedelta(hours=1))
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("N-2"))
    sent = clock.now()
    # Every computation of the schedule records what is due; only the first logs it.
    for _ in range(3):
        platform.call("developer", "GET", "/clearinghouse/notifications", 200)
    logged = _leaves(platform, DELIVER)
    assert [(x["object_id"], x["detail"]["vendor"]) for x in logged] == [("N-1", vendor)]
    assert set(logged[0]["detail"]) == {"vendor", "notified_at"}
    assert first["title"] not in json.dumps(logged) and "uploadkit" not in json.dumps(logged)
    # N-2 waits for the week to pass: told at the slot (a week after N-1), logged when computed.
    clock.advance(timedelta(days=9))
    platform.call("clearinghouse", "GET", f"/clearinghouse/vendors/{vendor}/capacity", 200)
    platform.call("developer", "GET", "/clearinghouse/notifications", 200)
    second = [x for x in _leaves(platform, DELIVER) if x["object_id"] == "N-2"]
    assert len(second) == 1
    slot = datetime.fromisoformat(second[0]["detail"]["notified_at"])
    assert slot == sent - timedelta(hours=1) + timedelta(days=7)
    assert datetime.fromisoformat(second[0]["at"]) == clock.now()
    # The transparency funnel reads the slot: N-2 was received 1 h after N-1 and told 7 d
    # after N-1, so 167 h after intake (the clearinghouse's own funnel agrees).
    raw = compute(_leaves(platform), period_of(clock.now()), clock.now())
    assert raw.counts["clearinghouse.funnel.notified"] == 2
    overall = platform.call("clearinghouse", "GET", "/clearinghouse/funnel", 200).json()
    assert overall["overall"]["counts"]["notified"] == 2


def test_a_closed_periods_funnel_does_not_change_when_a_delivery_is_logged_later() -> None:
    q2, q3 = parse_period("2026Q2"), parse_period("2026Q3")
    t0 = q2.end - timedelta(days=2)
    leaves = [
        {
            "seq": 0,
            "at": t0.isoformat(),
            "action": "clearinghouse:report:create",
            "object_id": "R",
            "detail": {"found_by": "person"},
        },
        # Due on the period's last day, computed (and logged) only after it ended.
        {
            "seq": 1,
            "at": (q3.start + timedelta(days=3)).isoformat(),
            "action": DELIVER,
            "object_id": "R",
            "detail": {"vendor": "org_v", "notified_at": (t0 + timedelta(days=1)).isoformat()},
        },
    ]
    before = compute(leaves[:1], q2, q3.start + timedelta(days=1))
    after = compute(leaves, q2, q3.start + timedelta(days=30))
    assert before.counts == after.counts
    assert after.counts["clearinghouse.funnel.notified"] == 0


def test_the_funnel_publishes_reproduced_and_notified_above_the_threshold() -> None:
    t0 = datetime(2026, 10, 5, tzinfo=UTC)
    leaves: list[dict[str, Any]] = []

    def add(action: str, at: datetime, obj: str, **detail: Any) -> None:
        leaves.append(
            {
                "seq": len(leaves),
                "at": at.isoformat(),
                "action": action,
                "actor_org_id": None,
                "object_id": obj,
                "submission_id": None,
                "object_type": "vulnerability_report",
                "detail": detail,
            }
        )

    hour = timedelta(hours=1)
    for n in range(12):
        rid = f"R{n}"
        add("clearinghouse:report:create", t0, rid, found_by="person")
        add("clearinghouse:report-triage:create", t0 + hour, rid, outcome="accepted")
        add(
            VERDICT, t0 + 2 * hour, rid, poc_id=f"poc{n}", verdict="reproduced", status="reproduced"
        )
        # Told at its slot, n hours after the verdict; logged later still.
        told = t0 + (2 + n) * hour
        add(DELIVER, t0 + 50 * hour, rid, vendor="org_v", notified_at=told.isoformat())
        add(DELIVER, t0 + 60 * hour, rid, vendor="org_w", notified_at=(told + hour).isoformat())
    add(
        VERDICT,
        t0 + 3 * hour,
        "R0",
        poc_id="poc-x",
        verdict="not_reproduced",
        status="not_reproduced",
    )
    add("clearinghouse:report:create", t0, "R12", found_by="person")
    add(
        VERDICT, t0 + hour, "R12", poc_id="poc12", verdict="not_reproduced", status="not_reproduced"
    )
    checkpoint = CheckpointRef("o", len(leaves), "AA==", "n", "k", t0 + 200 * hour)
    published = build_report(leaves, period_of(t0), checkpoint)
    figures, spread = published["figures"], published["distributions"]
    assert figures["clearinghouse.funnel.received"]["value"] == 13
    assert figures["clearinghouse.funnel.reproduced"]["value"] == 12  # not R12: not reproduced
    assert figures["clearinghouse.funnel.notified"]["value"] == 12
    to_told = spread["clearinghouse.funnel.hoursReproducedToNotified"]
    assert to_told["status"] == "published" and to_told["median"] == 5.5  # the first vendor's
    assert spread["clearinghouse.funnel.hoursTriagedToReproduced"]["median"] == 1.0
    assert "clearinghouse.funnel" not in published["unrecorded"]
    # Below the threshold the new stages are withheld like the others.
    few = build_report(leaves[: 5 * 3], period_of(t0), checkpoint)
    for stage in ("reproduced", "notified"):
        cell = few["figures"][f"clearinghouse.funnel.{stage}"]
        assert cell["value"] is None and cell["status"] == "suppressed"
    assert few["distributions"]["clearinghouse.funnel.hoursReproducedToNotified"]["median"] is None


@sqlite_only
def test_a_verdict_is_logged_with_it_and_a_retry_is_not(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("P-1"))
    params = {"package": "pyyaml", "affected": "5.3.1", "fixed": "5.4"}
    script = b"print('SECRET-POC-BODY')\n"
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports/P-1/poc",
        201,
        params=params,
        content=script,
        headers={"Content-Type": "application/octet-stream"},
    )
    outcomes = [
        worker.Outcome(judging.ERROR, "the sandbox could not start"),
        worker.Outcome(judging.REPRODUCED, "reproduced"),
    ]
    # The sandbox is not what is tested here: the verdict it would give is.
    monkeypatch.setattr(worker, "reproduce", lambda *_: outcomes.pop(0))
    context = platform.context
    vault = Vault.local(context.settings.master_key_file, context.settings.blob_dir)
    assert worker.drain(context.sessions, vault, context.clock, None)
    assert not outcomes
    logged = _leaves(platform, VERDICT)
    assert len(logged) == 1  # the error was retried, not a verdict
    assert logged[0]["object_id"] == "P-1" and logged[0]["actor_org_id"] is None
    assert logged[0]["detail"]["verdict"] == "reproduced"
    assert logged[0]["detail"]["status"] == "reproduced"
    assert "SECRET-POC-BODY" not in json.dumps(logged)
    raw = compute(_leaves(platform), period_of(context.clock.now()), context.clock.now())
    assert raw.counts["clearinghouse.funnel.reproduced"] == 1
