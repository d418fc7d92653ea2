"""The public page: no sign-in, the same figures as the API, linked from the sign-in page."""

from __future__ import annotations

from prereview.core.clock import FixedClock
from support.factories import Platform
from transparency.conftest import one_reviewed_submission, report


def test_the_page_is_public_and_shows_the_reports_figures(
    platform: Platform, clock: FixedClock
) -> None:
    one_reviewed_submission(platform, clock, findings=12)
    found = report(platform, "2026Q2")
    answer = platform.client.get("/web/transparency", params={"period": "2026Q2"})
    assert answer.status_code == 200
    html = answer.text
    assert "Transparency report, 2026Q2" in html
    assert f"size {found['checkpoint']['size']}" in html
    assert found["checkpoint"]["rootHash"] in html
    assert "prereview transparency recompute --period 2026Q2" in html
    assert "suppressed" in html
    # The model's name and the developer's never appear: the entries are not shown.
    assert "Atlas" not in html and "developer org" not in html


def test_a_bad_period_renders_the_problem(platform: Platform) -> None:
    answer = platform.client.get("/web/transparency", params={"period": "2026Q9"})
    assert answer.status_code == 422
    assert "not a period" in answer.text


def test_the_sign_in_page_links_to_it(platform: Platform) -> None:
    login = platform.client.get("/web/login")
    assert 'href="/web/transparency"' in login.text
