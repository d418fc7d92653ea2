"""The developer's console in a real browser: upload a material with a progress bar (and without
JavaScript, as a plain form), an agency downloads it, the developer sees who did; the audit
trail's proofs are checked in the page with WebCrypto, and a tampered entry, a wrong proof or a
forged checkpoint is marked failed while every other entry passes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, Route, expect

from browser.conftest import Live

SignIn = Callable[[Page, str], None]

CARD = ("Helios system card: evaluated for offensive cyber uplift.\n" * 40_000).encode()


def _submission(live: Live, name: str) -> str:
    planned = (live.clock.now() + timedelta(days=20)).isoformat()
    sub = live.platform.submit(model_name=name, planned_release_at=planned)
    live.platform.grant(sub["id"])
    return str(sub["id"])


def _materials(live: Live, sid: str) -> list[dict[str, Any]]:
    found = live.platform.call("developer", "GET", f"/submissions/{sid}/materials", 200)
    return list(found.json()["items"])


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/web/login")


def test_upload_with_progress_download_and_who_downloaded(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _submission(live, "Aquila")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name="Materials").click()
    expect(page.locator("#no-materials")).to_be_visible()
    # Record what the progress bar showed: the list page loads afresh after the upload.
    page.evaluate(
        """() => {
          const form = document.getElementById('upload');
          form.addEventListener('htmx:xhr:progress', () => {
            const bar = document.getElementById('upload-progress');
            const seen = JSON.parse(sessionStorage.getItem('bar') || '[]');
            seen.push({value: bar.value, hidden: bar.hidden});
            sessionStorage.setItem('bar', JSON.stringify(seen));
          });
        }"""
    )
    page.select_option("#kind", "system_card")
    page.select_option("#tlp", "TLP:AMBER")
    page.get_by_label("PROPRIETARY").check()
    page.set_input_files(
        "#file", files=[{"name": "card.md", "mimeType": "text/markdown", "buffer": CARD}]
    )
    page.get_by_role("button", name="Upload").click()
    row = page.locator("#materials tr", has_text="card.md")
    expect(row).to_contain_text("TLP:AMBER")
    expect(row).to_contain_text("PROPRIETARY")
    expect(row).to_contain_text(f"{len(CARD)} bytes")
    bar = json.loads(page.evaluate("() => sessionStorage.getItem('bar')") or "[]")
    assert bar and all(not step["hidden"] for step in bar), bar
    assert max(step["value"] for step in bar) == 100 and bar[0]["value"] <= bar[-1]["value"]
    (stored,) = _materials(live, sid)
    assert stored["sha256"] == hashlib.sha256(CARD).hexdigest()
    expect(page.locator("#no-downloads")).to_be_visible()

    _sign_out(page)
    sign_in(page, "agency")
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name="Materials").click()
    expect(page.locator("#upload")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("link", name="card.md").click()
    assert download.value.suggested_filename == "card.md"
    path = download.value.path()
    assert path is not None and path.read_bytes() == CARD

    _sign_out(page)
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sid}/materials")
    downloaded = page.locator("#downloads tr", has_text="card.md")
    expect(downloaded).to_contain_text("agency org")


def test_a_refused_upload_says_why(page: Page, live: Live, sign_in: SignIn) -> None:
    sid = _submission(live, "Deneb")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sid}/materials")
    page.set_input_files(
        "#file", files=[{"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("Upload refused")
    expect(page.locator("#upload-status")).to_contain_text("empty")
    assert _materials(live, sid) == []


def test_without_javascript_the_upload_is_a_plain_form(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    page = plain_page
    sid = _submission(live, "Altair")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sid}/materials")
    page.select_option("#tlp", "TLP:RED")
    page.get_by_label("EXPORT-CONTROLLED").check()
    page.set_input_files(
        "#file",
        files=[
            {
                "name": "weights.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"\x00\x01" * 5000,
            }
        ],
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"**/web/submissions/{sid}/materials")
    row = page.locator("#materials tr", has_text="weights.bin")
    expect(row).to_contain_text("TLP:RED")
    expect(row).to_contain_text("EXPORT-CONTROLLED")
    (stored,) = _materials(live, sid)
    assert stored["size"] == 10_000 and stored["markings"] == ["EXPORT-CONTROLLED"]


def _busy(live: Live, name: str) -> str:
    """A submission with a handful of entries: a grant, two findings, a material, a download."""
    sid = _submission(live, name)
    for title in ("prompt injection", "sandbox escape"):
        live.platform.call(
            "agency",
            "POST",
            f"/submissions/{sid}/findings",
            201,
            json={"title": title, "description": "d", "severity": "low", "category": "other"},
        )
    made = live.platform.call(
        "developer",
        "POST",
        f"/submissions/{sid}/materials",
        201,
        params={"filename": "card.md", "tlp": "TLP:AMBER"},
        content=b"system card",
    ).json()
    live.platform.call("agency", "GET", f"/materials/{made['id']}/content", 200)
    return sid


def _entries(page: Page) -> dict[int, str]:
    rows = page.locator("tr.entry")
    expect(rows.first).to_be_visible()
    return {
        int(rows.nth(i).get_attribute("data-seq") or -1): rows.nth(i)
        .locator("td.proof")
        .inner_text()
        for i in range(rows.count())
    }


def _open_audit(page: Page, sid: str) -> None:
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name=re.compile("Audit trail")).click()
    expect(page.locator("#summary")).not_to_be_empty()


def _tamper(page: Page, live: Live, sid: str, change: Callable[[str], str]) -> None:
    """Serve the audit page with ``change`` applied to its HTML, as a lying server would."""

    def handle(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=change(response.text()))

    page.route(f"{live.url}/web/submissions/{sid}/audit", handle)


def _row(html: str, action: str) -> tuple[int, int]:
    """Where in ``html`` the first row of ``action`` starts and its opening tag ends."""
    start = html.index(f"&#34;action&#34;:&#34;{action}&#34;")
    return html.rindex("<tr", 0, start), html.index(">", start)


def test_every_entry_verifies_in_the_browser(page: Page, live: Live, sign_in: SignIn) -> None:
    sid = _busy(live, "Polaris")
    sign_in(page, "developer")
    _open_audit(page, sid)
    expect(page.locator("#checkpoint-status")).to_contain_text("verified")
    expect(page.locator("#checkpoint-status")).to_have_class(re.compile(r"\bok\b"))
    marks = _entries(page)
    api = live.platform.call("developer", "GET", f"/submissions/{sid}/audit", 200).json()
    assert sorted(marks, reverse=True) == list(marks)  # newest first
    assert set(marks) == {e["seq"] for e in api["items"]}
    assert all(mark.startswith("\u2713 verified") for mark in marks.values()), marks
    expect(page.locator("#summary")).to_have_text(f"All {len(marks)} entries verified.")


def test_a_tampered_entry_is_marked_failed_and_the_others_pass(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _busy(live, "Sirius")

    def rewrite(html: str) -> str:
        # The server shows a download as made by nobody in particular: the leaf no longer
        # hashes to the one in the signed tree.
        start, end = _row(html, "review:material:download")
        tag = html[start:end].replace(
            "&#34;filename&#34;:&#34;card.md&#34;", "&#34;filename&#34;:&#34;other.md&#34;"
        )
        assert tag != html[start:end]
        return html[:start] + tag + html[end:]

    _tamper(page, live, sid, rewrite)
    sign_in(page, "developer")
    _open_audit(page, sid)
    expect(page.locator("#checkpoint-status")).to_contain_text("verified")
    marks = _entries(page)
    failed = {seq: mark for seq, mark in marks.items() if not mark.startswith("\u2713")}
    api = live.platform.call("developer", "GET", f"/submissions/{sid}/audit", 200).json()
    (download,) = [e["seq"] for e in api["items"] if e["action"] == "review:material:download"]
    assert list(failed) == [download], marks
    assert "FAILED" in failed[download] and "changed" in failed[download]
    assert len(marks) - 1 == sum(mark.startswith("\u2713 verified") for mark in marks.values())
    expect(page.locator("#summary")).to_contain_text(f"1 of {len(marks)} entries FAILED")
    expect(page.locator(f"#entry-{download} td.proof")).to_have_class(re.compile(r"\bbad\b"))


def test_a_wrong_proof_is_marked_failed(page: Page, live: Live, sign_in: SignIn) -> None:
    sid = _busy(live, "Vega II")

    def rewrite(html: str) -> str:
        start, end = _row(html, "review:finding:create")
        tag = html[start:end]
        proof = re.search(r'data-proof="([^" ]+)', tag)
        assert proof
        wrong = ("A" if proof.group(1)[0] != "A" else "B") + proof.group(1)[1:]
        return html[:start] + tag.replace(proof.group(1), wrong, 1) + html[end:]

    _tamper(page, live, sid, rewrite)
    sign_in(page, "developer")
    _open_audit(page, sid)
    marks = _entries(page)
    failed = [seq for seq, mark in marks.items() if not mark.startswith("\u2713")]
    assert len(failed) == 1, marks
    assert "does not lead to the signed root" in marks[failed[0]]


def test_a_forged_checkpoint_fails_its_signature(page: Page, live: Live, sign_in: SignIn) -> None:
    sid = _busy(live, "Rigel")

    def rewrite(html: str) -> str:
        # One more entry claimed than was signed: the note's text no longer matches its signature.
        note = re.search(r'data-note="[^\n]*\n(\d+)\n', html)
        assert note
        start, end = note.span(1)
        return html[:start] + str(int(note.group(1)) + 1) + html[end:]

    _tamper(page, live, sid, rewrite)
    sign_in(page, "developer")
    _open_audit(page, sid)
    expect(page.locator("#checkpoint-status")).to_contain_text("FAILED")
    expect(page.locator("#checkpoint-status")).to_contain_text("signature does not verify")
    marks = _entries(page)
    assert all("FAILED" in mark for mark in marks.values()), marks
    expect(page.locator("#summary")).to_have_text("Nothing on this page could be verified.")


def test_without_javascript_the_audit_page_says_how_to_check(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _busy(live, "Mira")
    sign_in(plain_page, "developer")
    plain_page.goto(f"/web/submissions/{sid}/audit")
    notice = plain_page.locator("#needs-javascript")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("needs JavaScript")
    expect(notice).to_contain_text("prereview audit verify")
    expect(plain_page.locator("tr.entry").first).to_contain_text("not checked")
