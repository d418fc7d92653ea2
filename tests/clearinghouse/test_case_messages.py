"""A case's messages through the API and the command line: who takes part, paging, auditing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.audit.models import AuditEntry
from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.core.markings import Tlp
from support.factories import Platform
from support.factories.clearinghouse import count, report
from support.live import serve


def _case(
    platform: Platform, tlp: Tlp = Tlp.AMBER, vendors: tuple[str, ...] = ("developer",)
) -> str:
    rid = f"MSG-{tlp.value.replace('+', '-')}-{count(platform, 'ch_reports')}"
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report(rid, tlp=tlp))
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit traversal",
            "tlp": str(tlp),
            "report_ids": [rid],
            "vendor_org_ids": [platform[v].org_id for v in vendors],
        },
    ).json()
    return str(case["id"])


def _post(platform: Platform, who: str, case_id: str, text: str, want: int) -> Any:
    return platform.call(
        who, "POST", f"/clearinghouse/cases/{case_id}/messages", want, json={"text": text}
    ).json()


def test_the_case_members_write_and_read_the_thread_oldest_first(
    platform: Platform, clock: FixedClock
) -> None:
    case_id = _case(platform)
    first = _post(platform, "clearinghouse", case_id, "Please confirm by Friday.", 201)
    clock.advance(timedelta(minutes=1))
    second = _post(platform, "developer", case_id, "  Confirmed: fix in 1.2.1.  ", 201)
    assert first["author_org_name"] == "Clearinghouse" and first["author_name"] == "Ops"
    assert second["text"] == "Confirmed: fix in 1.2.1."  # kept without the white space around
    assert second["author_org_id"] == platform["developer"].org_id
    for who in ("clearinghouse", "developer"):
        page = platform.call(who, "GET", f"/clearinghouse/cases/{case_id}/messages", 200).json()
        assert [m["id"] for m in page["items"]] == [first["id"], second["id"]]
        assert (page["total"], page["limit"], page["offset"]) == (2, 50, 0)
    paged = platform.call(
        "developer",
        "GET",
        f"/clearinghouse/cases/{case_id}/messages",
        200,
        params={"limit": 1, "offset": 1},
    ).json()
    assert [m["id"] for m in paged["items"]] == [second["id"]] and paged["total"] == 2


def test_a_vendor_not_in_the_case_and_other_tenants_learn_nothing(platform: Platform) -> None:
    case_id = _case(platform)
    _post(platform, "developer", case_id, "the secret fix plan", 201)
    path = f"/clearinghouse/cases/{case_id}/messages"
    for outsider in ("other_developer", "other_agency", "partner", "other_partner"):
        got = platform.call(outsider, "GET", path, 404)
        assert "secret fix plan" not in got.text
        assert got.json()["type"].endswith("clearinghouse-case-not-found")
        _post(platform, outsider, case_id, "let me in", 404)
    # A case that does not exist answers the same.
    missing = platform.call(
        "other_developer", "GET", "/clearinghouse/cases/case_nope/messages", 404
    )
    assert (
        missing.json()["type"] == platform.call("other_developer", "GET", path, 404).json()["type"]
    )
    # The reporter may read the case, but the thread is its vendors' and the clearinghouse's.
    platform.call("agency", "GET", f"/clearinghouse/cases/{case_id}", 200)
    refused = platform.call("agency", "GET", path, 403)
    assert "secret fix plan" not in refused.text
    _post(platform, "agency", case_id, "me too", 403)
    assert count(platform, "ch_case_messages") == 1


def test_a_vendor_added_later_reads_the_thread_and_a_clear_case_stays_members_only(
    platform: Platform,
) -> None:
    case_id = _case(platform)
    path = f"/clearinghouse/cases/{case_id}/messages"
    _post(platform, "clearinghouse", case_id, "welcome", 201)
    platform.call("other_developer", "GET", path, 404)
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case_id}/members",
        200,
        json={"vendor_org_ids": [platform["other_developer"].org_id]},
    )
    assert platform.call("other_developer", "GET", path, 200).json()["total"] == 1
    # TLP:CLEAR: anyone may read the case, only its members the thread (403: they know of it).
    clear = _case(platform, Tlp.CLEAR)
    platform.call("other_partner", "GET", f"/clearinghouse/cases/{clear}", 200)
    platform.call("other_partner", "GET", f"/clearinghouse/cases/{clear}/messages", 403)
    assert platform.call("developer", "GET", f"/clearinghouse/cases/{clear}/messages", 200)


def test_bad_messages_are_refused_and_nothing_is_written(platform: Platform) -> None:
    case_id = _case(platform)
    path = f"/clearinghouse/cases/{case_id}/messages"
    for body in ({"text": ""}, {"text": "   \n"}, {"text": "x" * 20_001}, {"words": "hi"}, {}):
        got = platform.call("clearinghouse", "POST", path, 422, json=body)
        assert got.headers["content-type"].startswith("application/problem+json")
    assert count(platform, "ch_case_messages") == 0
    entries_before = count(platform, "audit_entries")
    _post(platform, "clearinghouse", case_id, "ok", 201)
    assert count(platform, "audit_entries") == entries_before + 1


def test_reading_and_writing_an_amber_thread_is_audited(platform: Platform) -> None:
    case_id = _case(platform)
    message = _post(platform, "developer", case_id, "noted", 201)
    platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/messages", 200)
    with transaction(platform.context.sessions) as db:
        rows = [
            (e.action, e.leaf) for e in db.query(AuditEntry).filter(AuditEntry.object_id == case_id)
        ]
    actions = [action for action, _ in rows]
    assert "clearinghouse:case-message:create" in actions
    assert "clearinghouse:case-message:list" in actions
    # The entry of the read names the messages it showed (the leaf is what was hashed).
    listed = next(leaf for action, leaf in rows if action == "clearinghouse:case-message:list")
    assert message["id"] in listed


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def _run(server: str, platform: Platform, who: str, *args: str) -> Any:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform[who].token, "COLUMNS": "120"}
    return CliRunner().invoke(cli, list(args), env=env)


def test_the_command_line_posts_and_lists_messages(platform: Platform, server: str) -> None:
    case_id = _case(platform)
    posted = _run(server, platform, "clearinghouse", "vuln", "case", "message", case_id, "Patch?")
    assert posted.exit_code == 0, posted.output
    listed = _run(server, platform, "developer", "vuln", "case", "messages", case_id)
    assert listed.exit_code == 0, listed.output
    assert "Patch?" in listed.output and "Clearinghouse" in listed.output
    refused = _run(server, platform, "other_developer", "vuln", "case", "messages", case_id)
    assert refused.exit_code != 0
    assert "Patch?" not in refused.output
