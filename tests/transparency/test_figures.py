"""The raw figures, from hand-written log entries: what each counts, in which period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prereview.transparency.figures import compute
from prereview.transparency.periods import PeriodInvalid, parse_period, period_of

Q4 = parse_period("2026Q4")
T0 = datetime(2026, 10, 5, tzinfo=UTC)


class Log:
    def __init__(self) -> None:
        self.leaves: list[dict[str, Any]] = []

    def add(self, action: str, at: datetime, **fields: Any) -> None:
        self.leaves.append(
            {
                "seq": len(self.leaves),
                "at": at.isoformat(),
                "action": action,
                "actor_org_id": fields.pop("org", None),
                "object_id": fields.pop("obj", None),
                "submission_id": fields.pop("sub", None),
                "object_type": "x",
                "detail": fields,
            }
        )


def test_periods() -> None:
    assert parse_period("2026q1").end == datetime(2026, 4, 1, tzinfo=UTC)
    assert period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)).label == "2026Q4"
    for bad in ("2026Q0", "26Q1", "2026-Q1", "2026Q4 "):
        try:
            parse_period(bad if bad != "2026Q4 " else "2026Q44")
        except PeriodInvalid:
            continue
        raise AssertionError(bad)


def test_review_figures_and_window_use() -> None:
    log = Log()
    log.add("review:submission:create", T0, org="org_a", sub="s1", obj="s1")
    log.add(
        "review:grant:create",
        T0 + timedelta(days=1),
        sub="s1",
        agency_org_id="ag1",
        window_ends_at=(T0 + timedelta(days=21)).isoformat(),
        max_window_days=30,
    )
    log.add(
        "review:finding:create",
        T0 + timedelta(days=1, hours=6),
        sub="s1",
        obj="f1",
        severity="high",
        category="safeguard_bypass",
    )
    log.add("review:finding:respond", T0 + timedelta(days=2), sub="s1", obj="f1")
    log.add("review:submission:release", T0 + timedelta(days=11), sub="s1", obj="s1")
    log.add("coverage:determination:create", T0 + timedelta(days=3), sub="s1", outcome="covered")
    log.add("coverage:determination:create", T0 + timedelta(days=4), sub="s1")
    log.add("review:submission:create", Q4.end + timedelta(days=1), org="org_b", sub="s2")
    raw = compute(log.leaves, Q4, Q4.end)
    c = raw.counts
    assert c["review.participatingDevelopers"] == 1 and c["review.submissions"] == 1
    assert c["review.windowsOpened"] == 1 and c["review.agenciesWithAccess"] == 1
    assert c["review.findings.bySeverity.high"] == 1 and c["review.findings.answered"] == 1
    assert c["review.determinations.covered"] == 1
    assert c["review.determinations.outcomeUndisclosed"] == 1
    # Opened on day 1, released on day 11: ten days of thirty.
    assert raw.samples["review.accessDaysUsed"] == [10.0]
    assert raw.samples["review.accessShareOfMaximum"] == [10 / 30]
    assert raw.samples["review.hoursToFirstFinding"] == [6.0]


def test_entries_after_as_of_are_not_read() -> None:
    log = Log()
    log.add("review:submission:create", T0, org="org_a", sub="s1")
    log.add("review:submission:create", T0 + timedelta(days=2), org="org_b", sub="s2")
    assert compute(log.leaves, Q4, T0 + timedelta(days=1)).counts["review.submissions"] == 1
    assert compute(log.leaves, Q4, Q4.end).counts["review.submissions"] == 2


def test_clearinghouse_funnel() -> None:
    log = Log()
    log.add("clearinghouse:report:create", T0, obj="r1", found_by="model")
    # Model-found is the verified label; intake's found_by alone is only the reporter's claim.
    log.add("clearinghouse:report-model-label:create", T0 + timedelta(minutes=5), obj="r1")
    log.add("clearinghouse:report:import", T0, obj="r2", found_by="person")
    log.add("clearinghouse:report:import", T0, obj="r3")
    log.add("clearinghouse:report:import", T0 + timedelta(hours=1), obj="r3", updated_to_version=2)
    log.add(
        "clearinghouse:duplicate:decide", T0 + timedelta(hours=2), decision="merge", report_id="r3"
    )
    log.add(
        "clearinghouse:duplicate:decide",
        T0 + timedelta(hours=3),
        decision="reopen",
        previous_status="merged",
        report_id="r3",
    )
    log.add(
        "clearinghouse:duplicate:decide", T0 + timedelta(hours=4), decision="merge", report_id="r2"
    )
    log.add("clearinghouse:case:create", T0 + timedelta(hours=5), obj="case1", reports=["r1"])
    log.add(
        "clearinghouse:vendor-status:update",
        T0 + timedelta(hours=29),
        obj="case1",
        status="fixed",
        report_id=None,
    )
    log.add("clearinghouse:advisory:publish", T0 + timedelta(hours=48), obj="r1")
    raw = compute(log.leaves, Q4, Q4.end)
    c = raw.counts
    assert c["clearinghouse.reportsReceived"] == 3
    assert (c["clearinghouse.foundByModel"], c["clearinghouse.foundByPerson"]) == (1, 1)
    assert c["clearinghouse.finderUnrecorded"] == 1
    assert c["clearinghouse.duplicatesMerged"] == 1  # r3's merge was undone
    assert c["clearinghouse.disclosed"] == 1 and c["clearinghouse.fixed"] == 1
    assert raw.samples["clearinghouse.hoursReceivedToDisclosed"] == [48.0]
    assert raw.samples["clearinghouse.hoursReceivedToFixed"] == [29.0]
    assert "clearinghouse.aiFoundShare" in raw.unrecorded
