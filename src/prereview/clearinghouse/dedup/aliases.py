"""Relations between vulnerability ids, with OSV's three meanings kept apart.

- **aliases**: the same vulnerability under another name. Symmetric and transitive, so the ids
  fall into disjoint groups; a union-find (union by size, path halving) keeps them, near O(1)
  per operation at any size, without recursion.
- **upstream**: "this vulnerability comes from that one". Transitive, directed, never symmetric,
  so a cycle is refused.
- **related**: "see also". Symmetric and *not* transitive: only the pairs that were stated.

Relations hold between vulnerabilities, not between names: an upstream or related link stated
for one id holds for every alias of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from prereview.clearinghouse.errors import RelationConflict


class AliasGroups:
    """Disjoint groups of ids that name the same vulnerability."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}  # root -> every id of its group

    def __len__(self) -> int:
        return len(self._parent)

    def __contains__(self, vuln_id: object) -> bool:
        return vuln_id in self._parent

    def add(self, vuln_id: str) -> None:
        """Know ``vuln_id`` (alone in its group if new)."""
        if vuln_id not in self._parent:
            self._parent[vuln_id] = vuln_id
            self._members[vuln_id] = [vuln_id]

    def find(self, vuln_id: str) -> str:
        """The representative of ``vuln_id``'s group (the id itself if unknown)."""
        parent = self._parent
        if vuln_id not in parent:
            return vuln_id
        while parent[vuln_id] != vuln_id:
            # Path halving: every other node on the path skips to its grandparent.
            parent[vuln_id] = parent[parent[vuln_id]]
            vuln_id = parent[vuln_id]
        return vuln_id

    def union(self, first: str, second: str) -> str:
        """Record that two ids name the same vulnerability; return the group's representative."""
        self.add(first)
        self.add(second)
        root_a, root_b = self.find(first), self.find(second)
        if root_a == root_b:
            return root_a
        if len(self._members[root_a]) < len(self._members[root_b]):
            root_a, root_b = root_b, root_a
        self._parent[root_b] = root_a
        # Smaller list into larger: each id moves O(log n) times over any sequence of unions.
        self._members[root_a].extend(self._members.pop(root_b))
        return root_a

    def same(self, first: str, second: str) -> bool:
        """Whether two ids name the same vulnerability (an id always names itself)."""
        return first == second or (
            first in self._parent
            and second in self._parent
            and self.find(first) == self.find(second)
        )

    def group(self, vuln_id: str) -> frozenset[str]:
        """Every id of ``vuln_id``'s group, itself included."""
        if vuln_id not in self._parent:
            return frozenset({vuln_id})
        return frozenset(self._members[self.find(vuln_id)])

    def groups(self) -> Iterator[frozenset[str]]:
        """Every group, each once."""
        for members in self._members.values():
            yield frozenset(members)


class VulnerabilityRelations:
    """Aliases, upstream and related links between vulnerability ids."""

    def __init__(self) -> None:
        self.aliases = AliasGroups()
        self._upstream: dict[str, set[str]] = defaultdict(set)  # id -> ids it comes from
        self._downstream: dict[str, set[str]] = defaultdict(set)
        self._related: dict[str, set[str]] = defaultdict(set)

    def add_aliases(self, vuln_id: str, aliases: Iterable[str]) -> None:
        """Record that each of ``aliases`` names the same vulnerability as ``vuln_id``."""
        self.aliases.add(vuln_id)
        for alias in aliases:
            if self.aliases.same(vuln_id, alias):
                continue
            if alias in self.upstream_of(vuln_id) or vuln_id in self.upstream_of(alias):
                raise RelationConflict(
                    f"{vuln_id} and {alias} cannot be aliases: one is upstream of the other",
                    ids=[vuln_id, alias],
                )
            self.aliases.union(vuln_id, alias)

    def add_upstream(self, vuln_id: str, upstream_id: str) -> None:
        """Record that ``vuln_id`` comes from ``upstream_id``; refuse a cycle."""
        if self.aliases.same(vuln_id, upstream_id) or vuln_id in self.upstream_of(upstream_id):
            raise RelationConflict(
                f"{upstream_id} cannot be upstream of {vuln_id}: that would make a cycle",
                ids=[vuln_id, upstream_id],
            )
        self.aliases.add(vuln_id)
        self.aliases.add(upstream_id)
        self._upstream[vuln_id].add(upstream_id)
        self._downstream[upstream_id].add(vuln_id)

    def add_related(self, first: str, second: str) -> None:
        """Record a symmetric "see also" link (an id is never related to itself)."""
        if self.aliases.same(first, second):
            return
        self.aliases.add(first)
        self.aliases.add(second)
        self._related[first].add(second)
        self._related[second].add(first)

    def alias_group(self, vuln_id: str) -> frozenset[str]:
        """Every id that names the same vulnerability as ``vuln_id``, itself included."""
        return self.aliases.group(vuln_id)

    def _closure(self, vuln_id: str, edges: dict[str, set[str]]) -> frozenset[str]:
        start = self.aliases.group(vuln_id)
        seen_roots = {self.aliases.find(vuln_id)}
        reached: set[str] = set()
        frontier = list(start)
        while frontier:
            current = frontier.pop()
            for target in edges.get(current, ()):
                root = self.aliases.find(target)
                if root in seen_roots:
                    continue
                seen_roots.add(root)
                group = self.aliases.group(target)
                reached |= group
                frontier.extend(group)
        return frozenset(reached)

    def upstream_of(self, vuln_id: str) -> frozenset[str]:
        """Every id ``vuln_id`` comes from, transitively, with their aliases."""
        return self._closure(vuln_id, self._upstream)

    def downstream_of(self, vuln_id: str) -> frozenset[str]:
        """Every id that comes from ``vuln_id``, transitively, with their aliases."""
        return self._closure(vuln_id, self._downstream)

    def related_to(self, vuln_id: str) -> frozenset[str]:
        """Ids stated as related to ``vuln_id`` or to one of its aliases (not transitively)."""
        related: set[str] = set()
        for member in self.aliases.group(vuln_id):
            for other in self._related.get(member, ()):
                related |= self.aliases.group(other)
        return frozenset(related - self.aliases.group(vuln_id))


class AliasStatements:
    """Alias groups from what each record states, with no chain merges.

    The rule: a record's ``aliases`` state that its id and each alias name one vulnerability
    (one statement). The group of a name is every name of every statement that includes it:
    symmetric (a record naming an alias puts itself in the alias's group, and the alias in its
    own), but not transitive. Two records are in one group only if one of them names the other
    (its own evidence); records that merely name the same CVE are each in the CVE's group, and
    not in each other's: the ``tensorflow`` and ``tensorflow-gpu`` records of one CVE stay two
    records, which the CVE links. A chain (A names X, B names X and Y, C names Y) never puts
    A and C together, the union-find merge that made OSV.dev join unrelated records.
    """

    def __init__(self) -> None:
        self._statements: dict[str, set[str]] = {}  # source -> the names it states, itself too
        self._stating: dict[str, set[str]] = defaultdict(set)  # name -> the sources stating it

    def state(self, source: str, aliases: Iterable[str]) -> None:
        """Record that ``source`` names the same vulnerability as each of ``aliases``."""
        names = self._statements.setdefault(source, {source})
        self._stating[source].add(source)
        for alias in aliases:
            names.add(alias)
            self._stating[alias].add(source)

    def group(self, name: str) -> frozenset[str]:
        """Every name stated together with ``name``, itself included."""
        found = {name}
        for source in self._stating.get(name, ()):
            found |= self._statements[source]
        return frozenset(found)
