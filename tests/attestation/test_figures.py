"""The figures an attestation states, from entries alone; and the verifier's proof check
agreeing with the log's own."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prereview.attestation.figures import FiguresInvalid, figures, relevant
from prereview.attestation.verify import verify_inclusion
from prereview.audit import merkle

SUB = "sub_1"


def leaf(seq: int, action: str, object_id: str | None = None, **detail: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": f"2026-06-{seq + 1:02d}T00:00:00+00:00",
        "action": action,
        "object_type": action.split(":")[1],
        "object_id": object_id,
        "submission_id": SUB,
        "detail": detail,
    }


CREATED = leaf(0, "review:submission:create", SUB, model="Atlas 1.0")


def test_answers_count_once_and_only_for_findings_on_record() -> None:
    stated = figures(
        SUB,
        [
            CREATED,
            leaf(1, "review:finding:create", "f1", severity="high"),
            leaf(2, "review:finding:create", "f2", severity="informational"),
            leaf(3, "review:finding:respond", "f1", status="acknowledged"),
            leaf(4, "review:finding:respond", "f1", status="mitigated"),
            leaf(5, "review:finding:respond", "f_elsewhere", status="disputed"),
        ],
    )
    assert stated["findings"] == {
        "total": 2,
        "answered": 1,
        "bySeverity": {"critical": 0, "high": 1, "medium": 0, "low": 0, "informational": 1},
    }


def test_the_window_is_the_first_grant_to_its_last_end() -> None:
    stated = figures(
        SUB,
        [
            CREATED,
            leaf(
                2,
                "review:grant:create",
                "g1",
                agency_org_id="a",
                window_ends_at="2026-06-23T00:00:00+00:00",
            ),
            leaf(
                3,
                "review:grant:create",
                "g2",
                agency_org_id="b",
                window_ends_at="2026-06-23T00:00:00+00:00",
            ),
            leaf(
                4,
                "review:grant:create",
                "g3",
                agency_org_id="a",
                window_ends_at="2026-06-23T00:00:00+00:00",
            ),
            leaf(5, "review:submission:update", SUB, window_ends_at="2026-07-03T00:00:00+00:00"),
        ],
    )
    assert stated["window"] == {
        "openedAt": "2026-06-03T00:00:00+00:00",
        "endsAt": "2026-07-03T00:00:00+00:00",
        "lengthSeconds": 30 * 86400,
        "lengthDays": 30,
    }
    assert stated["access"]["agencies"] == {"count": 2}  # a grant again is the same agency


def test_only_consented_partners_count_and_names_come_only_when_given() -> None:
    entries = [
        CREATED,
        leaf(1, "review:nomination:decide", "n1", status="consented", partner_org_id="p1"),
        leaf(2, "review:nomination:decide", "n2", status="declined", partner_org_id="p2"),
    ]
    assert figures(SUB, entries)["access"]["partners"] == {"count": 1}
    named = figures(SUB, entries, names={"p1": "St Brigid", "p2": "Harbor"})
    assert named["access"]["partners"]["named"] == [{"id": "p1", "name": "St Brigid"}]


def test_an_outcome_only_where_the_entry_discloses_it() -> None:
    stated = figures(
        SUB,
        [
            CREATED,
            leaf(
                1,
                "coverage:determination:create",
                "d1",
                policy_id="eu",
                policy_version="1",
                outcome="covered",
            ),
            leaf(2, "coverage:determination:create", "d2", policy_id="cyber", policy_version="1"),
        ],
    )["determinations"]
    assert stated["count"] == 2 and stated["undisclosed"] == 1
    assert [d["outcome"] for d in stated["disclosed"]] == ["covered"]


def test_entries_of_another_submission_or_no_creation_are_refused() -> None:
    stranger = dict(leaf(1, "review:finding:create", "f1", severity="low"), submission_id="sub_2")
    with pytest.raises(FiguresInvalid, match="concerns submission 'sub_2'"):
        figures(SUB, [CREATED, stranger])
    with pytest.raises(FiguresInvalid, match="No entry records the creation"):
        figures(SUB, [leaf(1, "review:finding:create", "f1", severity="low")])


def test_reads_and_plain_updates_are_not_what_it_rests_on() -> None:
    assert not relevant(leaf(1, "review:finding:read", "f1"))
    assert not relevant(leaf(1, "review:submission:update", SUB, fields=["description"]))
    assert relevant(leaf(1, "review:submission:update", SUB, window_ends_at="x"))
    assert relevant(CREATED)


@given(size=st.integers(1, 300), data=st.data())
def test_the_verifier_accepts_exactly_the_logs_proofs(size: int, data: st.DataObject) -> None:
    store = merkle.MemoryNodeStore()
    tree = merkle.TreeAppender()
    for i in range(size):
        store.put(tree.append(merkle.leaf_hash(b"%d" % i)))
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, store)
    leaf_hash = merkle.leaf_hash(b"%d" % index)
    assert verify_inclusion(leaf_hash, index, size, proof, tree.root())
    assert not verify_inclusion(leaf_hash, size, size, proof, tree.root())
    assert not verify_inclusion(merkle.leaf_hash(b"x"), index, size, proof, tree.root())
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bent = [*proof]
        bent[position] = bytes(32)
        assert not verify_inclusion(leaf_hash, index, size, bent, tree.root())
        assert not verify_inclusion(leaf_hash, index, size, proof[:-1], tree.root())
    other = data.draw(st.integers(0, size - 1))
    if other != index:
        assert not verify_inclusion(leaf_hash, other, size, proof, tree.root())
