"""The analyst's triage queue: verified model-found only, keyset pages, groups, decisions."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from prereview.audit import service as audit
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.transparency.figures import ACTIONS, compute
from prereview.transparency.periods import period_of
from support.factories import Platform
from support.factories.clearinghouse import report

QUEUE = "/clearinghouse/triage/queue"


def _queue(platform: Platform, expect: int = 200, **params: Any) -> Any:
    return platform.call("clearinghouse", "GET", QUEUE, expect, params=params).json()


def _ids(page: Any) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_a_rival_labs_claim_of_another_labs_review_is_neither_counted_nor_filtered(
    platform: Platform, clock: FixedClock
) -> None:
    # The developer's model Atlas is in review; the agency holds a grant on it.
    sid = platform.submit()["id"]
    platform.grant(sid)
    honest = report(
        "PRV-honest", discovered_by={"kind": "model", "model": "Atlas", "review_id": sid}
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=honest)
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports/PRV-honest/model-label",
        200,
        json={"submission_id": sid, "model": "Atlas"},
    )
    # A rival lab says its report was found by the developer's model during that review.
    claim = {"kind": "model", "model": "Atlas", "review_id": sid}
    rival = report("PRV-rival", title="Rival's claim", discovered_by=claim)
    made = platform.call("other_developer", "POST", "/clearinghouse/reports", 201, json=rival)
    out = made.json()["report"]
    assert out["submission_id"] is None and out["discovered_by"] == claim  # kept as a claim
    refused = platform.call(
        "other_developer",
        "POST",
        "/clearinghouse/reports/PRV-rival/model-label",
        422,
        json={"submission_id": sid, "model": "Atlas"},
    ).json()
    assert refused["type"].endswith(":clearinghouse-unverifiable-model-label")

    model_found = _ids(_queue(platform, model_found="true"))
    not_model_found = _ids(_queue(platform, model_found="false"))
    assert model_found == ["PRV-honest"]
    assert "PRV-rival" in not_model_found and "PRV-honest" not in not_model_found
    item = next(i for i in _queue(platform)["items"] if i["id"] == "PRV-rival")
    assert item["model_label"] is None and item["claimed_found_by"] == claim
    summary = platform.call("clearinghouse", "GET", "/clearinghouse/triage/summary", 200).json()
    assert summary["model_verified"] == 1 and summary["model_claimed"] == 1
    # The web queue's filter is the same service filter.
    platform.client.cookies.clear()
    signed_in = platform.client.post(
        "/web/login",
        data={"token": platform["clearinghouse"].token},
        headers={"origin": "http://testserver"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    page = platform.client.get("/web/clearinghouse/reports", params={"found": "model"})
    assert page.status_code == 200
    assert "PRV-honest" in page.text and "PRV-rival" not in page.text
    everyone = platform.client.get("/web/clearinghouse/reports").text
    assert "model Atlas (claimed)" in everyone  # the claim is shown as one
    platform.client.cookies.clear()
    # The transparency report counts only the verified label as found by a model.
    with transaction(platform.context.sessions) as db:
        leaves = [
            json.loads(row.leaf)
            for row in audit.entries_with_actions(
                db, ACTIONS, below=10**9, before=clock.now() + timedelta(days=1)
            )
        ]
    period = period_of(clock.now())
    counts = compute(leaves, period, clock.now() + timedelta(hours=1)).counts
    assert counts["clearinghouse.foundByModel"] == 1
    assert counts["clearinghouse.foundByModelClaimed"] == 1


def test_keyset_pages_cover_the_queue_once_in_order(platform: Platform) -> None:
    lines = "\n".join(
        json.dumps(report(f"PRV-k{i:02}", title=f"bug number {i} in module {i * 7919}"))
        for i in range(23)
    )
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/imports",
        200,
        content=lines.encode(),
        params={"format": "jsonl"},
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["after"] = cursor
        page = _queue(platform, **params)
        seen += _ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5 and len(seen) == len(set(seen)) == 23
    assert seen == sorted(seen, reverse=True)  # newest first (imported in id order)
    # Every row says its reproduction is unknown until reproduction records exist.
    assert {i["reproduction"] for i in _queue(platform)["items"]} == {"unknown"}
    # Severity order pages the same way, with a cursor of its own.
    first = _queue(platform, order="severity", limit=10)
    rest = _queue(platform, order="severity", limit=50, after=first["next_cursor"])
    assert len(_ids(first) + _ids(rest)) == 23
    # A cursor of the other order, or one never handed out, is a 422 problem, not a 500.
    for bad in (first["next_cursor"], "bm90LWEtY3Vyc29y", "%%%", "e30"):
        problem = _queue(platform, 422, after=bad)
        assert problem["type"].endswith(":clearinghouse-invalid-queue-cursor")


def test_groups_by_product_and_cluster_and_the_triage_decision(
    platform: Platform, clock: FixedClock
) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("PRV-g1"))
    clock.advance(timedelta(minutes=1))
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("PRV-g2"))
    other = report(
        "PRV-g3",
        affected=[{"purl": "pkg:npm/framekit@2.0.0"}],
        title="XSS",
        cwes=["CWE-79"],
        description="framekit renders the title attribute unescaped in its tooltip.",
    )
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=other)
    products = platform.call(
        "clearinghouse", "GET", "/clearinghouse/triage/groups", 200, params={"by": "product"}
    ).json()
    assert {g["key"]: g["reports"] for g in products} == {
        "pkg:pypi/uploadkit": 2,
        "pkg:npm/framekit": 1,
    }
    clusters = platform.call(
        "clearinghouse", "GET", "/clearinghouse/triage/groups", 200, params={"by": "cluster"}
    ).json()
    assert clusters == [
        {
            "key": "PRV-g1",
            "reports": 2,
            "newest_at": clusters[0]["newest_at"],
            "highest_severity": None,
        }
    ]
    entry = next(i for i in _queue(platform)["items"] if i["id"] == "PRV-g2")
    assert entry["cluster"] == "PRV-g1" and entry["open_duplicates"] == 1
    # Triage: the first moment is kept; the outcome follows the latest decision.
    path = "/clearinghouse/reports/PRV-g2/triage"
    first = platform.call("clearinghouse", "POST", path, 200, json={"outcome": "accepted"}).json()
    clock.advance(timedelta(hours=3))
    again = platform.call(
        "clearinghouse", "POST", path, 200, json={"outcome": "needs_information", "note": "PoC?"}
    ).json()
    assert again["triaged_at"] == first["triaged_at"] and again["outcome"] == "needs_information"
    platform.call("clearinghouse", "POST", path, 422, json={"outcome": "maybe"})
    platform.call("agency", "POST", path, 403, json={"outcome": "accepted"})
    platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/reports/nosuch/triage",
        404,
        json={"outcome": "accepted"},
    )
    assert _ids(_queue(platform, triaged="false")) == ["PRV-g3", "PRV-g1"]
    assert _ids(_queue(platform, triaged="true")) == ["PRV-g2"]
