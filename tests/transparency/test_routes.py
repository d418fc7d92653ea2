"""The public report's route: public, JSON and CSV by negotiation, problems for bad periods."""

from __future__ import annotations

import csv
import io

import pytest

from prereview.core.clock import FixedClock
from support.factories import Platform
from transparency.conftest import one_reviewed_submission, report


def test_public_json_names_its_checkpoint(platform: Platform, clock: FixedClock) -> None:
    one_reviewed_submission(platform, clock)
    found = report(platform, "2026Q2")
    assert found["format"] == "prereview-transparency-report/v1"
    assert found["period"] == {
        "label": "2026Q2",
        "start": "2026-04-01T00:00:00+00:00",
        "end": "2026-07-01T00:00:00+00:00",
        "complete": False,
    }
    point = found["checkpoint"]
    assert point["size"] >= 1 and point["rootHash"] and point["note"].startswith(point["origin"])
    checkpoint = platform.call("developer", "GET", "/audit/checkpoint", 200).json()
    assert checkpoint["size"] >= point["size"]
    assert found["disclosure"]["threshold"] == 10 and found["disclosure"]["noise"] is None


def test_csv_by_accept_header_and_by_format(platform: Platform, clock: FixedClock) -> None:
    one_reviewed_submission(platform, clock)
    by_header = platform.call(
        None,
        "GET",
        "/transparency/report",
        200,
        params={"period": "2026Q2"},
        headers={"Accept": "text/csv, application/json;q=0.5"},
    )
    by_format = platform.call(
        None, "GET", "/transparency/report", 200, params={"period": "2026Q2", "format": "csv"}
    )
    for response in (by_header, by_format):
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.splitlines()
        assert lines[0].startswith("# prereview-transparency-report/v1 period=2026Q2")
        assert "size=" in lines[1] and "root=" in lines[1]
        rows = list(csv.DictReader(io.StringIO("\n".join(lines[3:]))))
        assert {"figure", "statistic", "value", "status", "note"} == set(rows[0])
        names = {row["figure"] for row in rows}
        assert "review.submissions" in names and "clearinghouse.reportsReceived" in names
    json_answer = platform.call(
        None,
        "GET",
        "/transparency/report",
        200,
        params={"period": "2026Q2"},
        headers={"Accept": "text/csv;q=0.2, application/json"},
    )
    assert json_answer.headers["content-type"].startswith("application/json")


def test_an_unanswerable_accept_is_406(platform: Platform) -> None:
    answer = platform.call(
        None,
        "GET",
        "/transparency/report",
        406,
        params={"period": "2026Q2"},
        headers={"Accept": "application/xml"},
    )
    assert answer.json()["type"] == "urn:prereview:problem:transparency-format-unsupported"


@pytest.mark.parametrize("period", ["2026Q5", "Q4 2026", "2026", "x" * 500, "1999Q1", ""])
def test_a_bad_period_is_a_stable_problem(platform: Platform, period: str) -> None:
    answer = platform.call(None, "GET", "/transparency/report", 422, params={"period": period})
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "urn:prereview:problem:transparency-period-invalid"


def test_a_period_not_started_is_refused(platform: Platform) -> None:
    answer = platform.call(None, "GET", "/transparency/report", 422, params={"period": "2027Q1"})
    assert answer.json()["type"] == "urn:prereview:problem:transparency-period-not-started"


def test_default_period_is_the_current_quarter(platform: Platform) -> None:
    found = platform.call(None, "GET", "/transparency/report", 200).json()
    assert found["period"]["label"] == "2026Q2"


def test_entries_are_for_the_operators_auditors_only(platform: Platform, clock: FixedClock) -> None:
    one_reviewed_submission(platform, clock)
    size = report(platform, "2026Q2")["checkpoint"]["size"]
    params = {"period": "2026Q2", "size": size}
    for who in ("developer", "agency", "partner"):
        platform.call(who, "GET", "/transparency/entries", 403, params=params)
    platform.call(None, "GET", "/transparency/entries", 401, params=params)
    page = platform.call("clearinghouse", "GET", "/transparency/entries", 200, params=params)
    assert page.json()["items"] and page.json()["checkpoint"]["size"] == size
    unknown = platform.call(
        "clearinghouse",
        "GET",
        "/transparency/entries",
        404,
        params={"period": "2026Q2", "size": size + 10_000},
    )
    assert unknown.json()["type"] == "urn:prereview:problem:transparency-checkpoint-unknown"
