"""The demo's clearinghouse: after seeding, a coordinator walks the triage queue, the funnel and
the case through the API, and the partners and vendors see only what their need to know lets
them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from prereview.core.context import AppContext
from prereview.demo import ADVISORY_IDS, VIEWER, DemoTokens, seed


@pytest.fixture
def demo(context: AppContext) -> DemoTokens:
    return seed(context)


def _get(client: TestClient, tokens: DemoTokens, who: str, path: str, code: int = 200) -> Any:
    response = client.get(
        f"/api/v1/clearinghouse{path}", headers={"Authorization": f"Bearer {tokens.values[who]}"}
    )
    assert response.status_code == code, response.text
    return response.json()


def test_the_coordinator_sees_the_queue_the_funnel_and_the_case(
    context: AppContext, client: TestClient, demo: DemoTokens
) -> None:
    again = seed(context)
    assert again.ids == demo.ids, "seeding twice must not duplicate the clearinghouse scenario"
    demo = again
    ids = demo.ids

    def get(path: str) -> Any:
        return _get(client, demo, "CLEARINGHOUSE_TOKEN", path)

    # The open queue: the new reports and the two advisories not yet triaged nor published.
    queue = {row["id"]: row for row in get("/triage/queue?limit=50")["items"]}
    assert set(queue) == {
        *ADVISORY_IDS[4:],
        ids["DEMO_REPORT"],
        ids["DEMO_CLAIMED_REPORT"],
        ids["DEMO_AGENCY_REPORT"],
    }
    # The hospital's label is verified (it was let into the Helios review); the bank's report
    # only claims a model found it (the bank was nominated, never let in).
    verified = queue[ids["DEMO_REPORT"]]["model_label"]
    assert (verified["submission_id"], verified["model"], verified["model_version"]) == (
        ids["OPEN_SUBMISSION"],
        "Helios",
        "2.0",
    )
    claimed = queue[ids["DEMO_CLAIMED_REPORT"]]
    assert claimed["model_label"] is None and claimed["claimed_found_by"]["model"] == "Helios"
    outcomes = {rid: row["triage_outcome"] for rid, row in queue.items()}
    assert outcomes[ids["DEMO_CLAIMED_REPORT"]] == "needs_information"
    assert sorted(o or "untriaged" for o in outcomes.values()).count("untriaged") == 2
    assert get("/triage/summary") == {"model_verified": 2, "model_claimed": 1, "other": 6}

    funnel = get("/funnel")
    counts = funnel["overall"]["counts"]
    assert (counts["found"], counts["triaged"], counts["notified"], counts["disclosed"]) == (
        9,
        7,
        2,
        4,
    )
    assert counts["acknowledged"] == 1
    assert {v["vendor_org_id"] for v in funnel["vendors"]} == {ids["ASTER_ORG"], ids["CORVID_ORG"]}

    case = get(f"/cases/{ids['DEMO_CASE']}")
    assert case["report_ids"] == [ids["DEMO_REPORT"]] and case["vendor_count"] == 2
    assert case["embargo"]["zone"] == "America/Chicago" and not case["embargo"]["public"]
    assert "T17:00:00" in case["embargo"]["local"]  # 17:00 in Chicago, CST or CDT
    assert len(case["embargo_changes"]) == 1
    table = get(f"/cases/{ids['DEMO_CASE']}/vendors")
    rows = {row["vendor_org_id"]: row for row in table["items"]}
    aster, corvid = rows[ids["ASTER_ORG"]], rows[ids["CORVID_ORG"]]
    assert aster["cells"][VIEWER]["csaf_product_status"] == "known_affected"
    assert aster["statuses"][ids["DEMO_REPORT"]]["status"] == "affected"
    assert corvid["statuses"][ids["DEMO_REPORT"]]["status"] == "under_investigation"
    assert {c["status"] for row in rows.values() for c in row["cells"].values()} == {
        "affected",
        "not_affected",
        "under_investigation",
    }
    assert aster["private_messages"] == corvid["private_messages"] == 2
    shared = get(f"/cases/{ids['DEMO_CASE']}/messages")
    assert shared["total"] == 2 and all(m["thread"] is None for m in shared["items"])
    cases = get("/cases")
    assert [c["id"] for c in cases["items"]] == [ids["DEMO_CASE"]]


def test_a_rival_vendor_and_the_partners_see_only_what_their_need_to_know_allows(
    client: TestClient, demo: DemoTokens
) -> None:
    ids = demo.ids
    aster_thread = f"/cases/{ids['DEMO_CASE']}/vendors/{ids['ASTER_ORG']}/messages"
    mine = _get(client, demo, "ASTER_TOKEN", aster_thread)
    assert [m["author_org_id"] for m in mine["items"]] == [
        ids["CLEARINGHOUSE_ORG"],
        ids["ASTER_ORG"],
    ]
    stolen = _get(client, demo, "CORVID_TOKEN", aster_thread, 404)
    assert stolen["type"].endswith("clearinghouse-thread-not-found")
    # Corvid reads the case's shared thread and its own, and learns no more of Aster's than
    # that the thread is not its to read (its size is not told either).
    _get(client, demo, "CORVID_TOKEN", f"/cases/{ids['DEMO_CASE']}/messages")
    table = _get(client, demo, "CORVID_TOKEN", f"/cases/{ids['DEMO_CASE']}/vendors")
    sizes = {row["vendor_org_id"]: row["private_messages"] for row in table["items"]}
    assert sizes == {ids["ASTER_ORG"]: None, ids["CORVID_ORG"]: 2}

    # The hospital: its own report, and the case it reported, nothing more.
    hospital = {r["id"] for r in _get(client, demo, "HOSPITAL_TOKEN", "/reports")["items"]}
    # Its own report, and the public (TLP:CLEAR) advisories; neither the bank's nor CAISI's
    # TLP:AMBER report, though CAISI's concerns a product in the hospital's case.
    assert ids["DEMO_REPORT"] in hospital
    assert ids["DEMO_CLAIMED_REPORT"] not in hospital and ids["DEMO_AGENCY_REPORT"] not in hospital
    _get(client, demo, "HOSPITAL_TOKEN", f"/reports/{ids['DEMO_AGENCY_REPORT']}", 404)
    # The reporter reads its case, not the vendors' threads nor their shared one.
    _get(client, demo, "HOSPITAL_TOKEN", f"/cases/{ids['DEMO_CASE']}")
    _get(client, demo, "HOSPITAL_TOKEN", f"/cases/{ids['DEMO_CASE']}/messages", 403)
    thread = f"/cases/{ids['DEMO_CASE']}/vendors/{ids['ASTER_ORG']}/messages"
    _get(client, demo, "HOSPITAL_TOKEN", thread, 404)
    # Exposure: published advisories on what each partner runs (verified inventory), only.
    exposed = _get(client, demo, "HOSPITAL_TOKEN", "/advisories/for-me")["items"]
    assert [a["id"] for a in exposed] == ["x_PRV-SEED-0028"]
    bank = _get(client, demo, "BANK_TOKEN", "/advisories/for-me")["items"]
    assert sorted(a["id"] for a in bank) == [
        "x_PRV-SEED-0001",
        "x_PRV-SEED-0002",
        "x_PRV-SEED-0003",
    ]
    # The bank is not in the case at all: it learns nothing of it.
    _get(client, demo, "BANK_TOKEN", f"/cases/{ids['DEMO_CASE']}", 404)
    _get(client, demo, "BANK_TOKEN", f"/reports/{ids['DEMO_REPORT']}", 404)
