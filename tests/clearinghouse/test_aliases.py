"""Alias groups, upstream closure and related links keep OSV's three meanings apart."""

from __future__ import annotations

import contextlib
import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prereview.clearinghouse.dedup.aliases import (
    AliasGroups,
    AliasStatements,
    VulnerabilityRelations,
)
from prereview.clearinghouse.errors import RelationConflict

IDS = st.sampled_from([f"V-{n}" for n in range(12)])
PAIRS = st.lists(st.tuples(IDS, IDS), max_size=30)


def connected(pairs: list[tuple[str, str]], start: str) -> set[str]:
    """Reference answer: the ids reachable from ``start`` over undirected alias edges."""
    neighbours: dict[str, set[str]] = {}
    for a, b in pairs:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    seen, frontier = {start}, [start]
    while frontier:
        for other in neighbours.get(frontier.pop(), ()):
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    return seen


@given(PAIRS)
def test_alias_groups_are_the_connected_components(pairs: list[tuple[str, str]]) -> None:
    groups = AliasGroups()
    for a, b in pairs:
        groups.union(a, b)
    for a, _ in pairs:
        assert groups.group(a) == connected(pairs, a)


@given(PAIRS, IDS, IDS, IDS)
def test_aliases_are_symmetric_and_transitive(
    pairs: list[tuple[str, str]], a: str, b: str, c: str
) -> None:
    groups = AliasGroups()
    for x, y in pairs:
        groups.union(x, y)
    assert groups.same(a, b) == groups.same(b, a)
    if groups.same(a, b) and groups.same(b, c):
        assert groups.same(a, c)
    assert groups.same(a, a)


@given(st.permutations(list(range(199))))
def test_union_order_does_not_matter(order: list[int]) -> None:
    groups = AliasGroups()
    for i in order:
        groups.union(f"V-{i}", f"V-{i + 1}")
    assert len(groups.group("V-0")) == 200


class CountedParents(dict[str, str]):
    """The union-find's parent pointers, counting every pointer followed."""

    reads = 0

    def __getitem__(self, key: str) -> str:
        self.reads += 1
        return super().__getitem__(key)


def test_a_50k_chain_built_in_random_order_is_one_group_quickly() -> None:
    size = 50_000
    links = [(f"CVE-2026-{i}", f"CVE-2026-{i + 1}") for i in range(size - 1)]
    random.Random(7).shuffle(links)
    groups = AliasGroups()
    parents = CountedParents()
    groups._parent = parents  # counts the steps up the trees instead of timing them
    for a, b in links:
        groups.union(a, b)
    assert groups.same("CVE-2026-0", f"CVE-2026-{size - 1}")
    assert len(groups.group("CVE-2026-12345")) == size
    assert sum(1 for _ in groups.groups()) == 1
    # Near-linear: a few steps per operation. Without union by size and path halving a chain
    # built in random order takes about size**2 / 4 steps (over 600 million here).
    assert parents.reads < 20 * size


UPSTREAM_EDGES = st.lists(st.tuples(IDS, IDS), max_size=25)


def build_upstream(edges: list[tuple[str, str]]) -> VulnerabilityRelations:
    relations = VulnerabilityRelations()
    for child, parent in edges:
        # Cycles are refused; the properties must hold for what was accepted.
        with contextlib.suppress(RelationConflict):
            relations.add_upstream(child, parent)
    return relations


@given(UPSTREAM_EDGES, IDS, IDS, IDS)
@settings(max_examples=150)
def test_upstream_is_transitive_and_never_symmetric(
    edges: list[tuple[str, str]], a: str, b: str, c: str
) -> None:
    relations = build_upstream(edges)
    if b in relations.upstream_of(a) and c in relations.upstream_of(b):
        assert c in relations.upstream_of(a)
    if b in relations.upstream_of(a):
        assert a not in relations.upstream_of(b)
        assert a in relations.downstream_of(b)
    assert a not in relations.upstream_of(a)


def test_an_upstream_cycle_or_self_link_is_refused() -> None:
    relations = VulnerabilityRelations()
    relations.add_upstream("DEBIAN-1", "CVE-1")
    relations.add_upstream("CVE-1", "GHSA-1")
    with pytest.raises(RelationConflict) as caught:
        relations.add_upstream("GHSA-1", "DEBIAN-1")
    assert caught.value.status == 422
    assert caught.value.slug == "clearinghouse-relation-conflict"
    with pytest.raises(RelationConflict):
        relations.add_upstream("X-1", "X-1")
    with pytest.raises(RelationConflict):
        relations.add_aliases("DEBIAN-1", ["GHSA-1"])


def test_upstream_holds_for_every_alias_of_a_vulnerability() -> None:
    relations = VulnerabilityRelations()
    relations.add_aliases("CVE-1", ["GHSA-1"])
    relations.add_upstream("UBUNTU-1", "GHSA-1")
    relations.add_upstream("CVE-1", "OSV-1")
    assert relations.upstream_of("UBUNTU-1") == {"CVE-1", "GHSA-1", "OSV-1"}
    assert relations.downstream_of("OSV-1") == {"CVE-1", "GHSA-1", "UBUNTU-1"}


@given(st.lists(st.tuples(IDS, IDS), max_size=25), IDS, IDS)
def test_related_is_symmetric_and_not_reflexive(
    pairs: list[tuple[str, str]], a: str, b: str
) -> None:
    relations = VulnerabilityRelations()
    for x, y in pairs:
        relations.add_related(x, y)
    assert (b in relations.related_to(a)) == (a in relations.related_to(b))
    assert a not in relations.related_to(a)


def test_related_is_not_transitive() -> None:
    relations = VulnerabilityRelations()
    for a, b in pairwise(["A-1", "B-1", "C-1"]):
        relations.add_related(a, b)
    assert relations.related_to("B-1") == {"A-1", "C-1"}
    assert "C-1" not in relations.related_to("A-1")


def test_related_links_follow_aliases_but_never_make_aliases() -> None:
    relations = VulnerabilityRelations()
    relations.add_related("CVE-1", "CVE-2")
    relations.add_aliases("CVE-2", ["GHSA-2"])
    assert relations.related_to("CVE-1") == {"CVE-2", "GHSA-2"}
    assert not relations.aliases.same("CVE-1", "CVE-2")


def test_alias_statements_link_what_each_record_states_and_never_chain() -> None:
    """Attack: A names X, B names X and Y, C names Y; union-find put A and C in one group."""
    statements = AliasStatements()
    statements.state("A", ["X"])
    statements.state("B", ["X", "Y"])
    statements.state("C", ["Y"])
    assert statements.group("A") == {"A", "X"}
    assert statements.group("C") == {"C", "Y"}
    assert statements.group("X") == {"A", "B", "X", "Y"}  # every record naming X finds it
    assert statements.group("B") == {"B", "X", "Y"}
    # Symmetric: a record named by another's statement is in that record's group.
    statements.state("D", ["A"])
    assert "D" in statements.group("A") and "A" in statements.group("D")
    assert statements.group("unknown") == {"unknown"}
