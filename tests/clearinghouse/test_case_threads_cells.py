"""Per-vendor private threads and the vendor x product cells of a case, through the API, the
command line and the case page: who reads and writes what, what a removed vendor loses, the
audit of every read, and a page of 200 vendors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.audit.models import AuditEntry
from prereview.authz.kinds import OrgKind
from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.identity import service as identity_service
from prereview.identity.schemas import OrganisationCreate, UserCreate
from support.factories import Platform
from support.factories.clearinghouse import count, report
from support.live import serve

PRODUCTS = ["pkg:npm/framekit", "pkg:pypi/uploadkit"]
SITE = {"origin": "http://testserver"}


def _case(platform: Platform, vendors: tuple[str, ...] = ("developer", "other_developer")) -> str:
    rid = f"THR-{count(platform, 'ch_reports')}"
    body = report(
        rid, affected=[{"purl": "pkg:pypi/uploadkit@1.2.0"}, {"purl": "pkg:npm/framekit@3.0.0"}]
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    case = platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/cases",
        201,
        json={
            "title": "uploadkit traversal",
            "report_ids": [rid],
            "vendor_org_ids": [platform[v].org_id for v in vendors],
            "embargo_until": "2026-09-01T23:30:00-04:00",
            "embargo_zone": "America/New_York",
        },
    ).json()
    return str(case["id"])


def _thread(platform: Platform, case_id: str, vendor: str) -> str:
    return f"/clearinghouse/cases/{case_id}/vendors/{platform[vendor].org_id}/messages"


def test_a_private_thread_is_its_vendors_and_the_coordinators_only(
    platform: Platform, clock: FixedClock
) -> None:
    case_id = _case(platform)
    mine = _thread(platform, case_id, "developer")
    first = platform.call(
        "clearinghouse", "POST", mine, 201, json={"text": "Your fix date, privately?"}
    ).json()
    clock.advance(timedelta(minutes=1))
    reply = platform.call("developer", "POST", mine, 201, json={"text": "1.2.1 on Monday"}).json()
    assert first["thread"] == reply["thread"] == platform["developer"].org_id
    for who in ("clearinghouse", "developer"):
        page = platform.call(who, "GET", mine, 200).json()
        assert [m["id"] for m in page["items"]] == [first["id"], reply["id"]]
    # The case's own thread holds none of it.
    shared = platform.call("other_developer", "GET", f"/clearinghouse/cases/{case_id}/messages")
    assert shared.json()["total"] == 0
    # Another vendor of the same case: 404, as for a thread that does not exist, never 403.
    stolen = platform.call("other_developer", "GET", mine, 404)
    assert "Monday" not in stolen.text
    never = platform.call(
        "other_developer",
        "GET",
        f"/clearinghouse/cases/{case_id}/vendors/{platform['partner'].org_id}/messages",
        404,
    )
    assert stolen.json()["type"] == never.json()["type"]
    assert stolen.json()["type"].endswith("clearinghouse-thread-not-found")
    platform.call("other_developer", "POST", mine, 404, json={"text": "let me in"})
    # The reporter may read the case, not a vendor's thread (nor learn it exists); outsiders
    # learn nothing of the case at all.
    platform.call("agency", "GET", mine, 404)
    platform.call("other_agency", "GET", mine, 404)
    assert count(platform, "ch_case_messages") == 2
    # The vendor table tells each reader only the threads it may read.
    table = platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}/vendors").json()
    sizes = {row["vendor_org_id"]: row["private_messages"] for row in table["items"]}
    assert sizes == {platform["developer"].org_id: 2, platform["other_developer"].org_id: None}
    other = platform.call("other_developer", "GET", f"/clearinghouse/cases/{case_id}/vendors")
    assert {r["private_messages"] for r in other.json()["items"]} == {None, 0}
    analyst = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors")
    assert sorted(r["private_messages"] for r in analyst.json()["items"]) == [0, 2]


def test_a_vendor_taken_off_the_case_loses_its_thread_and_its_cells(platform: Platform) -> None:
    case_id = _case(platform)
    mine = _thread(platform, case_id, "developer")
    platform.call("developer", "POST", mine, 201, json={"text": "we are affected"})
    cell = f"/clearinghouse/cases/{case_id}/vendors/{platform['developer'].org_id}/cells"
    platform.call("developer", "PUT", cell, 200, json={"product": PRODUCTS[1], "status": "fixed"})
    # Only the clearinghouse takes a vendor off (the vendor knows the case: 403).
    removal = f"/clearinghouse/cases/{case_id}/vendors/{platform['developer'].org_id}"
    platform.call("developer", "DELETE", removal, 403)
    platform.call("clearinghouse", "DELETE", removal, 200)
    platform.call("clearinghouse", "DELETE", removal, 404)  # not a vendor any more
    platform.call("developer", "GET", mine, 404)
    platform.call("developer", "POST", mine, 404, json={"text": "still here?"})
    platform.call("developer", "PUT", cell, 404, json={"product": PRODUCTS[1], "status": "fixed"})
    platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}", 404)
    # The coordinators keep the record, but write no more to someone off the case.
    kept = platform.call("clearinghouse", "GET", mine, 200).json()
    assert [m["text"] for m in kept["items"]] == ["we are affected"]
    platform.call("clearinghouse", "POST", mine, 404, json={"text": "hello?"})
    table = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors")
    assert [r["vendor_org_id"] for r in table.json()["items"]] == [
        platform["other_developer"].org_id
    ]
    with transaction(platform.context.sessions) as db:
        removed = [
            e.leaf
            for e in db.query(AuditEntry).filter(AuditEntry.object_id == case_id)
            if e.action == "clearinghouse:case:update"
        ]
    assert any(
        platform["developer"].org_id in leaf and "removed_vendor" in leaf for leaf in removed
    )


def test_every_read_of_a_private_thread_is_audited_with_its_messages(platform: Platform) -> None:
    case_id = _case(platform)
    mine = _thread(platform, case_id, "developer")
    message = platform.call("developer", "POST", mine, 201, json={"text": "noted"}).json()
    before = count(platform, "audit_entries")
    platform.call("clearinghouse", "GET", mine, 200)
    platform.call("developer", "GET", mine, 200)
    assert count(platform, "audit_entries") == before + 2
    with transaction(platform.context.sessions) as db:
        reads = [
            e.leaf
            for e in db.query(AuditEntry).filter(AuditEntry.object_id == case_id)
            if e.action == "clearinghouse:case-message:list"
        ]
    assert len(reads) == 2 and all(message["id"] in leaf for leaf in reads)


def test_every_vendor_product_cell_has_a_status_and_a_due_day(platform: Platform) -> None:
    case_id = _case(platform)
    table = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors").json()
    assert table["products"] == PRODUCTS
    for row in table["items"]:
        assert set(row["cells"]) == set(PRODUCTS)
        for cell in row["cells"].values():
            # Unset: unknown, due the embargo's last day in its own zone (not UTC's next day).
            assert (cell["status"], cell["due_on"], cell["due_set"]) == (
                "unknown",
                "2026-09-01",
                False,
            )
    dev = platform["developer"].org_id
    cell = f"/clearinghouse/cases/{case_id}/vendors/{dev}/cells"
    got = platform.call(
        "developer",
        "PUT",
        cell,
        200,
        json={
            "product": PRODUCTS[0],
            "status": "not_affected",
            "justification": "component_not_present",
        },
    ).json()
    assert (got["status"], got["csaf_product_status"]) == ("not_affected", "known_not_affected")
    platform.call(
        "clearinghouse",
        "PUT",
        cell,
        200,
        json={"product": PRODUCTS[1], "status": "affected", "due_on": "2026-08-15"},
    )
    # Moving the embargo moves the cells still on the default, not the one set.
    platform.call(
        "clearinghouse",
        "PUT",
        f"/clearinghouse/cases/{case_id}/embargo",
        200,
        json={"embargo_until": "2026-10-01T12:00:00+00:00", "reason": "fix slipped"},
    )
    rows = platform.call("developer", "GET", f"/clearinghouse/cases/{case_id}/vendors").json()
    mine = next(r for r in rows["items"] if r["vendor_org_id"] == dev)["cells"]
    assert (mine[PRODUCTS[0]]["due_on"], mine[PRODUCTS[1]]["due_on"]) == (
        "2026-10-01",
        "2026-08-15",
    )
    assert mine[PRODUCTS[1]]["csaf_product_status"] == "known_affected"


def test_a_vendor_cannot_set_another_vendors_cell_and_bad_cells_change_nothing(
    platform: Platform,
) -> None:
    case_id = _case(platform)
    theirs = f"/clearinghouse/cases/{case_id}/vendors/{platform['developer'].org_id}/cells"
    fixed = {"product": PRODUCTS[1], "status": "fixed"}
    refused = platform.call("other_developer", "PUT", theirs, 403, json=fixed)
    assert refused.headers["content-type"].startswith("application/problem+json")
    platform.call("agency", "PUT", theirs, 403, json=fixed)  # the reporter knows the case
    platform.call("other_agency", "PUT", theirs, 404, json=fixed)
    # Another vendor's participation is not revealed by the answer: a stranger's row reads
    # the same refusal as a fellow vendor's.
    stranger = f"/clearinghouse/cases/{case_id}/vendors/{platform['partner'].org_id}/cells"
    assert (
        platform.call("other_developer", "PUT", stranger, 403, json=fixed).json()["type"]
        == (refused.json()["type"])
    )
    for body in (
        {"product": "pkg:pypi/elsewhere", "status": "fixed"},  # not a product of the case
        {"product": PRODUCTS[1], "status": "not_affected"},  # VEX: needs a justification
        {"product": PRODUCTS[1], "status": "affected", "justification": "component_not_present"},
        {"product": PRODUCTS[1], "status": "mostly_fine"},
        {"product": PRODUCTS[1], "status": "fixed", "due_on": "soon"},
        {"product": PRODUCTS[1], "status": "fixed", "extra": 1},
        {"status": "fixed"},
    ):
        got = platform.call("developer", "PUT", theirs, 422, json=body)
        assert got.headers["content-type"].startswith("application/problem+json"), body
    # The clearinghouse's own organisation is no vendor of the case.
    platform.call(
        "clearinghouse",
        "PUT",
        f"/clearinghouse/cases/{case_id}/vendors/{platform['clearinghouse'].org_id}/cells",
        422,
        json=fixed,
    )
    assert count(platform, "ch_case_cells") == 0
    platform.call(
        "developer",
        "PUT",
        theirs,
        200,
        json={"product": PRODUCTS[1], "status": "not_affected", "statement": "never shipped"},
    )
    assert count(platform, "ch_case_cells") == 1


def _vendors(platform: Platform, n: int) -> list[str]:
    now = platform.context.clock.now()
    ids = []
    with transaction(platform.context.sessions) as db:
        for i in range(n):
            org, _ = identity_service.seed_organisation(
                db,
                OrganisationCreate(name=f"Vendor {i:03d}", kind=OrgKind.DEVELOPER),
                UserCreate(email=f"v{i}@grid{i}.example", name=f"V{i}"),
                now,
            )
            ids.append(org.id)
    return ids


def _sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    got = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert got.status_code == 303, got.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_case_page_shows_all_200_vendors_their_cells_and_private_threads(
    platform: Platform,
) -> None:
    case_id = _case(platform, ("developer",))
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case_id}/members",
        200,
        json={"vendor_org_ids": _vendors(platform, 199)},
    )
    dev = platform["developer"].org_id
    platform.call(
        "clearinghouse",
        "POST",
        _thread(platform, case_id, "developer"),
        201,
        json={"text": "private word for the developer"},
    )
    _sign_in(platform, "clearinghouse")
    page = platform.client.get(f"/web/clearinghouse/cases/{case_id}", params={"limit": 200})
    assert page.status_code == 200
    assert page.text.count('class="status-cell"') == 200
    assert page.text.count('class="cell"') == 200 * len(PRODUCTS)
    assert "private word" not in page.text  # no thread open until the analyst picks one
    opened = platform.client.get(
        f"/web/clearinghouse/cases/{case_id}", params={"limit": 200, "vendor": dev}
    )
    assert "private word for the developer" in opened.text and 'id="set-cell"' in opened.text
    # The analyst sets a cell and writes privately through the page's forms.
    done = platform.client.post(
        f"/web/clearinghouse/cases/{case_id}/vendors/{dev}/cells",
        data={"product": PRODUCTS[0], "status": "fixed", "due_on": "2026-08-20"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    again = platform.client.get(f"/web/clearinghouse/cases/{case_id}", params={"limit": 200})
    row = again.text.split(f'id="cells-{dev}"', 1)[1].split("</tr>", 1)[0]
    assert "fixed<br>" in row and "due 2026-08-20" in row
    # A vendor sees its own thread only, whatever it asks for; another vendor sees none.
    _sign_in(platform, "developer")
    own = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert "private word for the developer" in own.text
    wrote = platform.client.post(
        f"/web/clearinghouse/cases/{case_id}/vendors/{dev}/messages",
        data={"text": "thanks, privately"},
        follow_redirects=True,
    )
    assert wrote.status_code == 200 and "thanks, privately" in wrote.text
    platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/cases/{case_id}/members",
        200,
        json={"vendor_org_ids": [platform["other_developer"].org_id]},
    )
    _sign_in(platform, "other_developer")
    other = platform.client.get(f"/web/clearinghouse/cases/{case_id}", params={"vendor": dev})
    assert other.status_code == 200
    assert "private word" not in other.text and "thanks, privately" not in other.text
    assert 'id="remove-vendor"' not in other.text
    sneaky = platform.client.post(
        f"/web/clearinghouse/cases/{case_id}/vendors/{dev}/messages",
        data={"text": "hi"},
        follow_redirects=False,
    )
    assert sneaky.status_code == 404


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def _run(server: str, platform: Platform, who: str, *args: str) -> Any:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform[who].token, "COLUMNS": "160"}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_command_line_writes_privately_sets_cells_and_removes_vendors(
    platform: Platform, server: str, clock: FixedClock
) -> None:
    case_id = _case(platform)
    dev = platform["developer"].org_id
    args = ("vuln", "case")
    posted = _run(
        server, platform, "clearinghouse", *args, "message", case_id, "Just you", "--vendor", dev
    )
    assert posted.exit_code == 0, posted.output
    clock.advance(timedelta(minutes=1))
    listed = _run(server, platform, "developer", *args, "messages", case_id, "--vendor", dev)
    assert listed.exit_code == 0 and "Just you" in listed.output, listed.output
    shared = _run(server, platform, "developer", *args, "messages", case_id)
    assert "Just you" not in shared.output
    refused = _run(server, platform, "other_developer", *args, "messages", case_id, "--vendor", dev)
    assert refused.exit_code != 0 and "Just you" not in refused.output
    cell = _run(
        server,
        platform,
        "developer",
        *args,
        "cell",
        case_id,
        dev,
        PRODUCTS[1],
        "--status",
        "fixed",
        "--due",
        "2026-08-01",
    )
    assert cell.exit_code == 0, cell.output
    theirs = _run(
        server,
        platform,
        "other_developer",
        *args,
        "cell",
        case_id,
        dev,
        PRODUCTS[1],
        "--status",
        "affected",
    )
    assert theirs.exit_code != 0
    removed = _run(server, platform, "clearinghouse", *args, "remove-vendor", case_id, dev)
    assert removed.exit_code == 0, removed.output
    gone = _run(server, platform, "developer", *args, "messages", case_id, "--vendor", dev)
    assert gone.exit_code != 0
