"""The case page's forms under attack: the cell grid, thread posting and vendor removal.

A refused form answers 4xx and changes nothing: every row of the case, its vendors, cells,
statuses and messages reads the same afterwards (count and content), and the audit log gains
no write. A stranger learns nothing: each page and form answers it as for a case that does not
exist. A vendor taken off a case loses its page at once, and no copy of it may be cached.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report

from .test_clearinghouse_pages import sign_in

PRODUCTS = ["pkg:npm/framekit", "pkg:pypi/uploadkit"]
TABLES = (
    "ch_cases",
    "ch_case_vendors",
    "ch_case_cells",
    "ch_case_messages",
    "ch_vendor_statuses",
    "ch_vendor_status_history",
    "ch_embargo_changes",
)
# What a refused form may add to the audit log: the reads its page shows, and the test's own
# sign-ins.
READS = {"clearinghouse:case:read", "clearinghouse:case-message:list", "identity:session:create"}
MISSING = "case_0000000000000000000000000"


def _case(platform: Platform, rid: str, vendors: tuple[str, ...]) -> str:
    body = report(
        rid, affected=[{"purl": "pkg:pypi/uploadkit@1.2.0"}, {"purl": "pkg:npm/framekit@3.0.0"}]
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    return str(
        platform.call(
            "clearinghouse",
            "POST",
            "/clearinghouse/cases",
            201,
            json={
                "title": f"case of {rid}",
                "report_ids": [rid],
                "vendor_org_ids": [platform[v].org_id for v in vendors],
            },
        ).json()["id"]
    )


def _rows(platform: Platform) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the case tables, in a stable order (names from the test, never input)."""
    with transaction(platform.context.sessions) as db:
        return {
            table: sorted(
                (tuple(row) for row in db.execute(text(f"SELECT * FROM {table}"))),
                key=repr,
            )
            for table in TABLES
        }


def _audit_actions(platform: Platform, after: int) -> list[str]:
    with transaction(platform.context.sessions) as db:
        return [a for (a,) in db.query(AuditEntry.action).filter(AuditEntry.seq >= after)]


def _audit_size(platform: Platform) -> int:
    with transaction(platform.context.sessions) as db:
        return db.query(AuditEntry).count()


@pytest.fixture
def cases(platform: Platform) -> dict[str, str]:
    """A case of the developer and the other developer (with one private message, one cell
    set and one shared message, so that content is there to be changed), and a case of the
    partner only."""
    ours = _case(platform, "FORM-1", ("developer", "other_developer"))
    theirs = _case(platform, "FORM-2", ("partner",))
    dev = platform["developer"].org_id
    platform.call(
        "developer",
        "PUT",
        f"/clearinghouse/cases/{ours}/vendors/{dev}/cells",
        200,
        json={"product": PRODUCTS[0], "status": "affected"},
    )
    platform.call(
        "developer",
        "POST",
        f"/clearinghouse/cases/{ours}/vendors/{dev}/messages",
        201,
        json={"text": "private: fix on Monday"},
    )
    platform.call(
        "other_developer", "POST", f"/clearinghouse/cases/{ours}/messages", 201, json={"text": "hi"}
    )
    return {"ours": ours, "theirs": theirs}


def test_refused_forms_answer_4xx_and_change_no_row(
    platform: Platform, cases: dict[str, str]
) -> None:
    ours, theirs = cases["ours"], cases["theirs"]
    dev, other = platform["developer"].org_id, platform["other_developer"].org_id
    partner = platform["partner"].org_id
    web = "/web/clearinghouse/cases"
    own_cells = f"{web}/{ours}/vendors/{dev}/cells"
    fine = {"product": PRODUCTS[1], "status": "fixed"}
    # (path, form, status): each sent by the developer, a vendor of ``ours``.
    attacks: list[tuple[str, dict[str, str], int]] = [
        (own_cells, {"status": "fixed"}, 422),  # no product
        (own_cells, {"product": PRODUCTS[1], "status": "mostly_fine"}, 422),
        (own_cells, {"product": "pkg:pypi/elsewhere", "status": "fixed"}, 422),
        (own_cells, {"product": "p" * 301, "status": "fixed"}, 422),
        (own_cells, {"product": PRODUCTS[1], "status": "not_affected"}, 422),  # VEX
        (own_cells, {**fine, "justification": "component_not_present"}, 422),
        (own_cells, {**fine, "status": "not_affected", "justification": "trust_us"}, 422),
        (own_cells, {**fine, "due_on": "2026-02-30"}, 422),
        (own_cells, {**fine, "due_on": "2026-08-010"}, 422),
        (own_cells, {**fine, "statement": "x" * 10_001}, 422),
        (own_cells, {**fine, "statement": "nul \x00 byte"}, 422),
        (f"{web}/{ours}/vendors/{other}/cells", fine, 403),  # another vendor's row
        (f"{web}/{ours}/vendors/{partner}/cells", fine, 403),  # a stranger's: the same answer
        (f"{web}/{theirs}/vendors/{dev}/cells", fine, 404),  # a case it is not on
        (f"{web}/{theirs}/vendors/{partner}/cells", fine, 404),
        (f"{web}/{MISSING}/vendors/{dev}/cells", fine, 404),
        (f"{web}/{ours}/vendors/{dev}/messages", {"text": "   "}, 422),
        (f"{web}/{ours}/vendors/{dev}/messages", {"text": "x" * 20_001}, 422),
        (f"{web}/{ours}/vendors/{dev}/messages", {}, 422),
        (f"{web}/{ours}/vendors/{other}/messages", {"text": "let me in"}, 404),
        (f"{web}/{ours}/vendors/{partner}/messages", {"text": "let me in"}, 404),
        (f"{web}/{theirs}/vendors/{partner}/messages", {"text": "let me in"}, 404),
        (f"{web}/{theirs}/messages", {"text": "let me in"}, 404),
        (f"{web}/{ours}/messages", {"text": "\t\n"}, 422),
        (f"{web}/{ours}/messages", {"text": "nul \x00 byte"}, 422),
        (f"{web}/{ours}/vendors/{dev}/messages", {"text": "nul \x00 byte"}, 422),
        (f"{web}/{ours}/vendors/{other}/remove", {}, 403),  # only the coordinators remove
        (f"{web}/{ours}/vendors/{dev}/remove", {}, 403),
        (f"{web}/{theirs}/vendors/{partner}/remove", {}, 404),
    ]
    before, audit = _rows(platform), _audit_size(platform)
    sign_in(platform, "developer")
    for path, form, status in attacks:
        got = platform.client.post(path, data=form, follow_redirects=False)
        assert got.status_code == status, (path, form, got.status_code, got.text[:300])
        assert "fix on Monday" not in got.text
    # Forged: sent from another site, or with neither Origin nor Referer (the form's CSRF
    # defence), with forms that would otherwise be accepted.
    for headers in ({"origin": "https://evil.example"}, {"origin": "null"}):
        for path, form in ((own_cells, fine), (f"{web}/{ours}/messages", {"text": "forged"})):
            got = platform.client.post(path, data=form, headers=headers, follow_redirects=False)
            assert got.status_code == 403, (path, headers, got.text[:300])
    del platform.client.headers["origin"]
    for path, form in (
        (own_cells, fine),
        (f"{web}/{ours}/vendors/{dev}/messages", {"text": "forged"}),
    ):
        assert platform.client.post(path, data=form, follow_redirects=False).status_code == 403
    # Oversized: refused as it is read (413), not parsed and then measured.
    sign_in(platform, "clearinghouse")
    huge = platform.client.post(
        f"{web}/{ours}/vendors/{dev}/messages",
        content=b"text=" + b"x" * (16 * 2**20 + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    for path, form, status in (
        (f"{web}/{ours}/vendors/{partner}/remove", {}, 404),  # no vendor of this case
        (f"{web}/{MISSING}/vendors/{dev}/remove", {}, 404),
        (f"{web}/{ours}/vendors/{partner}/messages", {"text": "hello?"}, 404),
        (f"{web}/{ours}/vendors/{platform['clearinghouse'].org_id}/cells", fine, 422),
    ):
        got = platform.client.post(path, data=form, follow_redirects=False)
        assert got.status_code == status, (path, got.status_code, got.text[:300])
    del platform.client.headers["origin"]
    removal = platform.client.post(f"{web}/{ours}/vendors/{other}/remove", follow_redirects=False)
    assert removal.status_code == 403  # forged removal: no Origin, no Referer
    assert _rows(platform) == before
    assert set(_audit_actions(platform, audit)) <= READS
    # The same forms, sent as they should be, do change the case (the test can fail).
    sign_in(platform, "developer")
    assert platform.client.post(own_cells, data=fine, follow_redirects=False).status_code == 303
    assert _rows(platform)["ch_case_cells"] != before["ch_case_cells"]


def test_a_stranger_is_answered_as_for_a_case_that_does_not_exist(
    platform: Platform, cases: dict[str, str]
) -> None:
    ours = cases["ours"]
    dev = platform["developer"].org_id
    sign_in(platform, "other_agency")  # on no case, the reporter of none
    before = _rows(platform)

    def answers(case_id: str) -> list[tuple[int, str, str]]:
        web = f"/web/clearinghouse/cases/{case_id}"
        got = [
            platform.client.get(web),
            platform.client.get(web, params={"vendor": dev}),
            platform.client.post(f"{web}/messages", data={"text": "hi"}),
            platform.client.post(f"{web}/vendors/{dev}/messages", data={"text": "hi"}),
            platform.client.post(
                f"{web}/vendors/{dev}/cells", data={"product": PRODUCTS[0], "status": "fixed"}
            ),
            platform.client.post(f"{web}/vendors/{dev}/remove"),
            platform.client.post(f"{web}/vendors/{dev}/statuses/FORM-1", data={"status": "fixed"}),
        ]
        api = f"/clearinghouse/cases/{case_id}"
        got += [
            platform.call("other_agency", "GET", api),
            platform.call("other_agency", "GET", f"{api}/vendors"),
            platform.call("other_agency", "GET", f"{api}/messages"),
            platform.call("other_agency", "GET", f"{api}/vendors/{dev}/messages"),
            platform.call(
                "other_agency",
                "PUT",
                f"{api}/vendors/{dev}/cells",
                json={"product": PRODUCTS[0], "status": "fixed"},
            ),
            platform.call("other_agency", "DELETE", f"{api}/vendors/{dev}"),
        ]
        return [
            (r.status_code, r.headers["content-type"], r.text.replace(case_id, "CASE")) for r in got
        ]

    real, missing = answers(ours), answers(MISSING)
    assert [status for status, _, _ in real] == [404] * len(real)
    assert real == missing
    assert _rows(platform) == before


def test_a_removed_vendor_loses_its_page_at_once_and_no_copy_is_kept(
    platform: Platform, cases: dict[str, str]
) -> None:
    ours = cases["ours"]
    dev = platform["developer"].org_id
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/clearinghouse/cases/{ours}")
    assert page.status_code == 200 and "fix on Monday" in page.text
    assert page.headers["cache-control"] == "no-store"
    platform.call("clearinghouse", "DELETE", f"/clearinghouse/cases/{ours}/vendors/{dev}", 200)
    for params in ({}, {"vendor": dev}):
        gone = platform.client.get(f"/web/clearinghouse/cases/{ours}", params=params)
        assert gone.status_code == 404 and "fix on Monday" not in gone.text
    platform.call("developer", "GET", f"/clearinghouse/cases/{ours}/vendors", 404)
    platform.call("developer", "GET", f"/clearinghouse/cases/{ours}/vendors/{dev}/messages", 404)
