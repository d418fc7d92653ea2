"""The clearinghouse analyst's console over HTTP: triage, duplicates side by side, merge, cases
with their vendor table and messages, publishing and exports, and who is refused."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.identity import service as identity_service
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.web.pages.clearinghouse_diff import MAX_WORDS, side_by_side
from support.factories import Platform
from support.factories.clearinghouse import V31, count, report

SITE = {"origin": "http://testserver"}
TWIN_TEXT = (
    "save_upload() in app/upload.py joins the user's file name to the upload root without "
    "normalising it, so '../' sequences write outside the root."
)
# The queries of the case page whatever its number of vendors (session, case, access, the
# vendor page and its count, the statuses, reports, thread, names, candidates, audit).
CASE_PAGE_QUERIES = 60


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303


def _twins(platform: Platform, prefix: str = "TRI") -> tuple[str, str, dict[str, Any]]:
    """Two reports of one bug (the second reworded, with markup in it); the finder proposes
    the newer as a likely duplicate of the older."""
    older, newer = f"{prefix}-1", f"{prefix}-2"
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        201,
        # A CVE id among its names, so that it has a CVE record to export once published.
        json=report(
            older,
            description=TWIN_TEXT,
            cvss_v3=V31,
            aliases=[f"CVE-2026-{40_000 + sum(map(ord, prefix))}"],
        ),
    )
    platform.call(
        "partner",
        "POST",
        "/clearinghouse/reports",
        201,
        json=report(
            newer,
            description=TWIN_TEXT.replace("joins", "concatenates") + " <script>alert(1)</script>",
            discovered_by={"kind": "person", "name": "A. Researcher"},
        ),
    )
    proposals = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"limit": 200}
    ).json()["items"]
    (proposal,) = [p for p in proposals if (p["report_id"], p["candidate_id"]) == (newer, older)]
    return older, newer, proposal


def test_the_clearinghouse_home_is_its_triage_queue_with_filters(
    platform: Platform, clock: FixedClock
) -> None:
    older, newer, _ = _twins(platform)
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        201,
        json=report("TRI-OTHER", affected=[{"purl": "pkg:npm/framekit@2.0.0"}], tlp="GREEN"),
    )
    sign_in(platform, "clearinghouse")
    home = platform.client.get("/web/")
    assert home.status_code == 200 and "Triage queue" in home.text
    assert all(rid in home.text for rid in (older, newer, "TRI-OTHER"))
    assert "agency org" in home.text and "partner org" in home.text  # names, not ids

    def ids(**params: str) -> list[str]:
        got = platform.client.get("/web/clearinghouse/reports", params=params)
        assert got.status_code == 200, got.text
        return re.findall(r'href="/web/clearinghouse/reports/(TRI-[A-Z0-9]+)"', got.text)

    assert ids() == ["TRI-OTHER", newer, older]  # newest first
    assert ids(tlp="GREEN") == ["TRI-OTHER"]
    assert ids(tlp="RED") == []
    assert ids(product="framekit") == ["TRI-OTHER"]
    assert ids(product="pkg:pypi/uploadkit") == [newer, older]
    # Found by a model means a verified label: the documents' discovered_by are only claims.
    assert ids(found="person") == ["TRI-OTHER", newer, older]
    assert ids(found="model") == []
    assert ids(source=platform["partner"].org_id) == [newer]
    assert ids(order="severity")[0] == older  # the only one with a CVSS score
    assert ids(age="1") == ["TRI-OTHER", newer, older]
    clock.advance(timedelta(days=2))
    sign_in(platform, "clearinghouse")  # the session idled out meanwhile
    assert ids(age="1") == []
    assert ids(age="7", state="all") == ["TRI-OTHER", newer, older]
    # The likely duplicate is counted on both reports' rows.
    rows = platform.client.get("/web/clearinghouse/reports").text
    assert rows.count("<td>1</td>") == 2
    # A filter a person mistyped is a page that says which, not a 500.
    bad = platform.client.get("/web/clearinghouse/reports", params={"tlp": "PURPLE"})
    assert bad.status_code == 422 and "unknown TLP label" in bad.text
    bad = platform.client.get("/web/clearinghouse/reports", params={"order": "random"})
    assert bad.status_code == 422 and "unknown order" in bad.text


def test_the_queue_pages_and_keeps_its_filters(platform: Platform) -> None:
    lines = "\n".join(json.dumps(report(f"PG-{n:03d}", tlp="GREEN")) for n in range(55))
    platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines.encode(),
        params={"format": "jsonl"},
    )
    sign_in(platform, "clearinghouse")
    first = platform.client.get("/web/clearinghouse/reports", params={"tlp": "GREEN"})
    assert "55 reports, showing 1-50" in first.text
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None and "tlp=GREEN" in link.group(1)
    second = platform.client.get(html.unescape(link.group(1)))
    assert "showing 51-55" in second.text and 'rel="prev"' in second.text


def test_a_report_shows_its_duplicate_side_by_side_escaped(platform: Platform) -> None:
    older, newer, proposal = _twins(platform)
    sign_in(platform, "clearinghouse")
    page = platform.client.get(f"/web/clearinghouse/reports/{newer}")
    assert page.status_code == 200
    assert f'id="dup-{proposal["id"]}"' in page.text
    # The words only one of them has are marked on each side; the rest is shared.
    assert "<del>concatenates</del>" in page.text and "<ins>joins</ins>" in page.text
    assert "<mark>CWE-22</mark>" in page.text and "<mark>pkg:pypi/uploadkit</mark>" in page.text
    # The reporter's text is text: escaped, never markup.
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert f"Merge {newer} into {older}" in page.text
    assert "A. Researcher" in page.text  # who found it
    # The same comparison from the older report's side.
    assert (
        f'id="dup-{proposal["id"]}"'
        in platform.client.get(f"/web/clearinghouse/reports/{older}").text
    )


def test_merge_confirms_then_merges_and_not_a_duplicate_closes(platform: Platform) -> None:
    older, newer, proposal = _twins(platform)
    sign_in(platform, "clearinghouse")
    confirm = platform.client.get(f"/web/clearinghouse/duplicates/{proposal['id']}/merge")
    assert confirm.status_code == 200 and "leaves the triage queue" in confirm.text
    assert f"Merge {newer} into {older}?" in confirm.text
    # Only the confirmation's button merges: the page itself changed nothing.
    assert (
        platform.call("clearinghouse", "GET", f"/clearinghouse/reports/{newer}", 200).json()[
            "merged_into"
        ]
        is None
    )
    done = platform.client.post(
        f"/web/clearinghouse/duplicates/{proposal['id']}/merge", follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/web/clearinghouse/reports/{newer}"
    merged = platform.call("clearinghouse", "GET", f"/clearinghouse/reports/{newer}", 200).json()
    assert merged["merged_into"] == older
    page = platform.client.get(f"/web/clearinghouse/reports/{newer}")
    assert 'id="merged"' in page.text and "Merge " + newer not in page.text
    # Merged reports leave the open queue.
    assert newer not in platform.client.get("/web/clearinghouse/reports").text
    # htmx's post (after its own confirm dialog) is told where to go, not redirected inside.
    _, _, second = _twins(platform, "NOT")
    asked = platform.client.post(
        f"/web/clearinghouse/duplicates/{second['id']}/not-duplicate",
        headers={"hx-request": "true"},
    )
    assert (
        asked.status_code == 200
        and asked.headers["hx-redirect"] == "/web/clearinghouse/reports/NOT-2"
    )
    listed = platform.call(
        "clearinghouse", "GET", "/clearinghouse/duplicates", 200, params={"status": "rejected"}
    ).json()
    assert [p["id"] for p in listed["items"]] == [second["id"]]
    # No such decision is a 404, not a 303 as though decided.
    assert (
        platform.client.post(
            f"/web/clearinghouse/duplicates/{second['id']}/approve", follow_redirects=False
        ).status_code
        == 404
    )


def test_others_may_not_decide_duplicates_or_publish(platform: Platform) -> None:
    older, newer, proposal = _twins(platform)
    for who in ("developer", "agency"):
        sign_in(platform, who)
        assert (
            platform.client.get(f"/web/clearinghouse/duplicates/{proposal['id']}/merge").status_code
            == 403
        )
        post = platform.client.post(
            f"/web/clearinghouse/duplicates/{proposal['id']}/merge", follow_redirects=False
        )
        assert post.status_code == 403
    sign_in(platform, "agency")  # the reporter of the older one reads it, without the forms
    page = platform.client.get(f"/web/clearinghouse/reports/{older}")
    assert page.status_code == 200 and "Likely duplicates" not in page.text
    assert "Publish as an advisory" not in page.text
    assert platform.client.get(f"/web/clearinghouse/reports/{older}/publish").status_code == 403
    refused = platform.client.post(f"/web/clearinghouse/reports/{older}/publish")
    assert refused.status_code == 403
    assert (
        platform.call("agency", "GET", f"/clearinghouse/reports/{older}", 200).json()[
            "published_at"
        ]
        is None
    )
    sign_in(platform, "other_developer")  # TLP:AMBER: an outsider learns nothing
    assert platform.client.get(f"/web/clearinghouse/reports/{older}").status_code == 404
    assert newer not in platform.client.get("/web/clearinghouse/reports").text


def _open_case(platform: Platform, report_id: str, zone: str = "America/New_York") -> str:
    created = platform.client.post(
        "/web/clearinghouse/cases",
        data={
            "report_id": report_id,
            "title": "uploadkit traversal",
            "tlp": "AMBER",
            "embargo_until": "2026-09-01T09:30",
            "embargo_zone": zone,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert location.startswith("/web/clearinghouse/cases/case_")
    return location.rsplit("/", 1)[1]


def test_a_case_from_a_report_with_vendors_statuses_and_messages(platform: Platform) -> None:
    older, _, _ = _twins(platform)
    sign_in(platform, "clearinghouse")
    case_id = _open_case(platform, older)
    case = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}", 200).json()
    # 09:30 in New York on 1 September (EDT, UTC-4) is 13:30 UTC.
    assert case["embargo"]["until"].startswith("2026-09-01T13:30")
    assert case["report_ids"] == [older]
    page = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert page.status_code == 200
    assert "2026-09-01 09:30 EDT" in page.text and "America/New_York" in page.text
    assert "UTC-0400" in page.text and "2026-09-01 13:30 UTC" in page.text
    assert re.search(r'id="embargo-left">\d+d \d+h \d+m left', page.text)
    assert 'id="no-vendors"' in page.text and 'id="no-messages"' in page.text
    developer = platform["developer"].org_id
    added = platform.client.post(
        f"/web/clearinghouse/cases/{case_id}/vendors",
        data={"vendor_org_id": developer},
        follow_redirects=False,
    )
    assert added.status_code == 303
    status_path = f"/web/clearinghouse/cases/{case_id}/vendors/{developer}/statuses/{older}"
    saved = platform.client.post(
        status_path,
        data={"status": "affected", "due_on": "2026-08-15", "statement": "we ship it"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"#vendor-{developer}")
    table = platform.call(
        "clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors", 200
    ).json()
    cell = table["items"][0]["statuses"][older]
    assert (cell["status"], cell["due_on"], cell["statement"]) == (
        "affected",
        "2026-08-15",
        "we ship it",
    )
    # A VEX justification set elsewhere survives a save on the page (the form carries it).
    api_path = f"/clearinghouse/cases/{case_id}/vendors/{developer}/statuses/{older}"
    vex = {"status": "not_affected", "justification": "component_not_present"}
    platform.call("clearinghouse", "PUT", api_path, 200, json=vex)
    form = platform.client.get(f"/web/clearinghouse/cases/{case_id}").text
    assert 'name="justification" value="component_not_present"' in form
    platform.client.post(
        status_path, data={"status": "not_affected", "justification": "component_not_present"}
    )
    kept = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors", 200)
    assert kept.json()["items"][0]["statuses"][older]["justification"] == "component_not_present"
    platform.client.post(
        status_path,
        data={"status": "affected", "due_on": "2026-08-15", "statement": "we ship it"},
    )
    bad = platform.client.post(status_path, data={"status": "affected", "due_on": "15/08/2026"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    assert platform.client.post(status_path, data={"status": "patched"}).status_code == 422
    posted = platform.client.post(
        f"/web/clearinghouse/cases/{case_id}/messages",
        data={"text": "Fix by <b>Friday</b>?"},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"].endswith("#messages")
    page = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert "developer org" in page.text and "due 2026-08-15" in page.text
    assert "Fix by &lt;b&gt;Friday&lt;/b&gt;?" in page.text and "Ops · Clearinghouse" in page.text
    # The vendor sees its case, sets its own status and answers in the thread.
    sign_in(platform, "developer")
    mine = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert mine.status_code == 200 and "Fix by" in mine.text and 'id="add-vendor"' not in mine.text
    assert (
        platform.client.post(
            status_path, data={"status": "fixed", "due_on": ""}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        platform.client.post(
            f"/web/clearinghouse/cases/{case_id}/messages",
            data={"text": "Shipped in 1.2.1"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert count(platform, "ch_case_messages") == 2
    # The reporter may read the case but not its thread; another vendor learns nothing.
    sign_in(platform, "agency")
    theirs = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert theirs.status_code == 200 and 'id="messages-closed"' in theirs.text
    assert "Shipped in 1.2.1" not in theirs.text
    sign_in(platform, "other_developer")
    assert platform.client.get(f"/web/clearinghouse/cases/{case_id}").status_code == 404
    assert (
        platform.client.post(
            f"/web/clearinghouse/cases/{case_id}/messages", data={"text": "let me in"}
        ).status_code
        == 404
    )
    listed = platform.client.get("/web/clearinghouse/cases")
    assert listed.status_code == 200 and case_id not in listed.text
    sign_in(platform, "clearinghouse")
    listed = platform.client.get("/web/clearinghouse/cases")
    assert case_id in listed.text and "EDT" in listed.text


def test_a_bad_case_form_is_refused_and_opens_nothing(platform: Platform) -> None:
    older, _, _ = _twins(platform)
    sign_in(platform, "clearinghouse")
    for zone, when in (("Mars/Olympus", ""), ("UTC", "next tuesday")):
        got = platform.client.post(
            "/web/clearinghouse/cases",
            data={"report_id": older, "title": "t", "embargo_until": when, "embargo_zone": zone},
        )
        assert got.status_code == 422, got.text
    missing = platform.client.post(
        "/web/clearinghouse/cases", data={"report_id": "NOPE-1", "title": "t"}
    )
    assert missing.status_code == 404
    assert count(platform, "ch_cases") == 0
    sign_in(platform, "developer")
    assert (
        platform.client.post(
            "/web/clearinghouse/cases", data={"report_id": older, "title": "mine"}
        ).status_code
        == 403  # as the API: opening a case is the clearinghouse's
    )


def test_publish_confirms_says_what_happens_and_exports_follow(platform: Platform) -> None:
    older, _, _ = _twins(platform)
    sign_in(platform, "clearinghouse")
    case_id = _open_case(platform, older)
    confirm = platform.client.get(f"/web/clearinghouse/reports/{older}/publish")
    assert confirm.status_code == 200
    assert "cannot be unpublished" in confirm.text and "2026-09-01 13:30 UTC" in confirm.text
    assert case_id in confirm.text
    assert (
        platform.call("clearinghouse", "GET", f"/clearinghouse/reports/{older}", 200).json()[
            "published_at"
        ]
        is None
    )
    page = platform.client.get(f"/web/clearinghouse/reports/{older}")
    assert 'hx-confirm="Publish this report' in page.text and 'id="exports"' not in page.text
    done = platform.client.post(
        f"/web/clearinghouse/reports/{older}/publish", follow_redirects=True
    )
    assert done.status_code == 200 and 'id="exports"' in done.text
    assert "Publish as an advisory" not in done.text
    links = re.findall(r'href="(/web/advisories/[^"]+/export/(\w+))"', done.text)
    assert {fmt for _, fmt in links} == {"csaf", "osv", "cve", "stix"}
    for link, fmt in links:
        exported = platform.client.get(link)
        assert exported.status_code == 200, (fmt, exported.text)
        assert older in exported.text
    assert (
        platform.client.get(links[0][0]).json()["document"]["category"] == "csaf_security_advisory"
    )


def _vendors(platform: Platform, n: int) -> list[str]:
    """``n`` vendor organisations, straight into the database (they need no people here)."""
    now = platform.context.clock.now()
    ids = []
    with transaction(platform.context.sessions) as db:
        for i in range(n):
            org, _ = identity_service.seed_organisation(
                db,
                OrganisationCreate(name=f"Vendor {i:03d}", kind=OrgKind.DEVELOPER),
                UserCreate(email=f"v{i}@vendor{i}.example", name=f"V{i}"),
                now,
            )
            ids.append(org.id)
    return ids


@contextmanager
def _queries(platform: Platform) -> Iterator[list[str]]:
    statements: list[str] = []

    def count_one(*args: object) -> None:
        statements.append(str(args[2]))

    engine = platform.context.engine
    event.listen(engine, "before_cursor_execute", count_one)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count_one)


def test_the_case_page_costs_the_same_queries_at_200_vendors_as_at_20(platform: Platform) -> None:
    older, _, _ = _twins(platform)
    sign_in(platform, "clearinghouse")
    case_id = _open_case(platform, older)
    vendors = _vendors(platform, 200)
    seen = {}
    for size in (20, 200):
        platform.call(
            "clearinghouse",
            "POST",
            f"/clearinghouse/cases/{case_id}/members",
            200,
            json={"vendor_org_ids": vendors[:size]},
        )
        with _queries(platform) as statements:
            page = platform.client.get(f"/web/clearinghouse/cases/{case_id}", params={"limit": 200})
        assert page.status_code == 200
        assert page.text.count('class="status-cell"') == size
        seen[size] = len(statements)
    assert seen[20] == seen[200] <= CASE_PAGE_QUERIES, seen
    # The default page holds 50 vendors, with a link to the next.
    default = platform.client.get(f"/web/clearinghouse/cases/{case_id}")
    assert default.text.count('class="status-cell"') == 50
    assert "200 vendors, showing 1-50" in default.text and 'rel="next"' in default.text


def test_the_side_by_side_diff_marks_each_sides_own_words_and_bounds_long_texts() -> None:
    diff = side_by_side("a b c d", "a x c d e")
    assert [(p.kind, p.text) for p in diff.left] == [
        ("same", "a "),
        ("removed", "b"),
        ("same", " c d"),
    ]
    assert [(p.kind, p.text) for p in diff.right] == [
        ("same", "a "),
        ("added", "x"),
        ("same", " c d"),
        ("added", " e"),
    ]
    # Nothing is lost: each side's pieces are its text again.
    assert "".join(p.text for p in diff.left) == "a b c d"
    assert "".join(p.text for p in diff.right) == "a x c d e"
    assert not diff.truncated and side_by_side("same", "same").ratio == 1.0
    long = " ".join(f"w{n}" for n in range(MAX_WORDS + 500))
    bounded = side_by_side(long, long + " tail")
    assert bounded.truncated and "tail" not in "".join(p.text for p in bounded.right)
