"""Duplicates and relations through the API: proposals merged, reopened and rejected, and
the OSV meanings of alias, upstream and related kept apart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from prereview.clearinghouse.dedup import duplicates
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report


def test_duplicates_are_proposed_merged_reopened_and_rejected(platform: Platform) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("D-1"))
    second = report(
        "D-2",
        title="Upload handler path traversal",
        description="The save_upload() function in app/upload.py joins the user's file name to "
        "the upload root without normalising it, so '../' sequences write outside the root dir.",
    )
    made = platform.call("partner", "POST", "/clearinghouse/reports", 201, json=second).json()
    # D-1 is the agency's TLP:AMBER report: the partner may not read it, so it learns nothing
    # of it; the clearinghouse still gets the proposal.
    assert made["likely_duplicates"] == []
    platform.call("agency", "GET", "/clearinghouse/duplicates", 403)
    proposals = platform.call("clearinghouse", "GET", "/clearinghouse/duplicates", 200).json()
    (proposal,) = proposals["items"]
    assert (proposal["report_id"], proposal["candidate_id"], proposal["status"]) == (
        "D-2",
        "D-1",
        "proposed",
    )
    path = f"/clearinghouse/duplicates/{proposal['id']}/decision"
    platform.call("agency", "POST", path, 403, json={"decision": "merge"})
    platform.call("clearinghouse", "POST", path, 200, json={"decision": "merge", "note": "same"})
    merged = platform.call("clearinghouse", "GET", "/clearinghouse/reports/D-2", 200).json()
    assert merged["merged_into"] == "D-1"
    platform.call("clearinghouse", "POST", path, 409, json={"decision": "merge"})
    platform.call("clearinghouse", "POST", path, 422, json={"decision": "explode"})
    platform.call("clearinghouse", "POST", path, 200, json={"decision": "reopen"})
    assert (
        platform.call("clearinghouse", "GET", "/clearinghouse/reports/D-2", 200).json()[
            "merged_into"
        ]
        is None
    )
    platform.call("clearinghouse", "POST", path, 200, json={"decision": "reject"})
    platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/duplicates/dup_none/decision",
        404,
        json={"decision": "reject"},
    )
    with transaction(platform.context.sessions) as db:
        leaves = list(
            db.scalars(
                text(
                    "SELECT leaf FROM audit_entries"
                    " WHERE action = 'clearinghouse:duplicate:decide' ORDER BY seq"
                )
            )
        )
    assert [json.loads(leaf)["detail"]["decision"] for leaf in leaves] == [
        "merge",
        "reopen",
        "reject",
    ]


def test_relations_keep_osv_meanings_apart(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The breadth-first walk (used once the table is large) rather than the load-all path.
    monkeypatch.setattr(duplicates, "_LOAD_ALL", 0)

    def relate(kind: str, source: str, target: str, expect: int = 201) -> Any:
        return platform.call(
            "clearinghouse",
            "POST",
            "/clearinghouse/relations",
            expect,
            json={"kind": kind, "source": source, "target": target},
        )

    platform.call(
        "clearinghouse", "POST", "/clearinghouse/reports", 201, json=report("A-1", tlp="GREEN")
    )
    stated = [relate("alias", f"A-{n - 1}", f"A-{n}").json() for n in range(2, 16)]
    relate("upstream", "A-1", "U-1")
    relate("upstream", "U-1", "U-2")
    relate("related", "A-1", "X-1")
    relate("related", "X-1", "Y-1")
    found = platform.call("developer", "GET", "/clearinghouse/reports/A-1/relations", 200).json()
    # Each statement links its two ids, and no more: a chain of statements is not one group.
    assert found["aliases"] == ["A-2"]
    assert stated[6]["id"] == "A-7" and stated[6]["aliases"] == ["A-6", "A-8"]
    assert found["upstream"] == ["U-1", "U-2"]
    assert found["related"] == ["X-1"]  # not transitive
    conflict = relate("upstream", "U-2", "A-9", 422)
    assert conflict.json()["type"].endswith("clearinghouse-relation-conflict")
    relate("alias", "A-3", "U-2", 422)
    platform.call(
        "agency",
        "POST",
        "/clearinghouse/relations",
        403,
        json={"kind": "alias", "source": "A-1", "target": "B"},
    )
