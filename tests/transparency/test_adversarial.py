"""No published figure, in JSON or CSV, nor any combination of them, reveals a small count.

The data are built to be as revealing as possible: a period in which one developer offers one
submission, and a period with only two developers. An adversary reads the published report,
knows the relations it states (a total is the sum of its parts) and solves for what is
withheld; every count from 1 to 10 must stay undetermined.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from prereview.core.clock import FixedClock
from prereview.transparency.disclosure import THRESHOLD, determined
from prereview.transparency.figures import Relation
from support.factories import Platform
from transparency.conftest import one_reviewed_submission, report


def _published_counts(found: dict[str, Any]) -> dict[str, int]:
    return {
        name: entry["value"]
        for name, entry in found["figures"].items()
        if entry["status"] == "published" and isinstance(entry["value"], int)
    }


def _adversary_solves(found: dict[str, Any]) -> dict[str, int | None]:
    """Every figure the adversary learns exactly: the published ones, and every withheld cell
    the stated relations determine (with the value it must have)."""
    relations = [Relation(r["total"], tuple(r["parts"])) for r in found["disclosure"]["relations"]]
    cells = {r.total for r in relations} | {p for r in relations for p in r.parts}
    known = _published_counts(found)
    unknown = cells - set(known)
    return {name: None for name in determined(relations, unknown)} | dict(known)


def _assert_reveals_nothing_small(found: dict[str, Any], csv_text: str) -> None:
    for name, entry in found["figures"].items():
        value = entry["value"]
        if isinstance(value, int) and not isinstance(value, bool):
            assert not 1 <= value <= THRESHOLD, (name, value)
    for name, entry in found["distributions"].items():
        assert entry["median"] is None or entry["status"] == "published", name
    learned = _adversary_solves(found)
    withheld = {n for n, e in found["figures"].items() if e["status"] == "suppressed"}
    assert not (withheld & {n for n, v in learned.items() if v is None}), "a cell is derivable"
    rows = list(csv.DictReader(io.StringIO("\n".join(csv_text.splitlines()[3:]))))
    for row in rows:
        if row["value"] and row["statistic"] == "value" and "Share" not in row["figure"]:
            assert not 1 <= int(row["value"]) <= THRESHOLD, row
        if row["status"] == "suppressed":
            assert row["value"] == "", row
    for name in withheld:
        assert found["figures"][name]["value"] is None


def _csv(platform: Platform, period: str) -> str:
    answer = platform.call(
        None, "GET", "/transparency/report", 200, params={"period": period, "format": "csv"}
    )
    return answer.text


def test_one_developer_with_one_submission_is_not_revealed(
    platform: Platform, clock: FixedClock
) -> None:
    one_reviewed_submission(platform, clock, findings=12, answered=11)
    found = report(platform, "2026Q2")
    figures = found["figures"]
    for name in (
        "review.participatingDevelopers",
        "review.submissions",
        "review.windowsOpened",
        "review.agenciesWithAccess",
        "review.findings.answered",
    ):
        assert figures[name] == {
            "value": None,
            "status": "suppressed",
            "note": figures[name]["note"],
        }
    # Twelve findings, eleven answered: both are large enough to publish, but the one left
    # unanswered (never published itself) would be their difference, so one of them is
    # withheld as well, and with it the share.
    withheld = {n for n, e in figures.items() if e["status"] == "suppressed"}
    assert withheld & {"review.findings.total", "review.findings.answered"}
    assert found["distributions"]["review.accessDaysUsed"]["median"] is None
    assert found["distributions"]["review.hoursToFirstFinding"]["median"] is None
    assert figures["review.findings.answeredShare"]["value"] is None
    _assert_reveals_nothing_small(found, _csv(platform, "2026Q2"))


def test_a_period_with_two_developers_is_not_revealed(
    platform: Platform, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 8, 3, 9, 0, tzinfo=UTC))
    one_reviewed_submission(platform, clock, "developer", findings=11)
    clock.advance(timedelta(days=1))
    one_reviewed_submission(platform, clock, "other_developer", findings=3)
    found = report(platform, "2026Q3")
    assert found["figures"]["review.participatingDevelopers"]["value"] is None
    assert found["figures"]["review.submissions"]["value"] is None
    _assert_reveals_nothing_small(found, _csv(platform, "2026Q3"))
    # The period before (no activity at all) shows zeros, which identify no one.
    before = report(platform, "2026Q2")
    assert before["figures"]["review.submissions"] == {
        "value": 0,
        "status": "published",
        "note": None,
    }
