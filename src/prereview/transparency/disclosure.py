"""Disclosure control: small counts suppressed, and complementary suppression so they stay so.

**Primary suppression.** Every count from 1 to :data:`THRESHOLD` is withheld (0 is published:
it identifies no one).

**Complementary suppression.** The report states relations between its counts (the findings'
total is the sum of the counts by severity, of those by category, and of the answered and the
unanswered ones; reports received split by who found them; determinations by outcome). A
withheld count that those relations and the published counts determine exactly (a total minus
the other cells) would be no secret, so :func:`suppress` withholds further counts until none is
determined. "Determined" is decided exactly, by linear algebra over the rationals: with the
withheld cells as unknowns of the system ``total - sum(parts) = 0``, cell ``x`` is determined
iff its unit vector lies in the row space of the system restricted to the unknowns (the rank
does not grow when it is added). Each round withholds, in a relation that determines a secret
cell, the published cell with the smallest non-zero value (the least information lost).

Cells that are never published (``hidden``: the unanswered findings) are unknowns from the
start, and protected like the others when they are small.

**Limits.** This protects against exact derivation from one report. It does not enforce
protection intervals (bounds an adversary gets from non-negativity: a withheld pair summing to
12 bounds each by 12), nor differencing between two reports of a period still running; a closed
period's report does not change. Medians and quartiles are published only over more than
:data:`THRESHOLD` values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from prereview.transparency.figures import Relation

THRESHOLD = 10
"""Counts from 1 to this are withheld; a distribution needs more values than this."""


def sensitive(value: int) -> bool:
    return 1 <= value <= THRESHOLD


@dataclass(frozen=True, slots=True)
class Suppression:
    """Which cells are withheld, and why: ``primary`` (small) or ``complementary``."""

    primary: frozenset[str]
    complementary: frozenset[str]

    @property
    def withheld(self) -> frozenset[str]:
        return self.primary | self.complementary


def _rows(relations: Sequence[Relation], unknown: Sequence[str]) -> list[list[Fraction]]:
    column = {name: i for i, name in enumerate(unknown)}
    rows = []
    for relation in relations:
        row = [Fraction(0)] * len(unknown)
        terms = [(relation.total, 1)] + [(part, -1) for part in relation.parts]
        for name, sign in terms:
            if name in column:
                row[column[name]] += sign
        if any(row):
            rows.append(row)
    return rows


def _rank(rows: list[list[Fraction]]) -> int:
    """Rank by Gaussian elimination (exact: fractions)."""
    matrix = [list(row) for row in rows]
    rank, width = 0, len(matrix[0]) if matrix else 0
    for col in range(width):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][col] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        lead = matrix[rank][col]
        for r in range(len(matrix)):
            if r != rank and matrix[r][col] != 0:
                factor = matrix[r][col] / lead
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
    return rank


def determined(relations: Sequence[Relation], unknown: Collection[str]) -> set[str]:
    """The unknown cells whose value the relations and the known cells fix exactly."""
    names = sorted(unknown)
    rows = _rows(relations, names)
    if not rows:
        return set()
    base = _rank(rows)
    found = set()
    for i, name in enumerate(names):
        unit = [Fraction(int(j == i)) for j in range(len(names))]
        if _rank([*rows, unit]) == base:
            found.add(name)
    return found


def _complement(
    secret: str,
    relations: Sequence[Relation],
    counts: Mapping[str, int],
    unknown: Collection[str],
) -> str:
    """The published cell to withhold next so that ``secret`` stops being determined."""
    candidates = {
        cell
        for relation in relations
        if secret in (relation.total, *relation.parts)
        for cell in (relation.total, *relation.parts)
        if cell not in unknown
    } or {  # determined through other relations only: any published cell in a relation
        cell
        for relation in relations
        for cell in (relation.total, *relation.parts)
        if cell not in unknown
    }
    # The smallest non-zero value first (least lost); zeros last; then by name, to be stable.
    return min(candidates, key=lambda c: (counts[c] == 0, counts[c], c))


def suppress(
    counts: Mapping[str, int], relations: Sequence[Relation], hidden: Collection[str] = ()
) -> Suppression:
    """The cells to withhold so that no count from 1 to :data:`THRESHOLD` is published or
    derivable from the published ones (``hidden`` cells are never published)."""
    primary = {name for name, value in counts.items() if sensitive(value) and name not in hidden}
    secrets = primary | {name for name in hidden if sensitive(counts[name])}
    unknown = set(primary) | set(hidden)
    complementary: set[str] = set()
    while True:
        exposed = sorted(determined(relations, unknown) & secrets)
        if not exposed:
            break
        chosen = _complement(exposed[0], relations, counts, unknown)
        complementary.add(chosen)
        unknown.add(chosen)
    return Suppression(frozenset(primary), frozenset(complementary))
