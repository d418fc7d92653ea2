"""The demo period's public report shows its figures with suppression applied, and recomputes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from prereview.core.context import AppContext
from prereview.demo import seed
from prereview.transparency.periods import period_of
from prereview.transparency.recompute import recompute


def test_the_demo_report_is_suppressed_and_recomputes(
    context: AppContext, client: TestClient
) -> None:
    tokens = seed(context)
    period = period_of(context.clock.now()).label
    answer = client.get("/api/v1/transparency/report", params={"period": period})
    assert answer.status_code == 200, answer.text
    figures = answer.json()["figures"]
    # One developer, two submissions, two agencies, a hospital: all withheld.
    for name in (
        "review.participatingDevelopers",
        "review.submissions",
        "review.agenciesWithAccess",
        "review.partnersWithAccess",
        "review.findings.total",
    ):
        assert figures[name]["value"] is None and figures[name]["status"] == "suppressed", name
    published = [n for n, e in figures.items() if e["status"] == "published"]
    assert published and all(
        figures[n]["value"] in (0, 0.0) or n.endswith("Share") for n in published
    )
    page = client.get("/web/transparency", params={"period": period})
    assert page.status_code == 200 and "suppressed" in page.text
    entries = client.get(
        "/api/v1/transparency/entries",
        params={"period": period, "size": answer.json()["checkpoint"]["size"]},
        headers={"Authorization": f"Bearer {tokens.values['CISA_TOKEN']}"},
    )
    assert entries.status_code == 403  # an agency is no auditor of the log
    audited = client.get(
        "/api/v1/transparency/entries",
        params={"period": period, "size": answer.json()["checkpoint"]["size"]},
        headers={"Authorization": f"Bearer {tokens.values['CLEARINGHOUSE_TOKEN']}"},
    )
    assert audited.status_code == 200, audited.text
    assert recompute(answer.json(), [audited.json()]).differences == []
