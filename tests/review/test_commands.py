"""`prereview submission|grant|nomination|finding|queue ...` against a real server, printed as
a person reads them in an 80-column terminal: nothing cut to an ellipsis, running text a few
words a line, organisations by name, and the audit trail newest first with filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from support.factories import Platform
from support.factories.review import consent_partner, file_finding
from support.live import serve

TITLE = "Sandbox escape through the PACS image viewer's DICOM parser in the agentic harness"


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(server: str, token: str, *args: str, columns: int = 80, code: int = 0) -> str:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": str(columns)}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (args, result.output)
    return result.stdout if code == 0 else result.output


def run_json(server: str, token: str, *args: str) -> Any:
    return json.loads(run(server, token, *args, "--json", columns=200))


def readable(out: str, width: int = 80) -> list[str]:
    """The table's lines, checked to fit ``width`` with no value cut to an ellipsis."""
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines), out
    assert "…" not in out, out
    return lines


def test_tables_fit_80_columns_without_ellipses(platform: Platform, server: str) -> None:
    sub = platform.submit(model_name="Helios Frontier Reasoning", model_version="2.0-preview")
    platform.grant(sub["id"])
    consent_partner(platform, sub["id"])
    finding = file_finding(platform, sub["id"], title=TITLE)
    dev, agency = platform["developer"].token, platform["agency"].token

    for who, args, expected in [
        (dev, ["submission", "list"], sub["id"]),
        (agency, ["queue"], sub["id"]),
        (dev, ["grant", "list", sub["id"]], "agency org"),
        (dev, ["nomination", "list", sub["id"]], "consented"),
        (dev, ["submission", "audit", sub["id"]], "review:nomination:decide"),
    ]:
        out = run(server, who, *args)
        readable(out)
        assert expected in out, out
        if "Helios" in out:  # the model's name wraps a few words a line, not one
            assert "Helios Frontier" in out, out

    out = run(server, dev, "finding", "list", sub["id"])
    lines = readable(out)
    assert finding["id"] in out  # ids are whole, to copy into the next command
    # The title wraps a few words a line, not one: it takes at most five lines.
    title_lines = [line for line in lines if any(w in line for w in TITLE.split() if len(w) > 3)]
    assert 1 <= len(title_lines) <= 5, out
    assert "Sandbox escape through" in out
    # What did not fit is named, not silently gone; a wide terminal shows it.
    assert "not shown at 80 columns: category" in " ".join(out.split())
    wide = run(server, dev, "finding", "list", sub["id"], columns=200)
    assert TITLE in wide and "third_party_vulnerability" in wide and "not shown" not in wide


def test_organisations_are_shown_by_name(platform: Platform, server: str) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    consent_partner(platform, sub["id"])
    dev = platform["developer"].token
    org_ids = [platform[who].org_id for who in ("developer", "agency", "partner")]

    grants = run(server, dev, "grant", "list", sub["id"], columns=200)
    nominations = run(server, dev, "nomination", "list", sub["id"], columns=200)
    trail = run(server, dev, "submission", "audit", sub["id"], columns=200)
    queue = run(server, platform["agency"].token, "queue", columns=200)
    assert "agency org" in grants
    assert "partner org" in nominations and "agency org" in nominations
    assert "developer org" in trail and "agency org" in trail
    assert "developer org" in queue
    for out in (grants, nominations, trail, queue):
        assert not any(org_id in out for org_id in org_ids), out
    # --json keeps the ids.
    [grant] = run_json(server, dev, "grant", "list", sub["id"])["items"]
    assert grant["agency_org_id"] == platform["agency"].org_id


def test_the_audit_trail_is_newest_first_and_filtered(
    platform: Platform, server: str, clock: FixedClock
) -> None:
    sub = platform.submit()
    start = clock.now()
    clock.advance(timedelta(hours=1))
    platform.grant(sub["id"])
    clock.advance(timedelta(hours=1))
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    dev = platform["developer"].token

    def actions(*args: str) -> list[str]:
        page = run_json(server, dev, "submission", "audit", sub["id"], *args)
        return [e["action"] for e in page["items"]]

    assert actions() == [
        "review:submission:read",
        "review:grant:create",
        "review:submission:create",
    ]
    assert actions("--oldest-first") == [
        "review:submission:create",
        "review:grant:create",
        "review:submission:read",
    ]
    assert actions("--actor", platform["agency"].org_id) == ["review:submission:read"]
    assert actions("--action", "review:grant") == ["review:grant:create"]
    assert actions("--action", "review:submission:read") == ["review:submission:read"]
    later = (start + timedelta(minutes=30)).isoformat()
    assert actions("--since", later) == ["review:submission:read", "review:grant:create"]
    assert actions("--until", later) == ["review:submission:create"]
    assert actions("--limit", "1", "--offset", "1") == ["review:grant:create"]
    table = run(server, dev, "submission", "audit", sub["id"], "--action", "review:grant")
    assert "review:grant:create" in table and "1 of 1" in table
    # A time without a zone is refused here, before anything is asked of the server.
    out = run(server, dev, "submission", "audit", sub["id"], "--since", "2026-06-10", code=2)
    assert "time zone" in out
