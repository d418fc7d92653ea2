"""The disclosure funnel: counts per stage equal a hand count, latencies between stages come
from the server's moments, a vendor sees its own row only, and the transparency report's
funnel suppresses small counts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.audit import service as audit
from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.transparency import disclosure
from prereview.transparency.figures import ACTIONS, compute
from prereview.transparency.periods import period_of
from prereview.transparency.report import CheckpointRef, build_report
from support.factories import Platform
from support.factories.clearinghouse import report
from support.live import serve
from support.scenario import verify_claims

HOUR = timedelta(hours=1)
FRAMEKIT = [{"purl": "pkg:npm/framekit@2.0.0"}]


def _funnel(platform: Platform, who: str, **params: Any) -> Any:
    return platform.call(who, "GET", "/clearinghouse/funnel", 200, params=params).json()


def _latency(row: Any, earlier: str, later: str) -> Any:
    found = [x for x in row["latencies"] if x["earlier"] == earlier and x["later"] == later]
    return found[0]


def _scenario(platform: Platform, clock: FixedClock) -> str:
    """Four reports: three on uploadkit (vendor: the developer), one on framekit (vendor: the
    other developer). Two triaged after 2 h, one acknowledged 5 h after intake, fixed 24 h
    later, published 19 h after that; one merged duplicate that the funnel leaves out."""
    for who, key in (("developer", "pkg:pypi/uploadkit"), ("other_developer", "pkg:npm/framekit")):
        platform.call(who, "POST", "/clearinghouse/products", 201, json={"identifiers": [key]})
        verify_claims(platform, who)
    for rid in ("F-1", "F-2", "F-3"):
        platform.call(
            "agency", "POST", "/clearinghouse/reports", 201, json=report(rid, title=f"{rid} bug")
        )
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        201,
        json=report(
            "F-4",
            affected=FRAMEKIT,
            title="framekit XSS",
            cwes=["CWE-79"],
            description="framekit renders the tooltip title unescaped.",
        ),
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("F-dup"))
    dup = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"status": "proposed"}
    ).json()["items"]
    proposal = next(p for p in dup if p["report_id"] == "F-dup")
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/duplicates/{proposal['id']}/decision",
        200,
        json={"decision": "merge"},
    )
    clock.advance(2 * HOUR)
    for rid in ("F-1", "F-2"):
        platform.call(
            "clearinghouse",
            "POST",
            f"/clearinghouse/reports/{rid}/triage",
            200,
            json={"outcome": "accepted"},
        )
    vendor = platform["developer"].org_id
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit",
            "tlp": "AMBER",
            "report_ids": ["F-1", "F-2"],
            "vendor_org_ids": [vendor],
        },
    ).json()
    clock.advance(3 * HOUR)
    path = f"/clearinghouse/cases/{case['id']}/vendors/{vendor}/statuses/F-1"
    platform.call("developer", "PUT", path, 200, json={"status": "under_investigation"})
    clock.advance(24 * HOUR)
    platform.call("developer", "PUT", path, 200, json={"status": "fixed"})
    clock.advance(19 * HOUR)
    platform.call("clearinghouse", "POST", "/clearinghouse/reports/F-1/publish", 200)
    return vendor


def test_counts_per_stage_equal_a_hand_count(platform: Platform, clock: FixedClock) -> None:
    vendor = _scenario(platform, clock)
    seen = _funnel(platform, "clearinghouse")
    assert seen["stages"] == [
        "found",
        "triaged",
        "reproduced",
        "notified",
        "acknowledged",
        "fixed",
        "disclosed",
    ]
    overall = seen["overall"]
    assert overall["counts"] == {
        "found": 4,
        "triaged": 2,
        "reproduced": 0,
        "notified": 4,
        "acknowledged": 1,
        "fixed": 1,
        "disclosed": 1,
    }
    rows = {row["vendor_org_id"]: row for row in seen["vendors"]}
    other = platform["other_developer"].org_id
    assert set(rows) == {vendor, other}
    assert rows[vendor]["counts"] == {
        "found": 3,
        "triaged": 2,
        "reproduced": 0,
        "notified": 3,
        "acknowledged": 1,
        "fixed": 1,
        "disclosed": 1,
    }
    assert rows[other]["counts"]["found"] == 1 and rows[other]["counts"]["notified"] == 1
    assert rows[other]["counts"]["triaged"] == 0
    triaged = _latency(overall, "found", "triaged")
    assert (triaged["pairs"], triaged["median_hours"], triaged["p90_hours"]) == (2, 2.0, 2.0)
    # Nothing is reproduced yet: no latency goes through that stage.
    assert _latency(overall, "triaged", "reproduced")["pairs"] == 0
    assert _latency(overall, "reproduced", "notified")["median_hours"] is None
    assert _latency(rows[vendor], "notified", "acknowledged")["median_hours"] == 5.0
    assert _latency(rows[vendor], "acknowledged", "fixed")["median_hours"] == 24.0
    assert _latency(rows[vendor], "fixed", "disclosed")["median_hours"] == 19.0
    # A period that ends before the reports were found counts none of them.
    before = _funnel(platform, "agency", until=(clock.now() - 100 * HOUR).isoformat())
    assert before["overall"]["counts"]["found"] == 0
    bad = platform.call(
        "agency",
        "GET",
        "/clearinghouse/funnel",
        422,
        params={"since": clock.now().isoformat(), "until": clock.now().isoformat()},
    ).json()
    assert bad["type"].endswith(":clearinghouse-invalid-funnel-period")
    platform.call("agency", "GET", "/clearinghouse/funnel", 422, params={"since": "yesterday"})


def test_a_vendor_never_sees_another_vendors_row(platform: Platform, clock: FixedClock) -> None:
    vendor = _scenario(platform, clock)
    other = platform["other_developer"].org_id
    mine = _funnel(platform, "developer")
    assert mine["overall"] is None
    assert [row["vendor_org_id"] for row in mine["vendors"]] == [vendor]
    # Asking for the other vendor's row still answers with its own.
    asked = _funnel(platform, "developer", vendor=other)
    assert [row["vendor_org_id"] for row in asked["vendors"]] == [vendor]
    theirs = _funnel(platform, "other_developer", vendor=vendor)
    assert [row["vendor_org_id"] for row in theirs["vendors"]] == [other]
    assert theirs["vendors"][0]["counts"]["found"] == 1
    # An organisation that is no vendor gets an empty row of its own, nothing of others.
    partner = _funnel(platform, "partner")
    assert partner["overall"] is None
    assert [row["vendor_org_id"] for row in partner["vendors"]] == [platform["partner"].org_id]
    assert set(partner["vendors"][0]["counts"].values()) == {0}
    # Agencies read every row (or one).
    one = _funnel(platform, "agency", vendor=other)
    assert [row["vendor_org_id"] for row in one["vendors"]] == [other]
    assert one["overall"]["counts"]["found"] == 4


def test_the_cli_prints_the_funnel(platform: Platform, clock: FixedClock, app: FastAPI) -> None:
    _scenario(platform, clock)
    with serve(app) as url:
        env = {
            "PREREVIEW_SERVER": url,
            "PREREVIEW_TOKEN": platform["clearinghouse"].token,
            "COLUMNS": "200",
        }
        done = CliRunner().invoke(cli, ["vuln", "funnel", "--json"], env=env)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["overall"]["counts"]["found"] == 4
        table = CliRunner().invoke(cli, ["vuln", "funnel"], env=env)
        assert table.exit_code == 0, table.output
        assert "overall" in table.stdout and "acknowledged" in table.stdout


def test_the_transparency_funnel_suppresses_small_counts(
    platform: Platform, clock: FixedClock
) -> None:
    _scenario(platform, clock)
    with transaction(platform.context.sessions) as db:
        leaves = [
            json.loads(row.leaf)
            for row in audit.entries_with_actions(
                db, ACTIONS, below=10**9, before=clock.now() + HOUR
            )
        ]
    checkpoint = CheckpointRef("o", len(leaves), "AA==", "n", "k", clock.now() + HOUR)
    published = build_report(leaves, period_of(clock.now()), checkpoint)
    figures = published["figures"]
    # Five reports received (F-dup too: the log counts what came in); 2 triaged, 4 notified
    # (the deliveries the case and the funnel recorded are logged), 1 fixed: every cell from
    # 1 to 10 is withheld, none published; nothing reproduced (0 is published).
    for stage in ("received", "triaged", "notified", "acknowledged", "fixed", "disclosed"):
        cell = figures[f"clearinghouse.funnel.{stage}"]
        assert cell["value"] is None and cell["status"] == "suppressed", (stage, cell)
    assert figures["clearinghouse.funnel.reproduced"]["value"] == 0
    raw = compute(leaves, period_of(clock.now()), clock.now() + HOUR)
    assert raw.counts["clearinghouse.funnel.notified"] == 4
    assert disclosure.THRESHOLD == 10
    hours = published["distributions"]["clearinghouse.funnel.hoursReceivedToTriaged"]
    assert hours["median"] is None and hours["status"] == "suppressed"
    assert "clearinghouse.funnel" not in published["unrecorded"]


def test_the_transparency_funnel_publishes_counts_above_the_threshold(clock: FixedClock) -> None:
    t0 = clock.now()
    leaves: list[dict[str, Any]] = []

    def add(action: str, at: Any, obj: str, **detail: Any) -> None:
        leaves.append(
            {
                "seq": len(leaves),
                "at": at.isoformat(),
                "action": action,
                "actor_org_id": "org",
                "object_id": obj,
                "submission_id": None,
                "object_type": "vulnerability_report",
                "detail": detail,
            }
        )

    for n in range(12):
        add("clearinghouse:report:create", t0, f"R{n}", found_by="person")
        add("clearinghouse:report-triage:create", t0 + (n + 1) * HOUR, f"R{n}", outcome="accepted")
    add("clearinghouse:report-triage:create", t0 + 99 * HOUR, "R0", outcome="accepted")  # again
    checkpoint = CheckpointRef("o", len(leaves), "AA==", "n", "k", t0 + 200 * HOUR)
    published = build_report(leaves, period_of(t0), checkpoint)
    assert published["figures"]["clearinghouse.funnel.received"]["value"] == 12
    assert published["figures"]["clearinghouse.funnel.triaged"]["value"] == 12
    hours = published["distributions"]["clearinghouse.funnel.hoursReceivedToTriaged"]
    assert hours["status"] == "published" and hours["median"] == 6.5  # the first triage counts
