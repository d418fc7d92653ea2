"""Suppression: small counts withheld, and no withheld count derivable from the rest."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prereview.transparency.disclosure import THRESHOLD, determined, sensitive, suppress
from prereview.transparency.figures import Relation

TABLE = [Relation("total", ("a", "b", "c"))]


def test_small_counts_are_withheld_zero_and_large_are_not() -> None:
    found = suppress({"total": 40, "a": 0, "b": 25, "c": 15}, TABLE)
    assert found.withheld == frozenset()
    found = suppress({"total": 11, "a": 11, "b": 0, "c": 0}, [])
    assert found.withheld == frozenset()
    assert [v for v in range(13) if sensitive(v)] == list(range(1, THRESHOLD + 1))


def test_a_single_small_cell_gets_a_complement() -> None:
    # total - b - c would give a = 3: the smallest other non-zero cell goes with it.
    found = suppress({"total": 60, "a": 3, "b": 20, "c": 37}, TABLE)
    assert found.primary == {"a"} and found.complementary == {"b"}
    assert not determined(TABLE, found.withheld)


def test_a_hidden_small_cell_is_protected() -> None:
    # answered is published and large, but total - answered = 2 unanswered, never published.
    relation = [Relation("total", ("answered", "unanswered"))]
    found = suppress({"total": 30, "answered": 28, "unanswered": 2}, relation, {"unanswered"})
    assert found.complementary & {"total", "answered"}
    assert "unanswered" not in determined(relation, found.withheld | {"unanswered"})


def test_two_tables_sharing_a_total() -> None:
    relations = [Relation("t", ("s1", "s2")), Relation("t", ("c1", "c2"))]
    counts = {"t": 40, "s1": 5, "s2": 35, "c1": 20, "c2": 20}
    found = suppress(counts, relations)
    unknown = found.withheld
    assert not determined(relations, unknown) & {"s1"}


NAMES = ("t", "p1", "p2", "p3", "q1", "q2", "r1", "r2")


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[str, int], list[Relation], set[str]]:
    p = [draw(st.sampled_from([0, 1, 2, 5, 9, 10, 11, 14, 30])) for _ in range(3)]
    total = sum(p)
    q1 = draw(st.integers(0, total))
    r1 = draw(st.integers(0, total))
    counts = dict(zip(NAMES, [total, *p, q1, total - q1, r1, total - r1], strict=True))
    relations = [
        Relation("t", ("p1", "p2", "p3")),
        Relation("t", ("q1", "q2")),
        Relation("t", ("r1", "r2")),
    ]
    hidden = {"r2"} if draw(st.booleans()) else set()
    return counts, relations, hidden


@settings(max_examples=200, deadline=None)
@given(tables())
def test_no_small_count_is_ever_derivable(
    table: tuple[dict[str, int], list[Relation], set[str]],
) -> None:
    counts, relations, hidden = table
    found = suppress(counts, relations, hidden)
    unknown = set(found.withheld) | hidden
    secrets = {name for name, value in counts.items() if sensitive(value)}
    assert secrets - hidden <= found.primary
    assert not determined(relations, unknown) & secrets
