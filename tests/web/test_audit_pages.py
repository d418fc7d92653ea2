"""The developer's audit page: entries newest first, a page at a time, each with what the
browser needs to check it (the exact leaf, its audit path, the signed note and the log's key),
and that material checks, here with the audit capability's own verifiers."""

from __future__ import annotations

import base64
import html
import re

from prereview.audit import merkle
from prereview.audit.checkpoint import parse_and_verify_checkpoint
from prereview.audit.service import leaf_hash
from prereview.web.session import COOKIE
from support.factories import Platform
from support.web_matrix import SITE, sign_in

ROW = re.compile(
    r'<tr class="entry" id="entry-(\d+)" data-seq="(\d+)" data-leaf="([^"]*)"(?: data-proof="([^"]*)")?>'
)


def _as(platform: Platform, who: str) -> dict[str, str]:
    return SITE | {"cookie": f"{COOKIE}={sign_in(platform, who)}"}


def _busy_submission(platform: Platform, findings: int) -> str:
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    for n in range(findings):
        platform.call(
            "agency",
            "POST",
            f"/submissions/{sub['id']}/findings",
            201,
            json={
                "title": f"finding {n}",
                "description": "d",
                "severity": "low",
                "category": "other",
            },
        )
    return str(sub["id"])


def _attribute(text: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', text)
    assert found, name
    return html.unescape(found.group(1))


def test_entries_newest_first_each_with_a_proof_that_verifies(platform: Platform) -> None:
    sid = _busy_submission(platform, findings=6)
    other = _busy_submission(platform, findings=1)  # another submission's entries stay out
    developer = _as(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sid}/audit", headers=developer)
    assert page.status_code == 200
    api = platform.call("developer", "GET", f"/submissions/{sid}/audit", 200, params={"limit": 200})
    expected = sorted((e["seq"] for e in api.json()["items"]), reverse=True)
    rows = ROW.findall(page.text)
    assert [int(seq) for _, seq, _, _ in rows] == expected
    assert all(other not in html.unescape(leaf) for _, _, leaf, _ in rows)

    note = _attribute(page.text, "data-note")
    key = _attribute(page.text, "data-verifier-key")
    checkpoint = parse_and_verify_checkpoint(note, key)
    assert checkpoint.size > max(expected)
    for _, seq, leaf, proof in rows:
        path = [base64.b64decode(h) for h in html.unescape(proof).split()]
        merkle.verify_inclusion(
            leaf_hash(html.unescape(leaf)), int(seq), checkpoint.size, path, checkpoint.root
        )
    # Without JavaScript the page says how to check from a terminal.
    assert "<noscript>" in page.text and "prereview audit verify" in page.text
    assert "finding:create" in page.text or "review:finding:create" in page.text


def test_the_trail_is_paginated_newest_first(platform: Platform) -> None:
    sid = _busy_submission(platform, findings=5)
    developer = _as(platform, "developer")
    api = platform.call("developer", "GET", f"/submissions/{sid}/audit", 200, params={"limit": 200})
    seqs = sorted((e["seq"] for e in api.json()["items"]), reverse=True)
    assert len(seqs) >= 6
    first = platform.client.get(f"/web/submissions/{sid}/audit?limit=3", headers=developer)
    second = platform.client.get(
        f"/web/submissions/{sid}/audit?limit=3&offset=3", headers=developer
    )
    assert [int(r[1]) for r in ROW.findall(first.text)] == seqs[:3]
    assert [int(r[1]) for r in ROW.findall(second.text)] == seqs[3:6]
    assert 'id="older" href="?offset=3&amp;limit=3"' in first.text
    assert 'id="newer"' not in first.text
    assert 'id="newer" href="?offset=0&amp;limit=3"' in second.text
    # Out of range is a 422, never a 500.
    assert (
        platform.client.get(f"/web/submissions/{sid}/audit?limit=0", headers=developer).status_code
        == 422
    )


def test_only_the_developer_reads_its_trail(platform: Platform) -> None:
    sid = _busy_submission(platform, findings=1)
    expected = {"agency": 403, "partner": 404, "other_developer": 404, "clearinghouse": 404}
    for who, status in expected.items():
        answer = platform.client.get(f"/web/submissions/{sid}/audit", headers=_as(platform, who))
        assert answer.status_code == status, (who, answer.status_code)
        assert "data-leaf" not in answer.text


def test_the_trail_filters_by_action_and_keeps_the_filter_across_pages(platform: Platform) -> None:
    sid = _busy_submission(platform, findings=4)
    developer = _as(platform, "developer")
    found = platform.client.get(
        f"/web/submissions/{sid}/audit?action=review:finding&limit=2", headers=developer
    )
    assert found.status_code == 200
    rows = ROW.findall(found.text)
    assert len(rows) == 2
    assert all("review:finding:create" in html.unescape(leaf) for _, _, leaf, _ in rows)
    assert 'href="?offset=2&amp;limit=2&amp;action=review%3Afinding"' in found.text
    assert '<option value="review:finding" selected>' in found.text
    none = platform.client.get(
        f"/web/submissions/{sid}/audit?action=nothing:here", headers=developer
    )
    assert (
        none.status_code == 200
        and 'id="no-entries"' in none.text
        and "show every entry" in none.text
    )
    bad = platform.client.get(
        f"/web/submissions/{sid}/audit?action=bad%20action", headers=developer
    )
    assert bad.status_code == 422


def test_the_submission_page_links_the_console_by_role(platform: Platform) -> None:
    sid = _busy_submission(platform, findings=0)
    audit = f'href="/web/submissions/{sid}/audit"'
    materials = f'href="/web/submissions/{sid}/materials"'
    gateway = f'href="/web/submissions/{sid}/gateway"'
    mine = platform.client.get(f"/web/submissions/{sid}", headers=_as(platform, "developer"))
    assert audit in mine.text and materials in mine.text and gateway in mine.text
    theirs = platform.client.get(f"/web/submissions/{sid}", headers=_as(platform, "agency"))
    assert audit not in theirs.text and materials in theirs.text and gateway in theirs.text
