"""The audit log in the database and over HTTP: tree, checkpoints, proofs, a developer's entries.

Every test runs on SQLite and on PostgreSQL (the ``db_url`` fixture behind ``platform``).
"""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prereview.audit import merkle, service
from prereview.audit.checkpoint import parse_and_verify_checkpoint
from prereview.audit.errors import ProofInvalid
from prereview.audit.models import (
    AuditEntry,
    AuditHead,
    AuditNode,
)
from prereview.audit.routes import router as audit_router
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from support.factories import Platform

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(autouse=True)
def audit_routes(app: FastAPI) -> None:
    """Serve the audit routes, until the app factory does it itself."""
    if not any(getattr(r, "path", "").startswith("/api/v1/audit/") for r in app.routes):
        app.include_router(audit_router, prefix="/api/v1")


def b64d(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def some_activity(platform: Platform) -> dict[str, Any]:
    """Real actions that write audit entries: a submission, a grant, reads, a finding."""
    sub: dict[str, Any] = platform.submit()
    platform.grant(sub["id"])
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/findings",
        201,
        json={"title": "t", "description": "d", "severity": "low", "category": "other"},
    )
    return sub


def stored(context: AppContext) -> tuple[list[AuditEntry], dict[tuple[int, int], bytes], Any]:
    with context.sessions() as db:
        entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        nodes = {(n.level, n.index): n.hash for n in db.scalars(select(AuditNode))}
        head = db.get(AuditHead, service.HEAD_ID)
        return entries, nodes, head


def checkpoint(platform: Platform, who: str = "agency") -> dict[str, Any]:
    return platform.call(who, "GET", "/audit/checkpoint", 200).json()  # type: ignore[no-any-return]


def test_real_actions_build_the_rfc_tree(platform: Platform) -> None:
    some_activity(platform)
    entries, nodes, head = stored(platform.context)
    n = len(entries)
    assert n > 10 and head.size == n
    assert [e.seq for e in entries] == list(range(n))
    leaves = [merkle.leaf_hash(e.leaf.encode()) for e in entries]
    assert leaves == [e.leaf_hash for e in entries]

    fresh = merkle.TreeAppender()
    recomputed = {(lv, ix): h for lv, ix, h in fresh.extend(leaves)}
    assert nodes == recomputed  # every perfect subtree, nothing else
    assert len(nodes) == 2 * n - n.bit_count()
    assert head.right_edge == fresh.packed_right_edge

    # The root three ways: the RFC's recursive MTH, stored nodes, the head's right edge.
    def mth(items: list[bytes]) -> bytes:
        if len(items) == 1:
            return items[0]
        k = 1 << ((len(items) - 1).bit_length() - 1)
        return merkle.node_hash(mth(items[:k]), mth(items[k:]))

    with platform.context.sessions() as db:
        from_nodes = merkle.root(n, service.DbNodeReader(db))
    assert from_nodes == mth(leaves) == fresh.root()


def test_record_and_record_many_write_the_same_leaves(platform: Platform) -> None:
    context = platform.context
    actor = Actor("usr_x", "org_x", OrgKind.AGENCY, Role.MEMBER)
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    items = [
        service.NewEntry(
            actor, "review:material:read", "material", f"mat_{i}", at, "sub_1", {"i": i}
        )
        for i in range(5)
    ]
    with transaction(context.sessions) as db:
        start = service.log_size(db)
        one_by_one = [
            service.record(
                db,
                actor=i.actor,
                action=i.action,
                object_type=i.object_type,
                object_id=i.object_id,
                at=i.at,
                submission_id=i.submission_id,
                detail=i.detail,
            )
            for i in items
        ]
        seqs = service.record_many(db, items)
        service.record(db, actor=None, action="x", object_type="y", object_id=None, at=at)
    assert seqs == range(start + 5, start + 10)
    entries, nodes, head = stored(context)
    by_seq = {e.seq: e for e in entries}
    for single, seq in zip(one_by_one, seqs, strict=True):
        bulk = by_seq[seq]
        assert bulk.leaf.replace(f'"seq":{seq}', f'"seq":{single.seq}') == single.leaf
        assert bulk.at == single.at and bulk.submission_id == "sub_1"
    n = len(entries)
    assert head.size == n == start + 11
    fresh = merkle.TreeAppender()
    assert nodes == {(lv, ix): h for lv, ix, h in fresh.extend(e.leaf_hash for e in entries)}


def test_a_rolled_back_action_leaves_no_entry_and_no_node(platform: Platform) -> None:
    context = platform.context
    before = stored(context)
    at = datetime(2026, 6, 1, tzinfo=UTC)

    def failing_action() -> None:
        with transaction(context.sessions) as db:
            service.record(db, actor=None, action="a", object_type="t", object_id=None, at=at)
            service.record_many(db, [service.NewEntry(None, "b", "t", None, at)] * 3)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    after = stored(context)
    assert len(after[0]) == len(before[0]) and after[1] == before[1]
    assert after[2].size == before[2].size and after[2].right_edge == before[2].right_edge


def test_checkpoint_is_signed_c2sp_and_derived_on_demand(
    platform: Platform, clock: FixedClock
) -> None:
    settings = platform.context.settings
    some_activity(platform)
    first = checkpoint(platform)
    note = parse_and_verify_checkpoint(
        first["note"], first["verifier_key"], origin=settings.audit_origin
    )
    entries, _, _ = stored(platform.context)
    assert first["origin"] == settings.audit_origin
    assert note.size == first["size"] == len(entries)
    assert note.root == b64d(first["root"])
    assert first["verifier_key"].startswith(settings.audit_origin + "+")
    # The key was made on first use, readable by its owner only, and never served.
    assert stat.S_IMODE(settings.audit_key_file.stat().st_mode) == 0o600
    assert "PRIVATE" not in str(first)

    # Nothing appended since (reading a checkpoint is not audited): the same checkpoint.
    assert checkpoint(platform, "developer") == first
    clock.advance(timedelta(minutes=5))
    platform.submit()
    second = checkpoint(platform)
    assert second["size"] > first["size"]
    parse_and_verify_checkpoint(second["note"], first["verifier_key"])  # same key

    proof = platform.call(
        "partner",
        "GET",
        f"/audit/proof/consistency?first={first['size']}&second={second['size']}",
        200,
    ).json()
    assert b64d(proof["first_root"]) == note.root
    merkle.verify_consistency(
        first["size"],
        second["size"],
        note.root,
        b64d(second["root"]),
        [b64d(h) for h in proof["proof"]],
    )


def test_every_inclusion_proof_verifies_against_the_signed_root(platform: Platform) -> None:
    some_activity(platform)
    signed = checkpoint(platform)
    cp = parse_and_verify_checkpoint(signed["note"], signed["verifier_key"])
    entries, _, _ = stored(platform.context)
    for entry in entries:
        got = platform.call("developer", "GET", f"/audit/proof/inclusion?seq={entry.seq}", 200)
        proof = got.json()
        assert proof["size"] == cp.size and b64d(proof["root"]) == cp.root
        assert b64d(proof["leaf_hash"]) == merkle.leaf_hash(entry.leaf.encode())
        path = [b64d(h) for h in proof["proof"]]
        assert len(path) <= (cp.size - 1).bit_length()
        merkle.verify_inclusion(b64d(proof["leaf_hash"]), entry.seq, cp.size, path, cp.root)
    # In an older, smaller tree too, against the root recomputed from the entries themselves.
    size = cp.size // 2 + 1
    old_root = merkle.TreeAppender()
    old_root.extend(e.leaf_hash for e in entries[:size])
    proof = platform.call("agency", "GET", f"/audit/proof/inclusion?seq=3&size={size}", 200).json()
    merkle.verify_inclusion(
        entries[3].leaf_hash, 3, size, [b64d(h) for h in proof["proof"]], old_root.root()
    )


def test_every_consistency_proof_between_small_sizes_verifies(platform: Platform) -> None:
    some_activity(platform)
    entries, _, _ = stored(platform.context)
    roots = []
    tree = merkle.TreeAppender()
    roots.append(tree.root())
    for entry in entries:
        tree.append(entry.leaf_hash)
        roots.append(tree.root())
    n = len(entries)
    for first in range(0, n + 1, 3):
        for second in range(first, n + 1, 2):
            proof = platform.call(
                "agency", "GET", f"/audit/proof/consistency?first={first}&second={second}", 200
            ).json()
            assert b64d(proof["second_root"]) == roots[second]
            merkle.verify_consistency(
                first, second, roots[first], roots[second], [b64d(h) for h in proof["proof"]]
            )


BAD_REQUESTS = [
    ("/audit/proof/inclusion?seq={n}&size={n}", "audit-range-invalid"),
    ("/audit/proof/inclusion?seq=0&size={over}", "audit-range-invalid"),
    ("/audit/proof/inclusion?seq={over}", "audit-range-invalid"),
    ("/audit/proof/inclusion?seq=-1", "invalid-input"),
    ("/audit/proof/inclusion?seq=0&size=0", "invalid-input"),
    ("/audit/proof/inclusion?seq=abc", "invalid-input"),
    ("/audit/proof/inclusion", "invalid-input"),
    ("/audit/proof/consistency?first=5&second=4", "audit-range-invalid"),
    ("/audit/proof/consistency?first=1&second={over}", "audit-range-invalid"),
    ("/audit/proof/consistency?first={over}", "audit-range-invalid"),
    ("/audit/proof/consistency?first=99999999999999999999", "invalid-input"),
]
ANONYMOUS = [
    "/audit/checkpoint",
    "/audit/proof/inclusion?seq=0",
    "/audit/proof/consistency?first=0&second=1",
    "/audit/entries",
    "/audit/entries?with_proofs=true",
]


def test_bad_requests_and_anonymous_callers_get_problems(platform: Platform) -> None:
    n = checkpoint(platform)["size"]
    for query, slug in BAD_REQUESTS:
        response = platform.call("agency", "GET", query.format(n=n, over=n + 1), 422)
        assert response.headers["content-type"] == PROBLEM_JSON, query
        problem = response.json()
        assert problem["type"] == f"urn:prereview:problem:{slug}", query
        assert problem["detail"], query
    for path in ANONYMOUS:
        response = platform.call(None, "GET", path, 401)
        assert response.headers["content-type"] == PROBLEM_JSON, path
        problem = response.json()
        assert problem["status"] == 401 and problem["type"].startswith("urn:prereview:problem:")
    # Nothing above wrote to the log.
    assert checkpoint(platform)["size"] == n


def test_a_developer_sees_only_its_own_submissions_entries(platform: Platform) -> None:
    mine = some_activity(platform)
    theirs = platform.submit("other_developer")
    platform.call("developer", "GET", f"/submissions/{mine['id']}/audit", 200)
    entries, _, _ = stored(platform.context)
    expected = [e.seq for e in entries if e.submission_id == mine["id"]][::-1]  # newest first
    assert len(expected) >= 4

    page = platform.call("developer", "GET", "/audit/entries?limit=200", 200).json()
    assert [item["seq"] for item in page["items"]] == expected
    assert page["total"] == len(expected) and page["checkpoint"] is None
    assert all(item["inclusion"] is None for item in page["items"])
    other = platform.call("other_developer", "GET", "/audit/entries", 200).json()
    assert {item["submission_id"] for item in other["items"]} == {theirs["id"]}
    assert not {item["seq"] for item in other["items"]} & set(expected)
    paged = platform.call("developer", "GET", "/audit/entries?limit=2&offset=1", 200).json()
    assert [item["seq"] for item in paged["items"]] == expected[1:3]

    for who in ("agency", "partner", "clearinghouse"):
        refused = platform.call(who, "GET", "/audit/entries", 403)
        assert refused.headers["content-type"] == PROBLEM_JSON


def test_a_developer_gets_its_entries_with_proofs(platform: Platform) -> None:
    mine = some_activity(platform)
    platform.submit("other_developer")
    page = platform.call("developer", "GET", "/audit/entries?with_proofs=true", 200).json()
    signed = page["checkpoint"]
    cp = parse_and_verify_checkpoint(signed["note"], signed["verifier_key"])
    entries, _, _ = stored(platform.context)
    assert cp.size == len(entries)
    assert page["items"] and {i["submission_id"] for i in page["items"]} == {mine["id"]}
    for item in page["items"]:
        leaf = merkle.leaf_hash(item["leaf"].encode())
        assert b64d(item["leaf_hash"]) == leaf
        proof = item["inclusion"]
        assert proof["seq"] == item["seq"] and proof["size"] == cp.size
        merkle.verify_inclusion(
            leaf, item["seq"], cp.size, [b64d(h) for h in proof["proof"]], cp.root
        )
    # A proof against a changed entry text fails: the proofs bind the text.
    item = page["items"][0]
    forged = merkle.leaf_hash(item["leaf"].replace(mine["id"], "sub_someone_else").encode())
    with pytest.raises(ProofInvalid):
        merkle.verify_inclusion(
            forged, item["seq"], cp.size, [b64d(h) for h in item["inclusion"]["proof"]], cp.root
        )
