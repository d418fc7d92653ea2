"""The clearinghouse domain model validates itself and lists every problem at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from prereview.clearinghouse.cvss_scores import CvssVersion
from prereview.clearinghouse.domain import (
    Advisory,
    ModelRun,
    Person,
    Tlp,
    parse_advisory,
    parse_report,
    publish,
)
from prereview.clearinghouse.errors import InvalidReport
from prereview.core.errors import InvalidInput

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def report_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "PRV-2026-0001",
        "title": "Heap overflow in frame parser",
        "description": "decode_frame() in src/frame.c trusts the length field.",
        "reporter": "Example Hospital",
        "affected": [
            {
                "purl": "pkg:pypi/framelib",
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"kind": "introduced", "version": "1.0"},
                            {"kind": "fixed", "version": "1.4.2"},
                        ],
                    }
                ],
            },
            {"cpe": "cpe:2.3:a:example:gateway:2.1:*:*:*:*:*:*:*", "versions": ["2.1"]},
        ],
        "cwes": ["CWE-787"],
        "cvss_v3": V31,
        "cvss_v4": V40,
        "code_locations": ["src/frame.c:decode_frame"],
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "REV-12"},
        "references": [{"url": "https://example.org/advisory", "type": "ADVISORY"}],
        "aliases": ["CVE-2026-10001"],
        "tlp": "AMBER+STRICT",
        "published": "2026-05-01T10:00:00Z",
        "modified": "2026-05-02T10:00:00+02:00",
    }
    data.update(overrides)
    return data


def test_a_valid_report_keeps_both_cvss_versions_scored_side_by_side() -> None:
    report = parse_report(report_data())
    assert report.cvss_v3 is not None
    assert report.cvss_v4 is not None
    assert (report.cvss_v3.version, report.cvss_v3.base_score, report.cvss_v3.severity) == (
        CvssVersion.V3_1,
        9.8,
        "Critical",
    )
    assert (report.cvss_v4.version, report.cvss_v4.base_score) == (CvssVersion.V4_0, 9.3)
    assert report.tlp is Tlp.AMBER_STRICT
    assert isinstance(report.discovered_by, ModelRun)
    assert report.package_keys == ["cpe:example:gateway", "pkg:pypi/framelib"]
    assert report.identifiers == ["PRV-2026-0001", "CVE-2026-10001"]


def test_a_dumped_report_parses_back_to_the_same_report_and_scores_are_recomputed() -> None:
    report = parse_report(report_data())
    dumped = report.model_dump(mode="json")
    dumped["cvss_v3"]["base_score"] = 0.1  # a tampered score is not trusted
    again = parse_report(dumped)
    assert again == report


def test_every_problem_is_listed_with_its_path() -> None:
    bad = report_data(
        cwes=["CWE-79", "79"],
        cvss_v3="CVSS:3.1/AV:N/AC:L",
        cvss_v4=V31,
        affected=[{"purl": "not a purl"}, {"cpe": "cpe:/a:old:style"}, {}],
        discovered_by={"kind": "model", "model": "m"},
        published="2026-05-01T10:00:00",
    )
    with pytest.raises(InvalidReport) as caught:
        parse_report(bad)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.status == 422
    assert error.slug == "clearinghouse-invalid-report"
    paths = {p["path"] for p in error.problems}
    assert paths == {
        "$.cwes[1]",
        "$.cvss_v3",
        "$.cvss_v4",
        "$.affected[0].purl",
        "$.affected[1].cpe",
        "$.affected[2]",
        "$.discovered_by.review_id",
        "$.published",
    }
    by_path = {p["path"]: p["message"] for p in error.problems}
    assert "CVSS:3.1/AV:N/AC:L" in by_path["$.cvss_v3"]
    assert "Missing mandatory metrics" in by_path["$.cvss_v3"]
    assert "CVSS:4.0/" in by_path["$.cvss_v4"]
    assert error.problem()["errors"] == error.problems


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([{"type": "SEMVER", "events": [{"kind": "fixed", "version": "1.0"}]}], "introduced"),
        (
            [
                {
                    "type": "SEMVER",
                    "events": [
                        {"kind": "introduced", "version": "0"},
                        {"kind": "fixed", "version": "1.0"},
                        {"kind": "last_affected", "version": "0.9"},
                    ],
                }
            ],
            "same range",
        ),
        ([{"type": "GIT", "events": [{"kind": "introduced", "version": "0"}]}], "repo"),
        (
            [
                {
                    "type": "GIT",
                    "repo": "https://git.example.org/x",
                    "events": [{"kind": "introduced", "version": "abc123"}],
                }
            ],
            "full commit hashes",
        ),
    ],
)
def test_incoherent_version_ranges_are_rejected(ranges: list[Any], message: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report(report_data(affected=[{"purl": "pkg:npm/x", "ranges": ranges}]))
    assert message in caught.value.problems[0]["message"]


def test_person_finder_and_tz_aware_publication() -> None:
    report = parse_report(report_data(discovered_by={"kind": "person", "name": "Ada"}))
    assert isinstance(report.discovered_by, Person)
    advisory = publish(report, datetime(2026, 6, 1, tzinfo=UTC), tlp=Tlp.CLEAR)
    assert isinstance(advisory, Advisory)
    assert advisory.tlp is Tlp.CLEAR
    assert advisory.modified == datetime(2026, 6, 1, tzinfo=UTC)
    assert advisory.published == report.published


def test_an_advisory_needs_publication_times_and_a_report_is_not_its_own_alias() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_advisory(report_data(published=None, modified=None))
    assert {p["path"] for p in caught.value.problems} == {"$.published", "$.modified"}
    with pytest.raises(InvalidReport, match="1 problem"):
        parse_report(report_data(aliases=["PRV-2026-0001"]))


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report(report_data(severity="high"))
    assert caught.value.problems == [
        {"path": "$.severity", "message": "Extra inputs are not permitted"}
    ]
