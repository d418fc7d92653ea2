"""Bulk intake reports, per item, accepted / duplicate of / rejected and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from prereview.clearinghouse.dedup.finder import DuplicateFinder
from prereview.clearinghouse.intake.formats import (
    IntakeFormat,
    ItemStatus,
    StoredVersion,
    detect_format,
    intake_bulk,
    parse_one,
)
from prereview.core.errors import InvalidEncoding, InvalidInput, TooDeeplyNested
from prereview.exchange.errors import InvalidExchangeDocument
from prereview.vulnerability.problems import InvalidReport
from prereview.vulnerability.report import ModelRun
from support.factories import Platform

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "src/prereview/clearinghouse/data/seed_advisories.yaml"
STANDARDS = ROOT.parent / "shared" / "standards"


def report(report_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": report_id,
        "title": "Path traversal in upload handler",
        "description": "save_upload() in app/upload.py joins the file name to the upload root.",
        "affected": [{"purl": "pkg:pypi/uploadkit"}],
        "cwes": ["CWE-22"],
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "REV-3"},
        **extra,
    }


class Store:
    """Stored reports by their own id, as the DB layer will answer."""

    def __init__(self, known: dict[str, StoredVersion]) -> None:
        self.known = known

    def stored(self, report_id: str) -> StoredVersion | None:
        return self.known.get(report_id)


MINE = StoredVersion(modified=None, ours=True)
THEIRS = StoredVersion(modified=None, ours=False)


def test_json_lines_items_each_get_an_outcome() -> None:
    lines = "\n".join(
        [
            json.dumps(report("R-1")),
            "{not json",
            json.dumps(report("R-2", cvss_v3="CVSS:3.1/AV:N/AC:Q", affected=[{}])),
            json.dumps(report("R-3", aliases=["R-1"])),
            "",
            json.dumps(report("R-4", aliases=["CVE-2026-0042"])),
            json.dumps(report("R-0")),
            json.dumps(report("R-1")),
        ]
    )
    result = intake_bulk(lines, reporter="Example Bank", known=Store({"R-0": MINE}))
    # Records sharing a name (R-3 names R-1; R-4 names a CVE a stored report may name too) are
    # distinct records that the alias links; only a record's own id makes it a duplicate.
    assert [i.status for i in result.items] == [
        ItemStatus.ACCEPTED,
        ItemStatus.REJECTED,
        ItemStatus.REJECTED,
        ItemStatus.ACCEPTED,
        ItemStatus.ACCEPTED,
        ItemStatus.DUPLICATE,
        ItemStatus.DUPLICATE,
    ]
    assert [i.location for i in result.items] == [
        "line 1",
        "line 2",
        "line 3",
        "line 4",
        "line 6",
        "line 7",
        "line 8",
    ]
    assert result.items[5].duplicate_of == "R-0"
    assert result.items[6].duplicate_of == "R-1"
    rejected = result.items[2].summary()
    assert {e["path"] for e in rejected["errors"]} == {"$.cvss_v3", "$.affected[0]"}
    assert "CVSS:3.1/AV:N/AC:Q" in next(
        e["message"] for e in rejected["errors"] if e["path"] == "$.cvss_v3"
    )
    assert result.counts() == {
        "accepted": 3,
        "updated": 0,
        "duplicate": 2,
        "rejected": 2,
        "skipped": 0,
    }
    accepted = result.accepted[0]
    assert accepted.reporter == "Example Bank"
    assert isinstance(accepted.discovered_by, ModelRun)


def test_likely_duplicates_without_shared_identifiers_are_proposed() -> None:
    text = (
        "save_upload() in app/upload.py joins the client file name to the upload root without "
        "normalising it, so a name with dot-dot segments is written outside the upload directory "
        "and can overwrite application files."
    )
    lines = "\n".join(
        [
            json.dumps(report("R-1", description=text)),
            json.dumps(report("R-2", description="Reported by a partner. " + text)),
        ]
    )
    result = intake_bulk(lines, "Example Bank", IntakeFormat.JSON_LINES, finder=DuplicateFinder())
    assert [i.status for i in result.items] == [ItemStatus.ACCEPTED, ItemStatus.ACCEPTED]
    assert result.items[1].summary()["likely_duplicates"][0]["id"] == "R-1"


def test_osv_yaml_bulk_and_an_identifier_already_stored() -> None:
    result = intake_bulk(SEEDS.read_bytes(), "Seed Org", known=Store({"x_PRV-SEED-0002": THEIRS}))
    assert result.counts()["accepted"] == 49
    duplicate = result.items[1]
    assert (duplicate.status, duplicate.duplicate_of) == (ItemStatus.DUPLICATE, "x_PRV-SEED-0002")


def test_a_newer_modified_from_the_source_is_an_update_and_anything_else_a_no_op() -> None:
    jan, feb = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
    stored = datetime(2026, 1, 1, tzinfo=UTC)
    known = Store(
        {
            "U-1": StoredVersion(modified=stored, ours=True),
            "U-2": StoredVersion(modified=stored, ours=False),
        }
    )
    lines = "\n".join(
        json.dumps(report(rid, modified=modified, published=jan))
        for rid, modified in (
            ("U-1", jan),  # the same 'modified': re-sent, changes nothing
            ("U-1", feb),  # newer: applied
            ("U-1", feb),  # the same again in one payload: nothing more
            ("U-1", jan),  # older than what this payload applied
            ("U-2", feb),  # newer, but another organisation's report: never overwritten
        )
    )
    result = intake_bulk(lines, "Example Bank", IntakeFormat.JSON_LINES, known=known)
    assert [i.status for i in result.items] == [
        ItemStatus.DUPLICATE,
        ItemStatus.UPDATED,
        ItemStatus.DUPLICATE,
        ItemStatus.DUPLICATE,
        ItemStatus.DUPLICATE,
    ]
    assert [r.modified for r in result.updated] == [datetime(2026, 2, 1, tzinfo=UTC)]
    assert "only its source" in (result.items[4].note or "")


def test_a_bad_osv_record_is_rejected_alone_with_schema_paths() -> None:
    good = {
        "id": "x_ONE-1",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "s",
        "details": "d",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "one"}}],
    }
    bad = {
        "id": "x_TWO-1",
        "modified": "yesterday",
        "affected": [{"ranges": [{"type": "GIT", "events": []}]}],
    }
    result = intake_bulk(json.dumps([good, bad]), "Org", IntakeFormat.OSV)
    assert [i.status for i in result.items] == [ItemStatus.ACCEPTED, ItemStatus.REJECTED]
    paths = {p["path"] for p in result.items[1].problems}
    assert {"$.modified", "$.affected[0].ranges[0]", "$.affected[0].ranges[0].events"} <= paths


@pytest.mark.skipif(
    not STANDARDS.is_dir(), reason="shared/standards is not checked out beside the repo"
)
def test_a_csaf_vex_document_gives_one_item_per_vulnerability() -> None:
    payload = (STANDARDS / "csaf/examples/csaf/csaf_vex/2022-evd-uc-03-ms-001.json").read_text()
    assert detect_format(payload) is IntakeFormat.CSAF
    result = intake_bulk(payload, "Vendor")
    assert len(result.items) == 19
    assert result.counts()["skipped"] > 0
    assert result.counts()["accepted"] + result.counts()["skipped"] == 19
    skipped = next(i for i in result.items if i.status is ItemStatus.SKIPPED)
    assert "not affected" in (skipped.note or "")


def test_a_csaf_document_that_fails_its_schema_is_refused_whole() -> None:
    payload = json.dumps({"document": {"category": "csaf_base", "csaf_version": "2.0"}})
    with pytest.raises(InvalidExchangeDocument) as caught:
        intake_bulk(payload, "Vendor", IntakeFormat.CSAF)
    messages = {(p["path"], p["message"]) for p in caught.value.problems}
    assert messages == {
        ("$.document", "'publisher' is a required property"),
        ("$.document", "'title' is a required property"),
        ("$.document", "'tracking' is a required property"),
    }
    assert caught.value.problem()["standard"] == "CSAF 2.0"


def test_format_detection() -> None:
    assert detect_format(json.dumps(report("R-1"))) is IntakeFormat.REPORT
    assert (
        detect_format(json.dumps(report("R-1")) + "\n" + json.dumps(report("R-2")))
        is IntakeFormat.JSON_LINES
    )
    assert detect_format("id: x_A-1\nmodified: 2026-01-01T00:00:00Z\n") is IntakeFormat.OSV
    assert detect_format("{}", filename="reports.jsonl") is IntakeFormat.JSON_LINES


def test_a_single_report_fills_in_the_reporter_and_fails_with_every_problem() -> None:
    assert parse_one(report("R-1"), "Hospital").reporter == "Hospital"
    with pytest.raises(InvalidReport) as caught:
        parse_one({"id": "R-1"}, "Hospital")
    assert {p["path"] for p in caught.value.problems} == {"$.title", "$.description", "$.affected"}


# -- untrusted payloads: a 4xx with a stable type, never a 500 ----------------------------------

BAD_UTF8 = b'{"id": "R-1", "title": "caf\xe9 \xff"}\n'
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


@pytest.mark.parametrize("intake_format", [*IntakeFormat, None])
def test_invalid_utf8_is_an_encoding_problem_in_every_format(
    intake_format: IntakeFormat | None,
) -> None:
    with pytest.raises(InvalidEncoding) as refused:
        intake_bulk(BAD_UTF8, reporter="Example Bank", intake_format=intake_format)
    assert refused.value.type_uri == "urn:prereview:problem:invalid-encoding"


@pytest.mark.parametrize("intake_format", [IntakeFormat.OSV, IntakeFormat.CSAF, None])
def test_deeply_nested_json_is_refused_whole(intake_format: IntakeFormat | None) -> None:
    deep = ('{"a": ' * 100_000 + "1" + "}" * 100_000).encode()
    with pytest.raises(TooDeeplyNested):
        intake_bulk(deep, reporter="Example Bank", intake_format=intake_format)


def test_a_deeply_nested_json_line_is_rejected_alone() -> None:
    lines = "\n".join([json.dumps(report("R-1")), "[" * 100_000 + "]" * 100_000])
    result = intake_bulk(lines, reporter="Example Bank", intake_format=IntakeFormat.JSON_LINES)
    assert [i.status for i in result.items] == [ItemStatus.ACCEPTED, ItemStatus.REJECTED]
    assert "nested" in result.items[1].problems[0]["message"]
    # The format sniffer reads the first line too: a deep one is refused, not a RecursionError.
    with pytest.raises(TooDeeplyNested):
        intake_bulk("[" * 100_000 + "]" * 100_000 + "\n{}", reporter="Example Bank")


@pytest.mark.parametrize("payload", [ALIAS_BOMB, "a: &a [*a]", "[" * 10_000, "- " * 500 + "x"])
def test_yaml_bombs_recursion_and_depth_are_refused(payload: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        intake_bulk(payload, reporter="Example Bank", intake_format=IntakeFormat.OSV)
    assert refused.value.slug in {"yaml-alias-refused", "too-deeply-nested"}


def test_times_that_overflow_in_utc_are_rejected_not_500() -> None:
    record = {
        "schema_version": "1.6.0",
        "id": "OSV-1",
        "modified": "9999-12-31T23:59:59-23:59",
        "summary": "x",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "uploadkit"}}],
    }
    result = intake_bulk(
        json.dumps(record), reporter="Example Bank", intake_format=IntakeFormat.OSV
    )
    assert [i.status for i in result.items] == [ItemStatus.REJECTED]
    unquoted = "id: OSV-2\nmodified: 0001-01-01T00:00:00+23:59\nsummary: x\n"
    with pytest.raises(InvalidInput):
        intake_bulk(unquoted, reporter="Example Bank", intake_format=IntakeFormat.OSV)


def test_import_api_refuses_bad_bytes_with_stable_types_and_writes_nothing(
    platform: Platform,
) -> None:
    cases = [
        (BAD_UTF8, {"format": "jsonl"}, "invalid-encoding"),
        (BAD_UTF8, {}, "invalid-encoding"),
        (ALIAS_BOMB.encode(), {"format": "osv"}, "yaml-alias-refused"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, {"format": "osv"}, "too-deeply-nested"),
    ]
    for body, params, slug in cases:
        refused = platform.call(
            "partner", "POST", "/clearinghouse/imports", 422, content=body, params=params
        )
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == f"urn:prereview:problem:{slug}"
    assert ch_reports(platform) == 0


def test_import_api_refuses_an_oversized_body_with_413(platform: Platform) -> None:
    platform.context.settings.max_import_bytes = 4096
    lines = "\n".join(json.dumps(report(f"R-{n}")) for n in range(40)).encode()
    assert len(lines) > 4096
    refused = platform.call(
        "partner", "POST", "/clearinghouse/imports", 413, content=lines, params={"format": "jsonl"}
    )
    assert refused.json()["type"] == "urn:prereview:problem:payload-too-large"
    assert ch_reports(platform) == 0
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines[:4000].rsplit(b"\n", 1)[0],
        params={"format": "jsonl"},
    )
    assert ch_reports(platform) > 0


def ch_reports(platform: Platform) -> int:
    with platform.context.sessions() as db:
        return int(db.scalar(text("SELECT count(*) FROM ch_reports")) or 0)
