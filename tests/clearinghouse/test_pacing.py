"""Pacing vendor notifications to the vendor's weekly capacity: the pure schedule, then the API
(capacity set by whom, notifications held back, the reporter's expected date, the embargo)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.authz.kinds import OrgKind, Role
from prereview.clearinghouse.pacing import WINDOW, Slot, Waiting, schedule
from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from support.factories import Platform
from support.factories.clearinghouse import V31, report
from support.live import serve
from support.scenario import verify_claims

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def _w(report_id: str, at: datetime = T0, **kw: Any) -> Waiting:
    return Waiting(report_id=report_id, arrived_at=at, **kw)


def _by_id(slots: list[Slot]) -> dict[str, datetime | None]:
    return {s.report_id: s.at for s in slots}


def _max_in_any_window(times: list[datetime]) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - WINDOW:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_no_capacity_means_told_on_arrival() -> None:
    later = T0 + timedelta(hours=5)
    slots = schedule([_w("a"), _w("b", later)], None)
    assert _by_id(slots) == {"a": T0, "b": later}


def test_capacity_zero_schedules_nothing() -> None:
    slots = schedule([_w("a", severity=9.8), _w("b")], 0, delivered=[T0])
    assert [s.at for s in slots] == [None, None]
    assert [s.report_id for s in slots] == ["a", "b"]


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError):
        schedule([_w("a")], -1)


def test_severity_then_reproduction_then_exposure_then_age_then_id() -> None:
    waiting = [
        _w("low", severity=3.1),
        _w("unscored"),
        _w("crit-claim", severity=9.8, reproduced=None),
        _w("crit-not", severity=9.8, reproduced=False),
        _w("crit-repro", severity=9.8, reproduced=True, exposure=0),
        _w("crit-repro-wide", severity=9.8, reproduced=True, exposure=4),
        _w("crit-repro-wide-b", severity=9.8, reproduced=True, exposure=4),
        _w(
            "crit-repro-wide-older",
            T0 - timedelta(hours=1),
            severity=9.8,
            reproduced=True,
            exposure=4,
        ),
    ]
    order = [s.report_id for s in schedule(waiting, 1)]
    assert order == [
        "crit-repro-wide-older",  # arrived first and was alone: delivered at once
        "crit-repro-wide",  # exact tie with -b: the id decides, the same way every time
        "crit-repro-wide-b",
        "crit-repro",
        "crit-not",
        "crit-claim",
        "low",
        "unscored",
    ]


def test_ordering_ties_do_not_depend_on_input_order() -> None:
    waiting = [_w(f"r{i:03}", severity=5.0) for i in range(50)]
    forward = schedule(waiting, 3)
    backward = schedule(list(reversed(waiting)), 3)
    assert forward == backward
    assert [s.report_id for s in forward] == sorted(w.report_id for w in waiting)


def test_a_burst_of_1000_never_exceeds_the_capacity_in_any_seven_days() -> None:
    burst = [_w(f"r{i:04}", T0 + timedelta(seconds=i), severity=float(i % 11)) for i in range(1000)]
    slots = schedule(burst, 25)
    assert len(slots) == 1000 and len({s.report_id for s in slots}) == 1000
    times = [s.at for s in slots if s.at is not None]
    assert len(times) == 1000
    assert _max_in_any_window(times) == 25
    # 1,000 at 25 a week take 40 weeks: the last goes out in the fortieth.
    assert max(times) - T0 < 40 * WEEK and max(times) - T0 >= 39 * WEEK
    arrival = {w.report_id: w.arrived_at for w in burst}
    assert all(s.at is not None and s.at >= arrival[s.report_id] for s in slots)
    # The first week's 25 are the most severe that had arrived by then.
    first = [s for s in slots if s.at is not None and s.at < T0 + WEEK]
    assert len(first) == 25


def test_past_deliveries_count_against_the_window() -> None:
    delivered = [T0 - timedelta(days=6), T0 - timedelta(days=1)]
    slots = schedule([_w("a"), _w("b"), _w("c")], 3, delivered=delivered)
    assert _by_id(slots) == {
        "a": T0,
        "b": T0 - timedelta(days=6) + WEEK,
        "c": T0 - timedelta(days=1) + WEEK,
    }


def test_a_capacity_change_reschedules_what_waits() -> None:
    waiting = [_w(f"r{i}", severity=float(i)) for i in range(6)]
    slow = _by_id(schedule(waiting, 1))
    fast = _by_id(schedule(waiting, 3))
    assert max(v for v in slow.values() if v) == T0 + 5 * WEEK
    assert max(v for v in fast.values() if v) == T0 + WEEK
    # Lowering it later: what was delivered under the old one counts in the window.
    delivered = [fast["r5"], fast["r4"], fast["r3"]]
    rest = [w for w in waiting if w.report_id in ("r0", "r1", "r2")]
    lowered = schedule(rest, 1, delivered=[d for d in delivered if d is not None])
    assert [s.at for s in lowered] == [T0 + WEEK, T0 + 2 * WEEK, T0 + 3 * WEEK]


def test_a_later_more_severe_report_overtakes_those_still_waiting() -> None:
    waiting = [
        _w("a", severity=5.0),
        _w("b", severity=5.0),
        _w("c", severity=5.0),
        _w("urgent", T0 + timedelta(days=2), severity=9.9),
    ]
    slots = _by_id(schedule(waiting, 1))
    assert slots["a"] == T0
    assert slots["urgent"] == T0 + WEEK  # the next free slot after it arrived
    assert slots["b"] == T0 + 2 * WEEK and slots["c"] == T0 + 3 * WEEK


def test_the_schedule_of_the_past_does_not_depend_on_when_it_is_computed() -> None:
    waiting = [_w(f"r{i}", T0 + timedelta(days=i), severity=float(i % 3)) for i in range(10)]
    everything = schedule(waiting, 2)
    # Deliver what was due by day 9, then compute the rest from those deliveries.
    cut = T0 + timedelta(days=9)
    done = [s for s in everything if s.at is not None and s.at <= cut]
    rest = [w for w in waiting if w.report_id not in {s.report_id for s in done}]
    again = schedule(rest, 2, delivered=[s.at for s in done if s.at is not None])
    assert again == [s for s in everything if s not in done]


# --- through the API, on both databases ---------------------------------------------------


def _vendor_of_uploadkit(platform: Platform, who: str = "developer") -> None:
    platform.call(
        who, "POST", "/clearinghouse/products", 201, json={"identifiers": ["pkg:pypi/uploadkit"]}
    )
    verify_claims(platform, who)


def _capacity(platform: Platform, who: str, org: str, per_week: int, expect: int = 200) -> Any:
    return platform.call(
        who,
        "PUT",
        f"/clearinghouse/vendors/{platform[org].org_id}/capacity",
        expect,
        json={"per_week": per_week},
    )


def _notified(platform: Platform, who: str = "developer") -> list[str]:
    found = platform.call(who, "GET", "/clearinghouse/notifications", 200).json()
    return [n["report_id"] for n in found["items"]]


def test_only_the_vendors_admins_and_the_clearinghouse_set_its_capacity(platform: Platform) -> None:
    _capacity(platform, "developer", "developer", 2)
    _capacity(platform, "clearinghouse", "developer", 3)
    problem = _capacity(platform, "other_developer", "developer", 100, 403).json()
    assert problem["type"].endswith(":forbidden")
    _capacity(platform, "agency", "agency", 1, 403)  # an agency makes no products
    member = platform.add("dev_member", OrgKind.DEVELOPER, role=Role.MEMBER)
    platform.call(
        "dev_member",
        "PUT",
        f"/clearinghouse/vendors/{member.org_id}/capacity",
        403,
        json={"per_week": 1},
    )
    bad = _capacity(platform, "developer", "developer", -1, 422).json()
    assert bad["status"] == 422
    shown = platform.call(
        "developer", "GET", f"/clearinghouse/vendors/{platform['developer'].org_id}/capacity", 200
    ).json()
    assert shown["per_week"] == 3 and shown["schedule"] is None
    platform.call(
        "other_developer",
        "GET",
        f"/clearinghouse/vendors/{platform['developer'].org_id}/capacity",
        403,
    )


def test_notifications_are_paced_ordered_by_severity_and_dated_for_the_reporter(
    platform: Platform,
) -> None:
    _vendor_of_uploadkit(platform)
    _capacity(platform, "developer", "developer", 2)
    scores = {
        "PRV-low": None,
        "PRV-crit": V31,
        "PRV-mid": "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:N",
    }
    for report_id, vector in scores.items():
        extra = {"cvss_v3": vector} if vector else {}
        platform.call(
            "agency", "POST", "/clearinghouse/reports", 201, json=report(report_id, **extra)
        )
    # Capacity 2 a week: the two most severe now, the unscored one a week later.
    assert sorted(_notified(platform)) == ["PRV-crit", "PRV-mid"]
    mine = platform.call("agency", "GET", "/clearinghouse/reports/PRV-low", 200).json()
    assert mine["pacing"]["vendors_waiting"] == 1 and mine["pacing"]["unscheduled"] == 0
    expected = datetime.fromisoformat(mine["pacing"]["expected_notification_at"])
    now = platform.context.clock.now()
    assert WEEK - timedelta(minutes=1) <= expected - now <= WEEK
    told = platform.call("agency", "GET", "/clearinghouse/reports/PRV-crit", 200).json()
    assert told["pacing"] == {
        "vendors_told": 1,
        "vendors_waiting": 0,
        "expected_notification_at": None,
        "unscheduled": 0,
    }
    # The vendor reads the report (it has a need to know) but is not shown the pace.
    assert (
        platform.call("developer", "GET", "/clearinghouse/reports/PRV-low", 200).json()["pacing"]
        is None
    )
    # The clearinghouse sees the schedule.
    shown = platform.call(
        "clearinghouse",
        "GET",
        f"/clearinghouse/vendors/{platform['developer'].org_id}/capacity",
        200,
    ).json()
    assert shown["waiting"] == 1 and shown["delivered_last_week"] == 2
    assert [s["report_id"] for s in shown["schedule"]] == ["PRV-low"]
    # Raising the capacity lets it out at once.
    _capacity(platform, "developer", "developer", 5)
    assert sorted(_notified(platform)) == ["PRV-crit", "PRV-low", "PRV-mid"]


def test_capacity_zero_holds_everything_and_gives_no_date(platform: Platform) -> None:
    _vendor_of_uploadkit(platform)
    _capacity(platform, "developer", "developer", 0)
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("PRV-z"))
    assert _notified(platform) == []
    pace = platform.call("agency", "GET", "/clearinghouse/reports/PRV-z", 200).json()["pacing"]
    assert pace["unscheduled"] == 1 and pace["expected_notification_at"] is None


def test_an_embargo_never_starts_before_the_vendor_is_told(
    platform: Platform, clock: FixedClock
) -> None:
    _vendor_of_uploadkit(platform)
    _capacity(platform, "developer", "developer", 1)
    for report_id in ("PRV-e1", "PRV-e2"):
        platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report(report_id))
    vendor = platform["developer"].org_id
    body = {
        "title": "uploadkit",
        "tlp": "AMBER",
        "report_ids": ["PRV-e1", "PRV-e2"],
        "vendor_org_ids": [vendor],
    }
    refused = platform.call("clearinghouse", "POST", "/clearinghouse/cases", 409, json=body).json()
    assert refused["type"].endswith(":clearinghouse-embargo-before-notification")
    assert refused["vendor_org_id"] == vendor and refused["report_ids"] == ["PRV-e2"]
    assert refused["expected_notification_at"] is not None
    # The told report alone opens a case; adding the waiting one to it is refused too.
    body["report_ids"] = ["PRV-e1"]
    case = platform.call("clearinghouse", "POST", "/clearinghouse/cases", 201, json=body).json()
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case['id']}/members",
        409,
        json={"report_ids": ["PRV-e2"]},
    )
    # A week later the vendor has been told: now it may.
    clock.advance(WEEK)
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case['id']}/members",
        200,
        json={"report_ids": ["PRV-e2"]},
    )


def test_a_burst_through_the_api_is_paced(platform: Platform) -> None:
    _vendor_of_uploadkit(platform)
    _capacity(platform, "developer", "developer", 10)
    lines = "\n".join(json.dumps(report(f"PRV-b{i:03}", title=f"bug {i}")) for i in range(60))
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines.encode(),
        params={"format": "jsonl"},
    )
    assert len(_notified(platform)) == 10
    shown = platform.call(
        "clearinghouse",
        "GET",
        f"/clearinghouse/vendors/{platform['developer'].org_id}/capacity",
        200,
    ).json()
    assert shown["waiting"] == 50
    weeks = Counter(
        (datetime.fromisoformat(s["expected_at"]) - platform.context.clock.now()) // WEEK
        for s in shown["schedule"]
    )
    assert set(weeks.values()) == {10}


def test_the_cli_sets_and_shows_the_vendors_capacity(platform: Platform, app: FastAPI) -> None:
    def run(token: str, *args: str, code: int = 0) -> str:
        env = {"PREREVIEW_SERVER": url, "PREREVIEW_TOKEN": token, "COLUMNS": "200"}
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result.stdout

    with serve(app) as url:
        vendor = platform["developer"]
        set_out = json.loads(run(vendor.token, "vuln", "capacity", "set", "4", "--json"))
        assert set_out["org_id"] == vendor.org_id and set_out["per_week"] == 4
        shown = json.loads(run(vendor.token, "vuln", "capacity", "show", "--json"))
        assert shown["per_week"] == 4 and shown["waiting"] == 0
        # Another developer's member may not set it; the clearinghouse may, by --org.
        run(
            platform["other_developer"].token,
            "vuln",
            "capacity",
            "set",
            "9",
            "--org",
            vendor.org_id,
            code=1,
        )
        by_ch = json.loads(
            run(
                platform["clearinghouse"].token,
                "vuln",
                "capacity",
                "set",
                "0",
                "--org",
                vendor.org_id,
                "--json",
            )
        )
        assert by_ch["per_week"] == 0 and by_ch["schedule"] == []


def test_exposure_breaks_a_severity_tie_through_the_api(platform: Platform) -> None:
    products = {"identifiers": ["pkg:pypi/uploadkit", "pkg:pypi/framekit"]}
    platform.call("developer", "POST", "/clearinghouse/products", 201, json=products)
    inventory = {"identifiers": ["pkg:pypi/framekit"]}
    platform.call("partner", "POST", "/clearinghouse/inventory", 201, json=inventory)
    verify_claims(platform, "developer")
    verify_claims(platform, "partner")
    _capacity(platform, "developer", "developer", 1)
    # One import: both arrive at once; the one a partner runs goes first.
    docs = [
        report("PRV-a-uploadkit"),
        report(
            "PRV-z-framekit",
            title="Template injection in framekit",
            description="render() in framekit/templates.py evaluates user input as a template, "
            "so a crafted name runs code on the server.",
            affected=[{"purl": "pkg:pypi/framekit@2.0.0"}],
        ),
    ]
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/imports",
        200,
        content="\n".join(json.dumps(d) for d in docs).encode(),
        params={"format": "jsonl"},
    )
    assert _notified(platform) == ["PRV-z-framekit"]
