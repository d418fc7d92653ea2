"""How the command line lays out a table in the terminal's width.

rich, left to itself, shrinks every column of a table wider than the terminal by the same
rule: at 80 columns a title ends up one word per line and a short column becomes a lone
ellipsis. Here the widths are decided before rich sees the table. Every column gets a floor
it is never squeezed below: its whole width for identifiers and short values (a state, a
date, a count), which are read at a glance or copied into the next command, and a readable
measure for running text, which wraps (folding a word longer than the column rather than
cutting it). When even the floors do not fit, columns are left out from the right (the first,
an object's id, always stays) and the caption names them; ``--json`` shows everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.cells import cell_len

TEXT_FLOOR = 20
"""The narrowest a column of running text is made: three or four words a line."""

SHORT = 24
"""A value up to this long is short: shown whole, never wrapped."""

TOKEN = 40
"""A value without spaces up to this long (an id, an action, a purl) is shown whole too."""

# A table's frame: a border left of every column and one at the end, and one space of padding
# each side of every cell (rich's default box and padding).
_BORDER = 1
_PADDING = 2

_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class Layout:
    """What fits: the columns kept (indexes, in order), each one's width, those left out."""

    kept: list[int]
    widths: list[int]
    left_out: list[str]


def frame_width(columns: int) -> int:
    """The width a table's borders and padding take around ``columns`` columns."""
    return columns * (_BORDER + _PADDING) + _BORDER


def instant(value: str) -> str:
    """An ISO 8601 instant as a table shows it, to the minute in UTC (``2026-06-10 09:00Z``);
    anything else unchanged. The exact value is in ``--json``."""
    if not _ISO_INSTANT.match(value):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%MZ")


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _whole(cell: str) -> bool:
    """Whether a value is shown whole rather than wrapped."""
    width = _width(cell)
    return width <= SHORT or (width <= TOKEN and not any(c.isspace() for c in cell))


def _floor(header: str, cells: Sequence[str]) -> tuple[int, int]:
    """A column's (floor, natural width)."""
    natural = max([_width(header), *(_width(c) for c in cells)])
    if all(_whole(c) for c in cells):
        return natural, natural
    whole = max((_width(c) for c in cells if _whole(c)), default=0)
    return min(natural, max(TEXT_FLOOR, whole, _width(header))), natural


def fit(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> Layout:
    """The layout of a table of ``headers`` and ``rows`` (cells as shown) in ``width``."""
    measured = [_floor(h, [row[i] for row in rows]) for i, h in enumerate(headers)]
    kept = list(range(len(headers)))
    while len(kept) > 1 and sum(measured[i][0] for i in kept) + frame_width(len(kept)) > width:
        kept.pop()
    widths = [measured[i][0] for i in kept]
    spare = width - frame_width(len(kept)) - sum(widths)
    # Share what is left among the columns that want more, evenly, the narrowest wants first.
    wanting = sorted(
        (n for n, i in enumerate(kept) if measured[i][1] > widths[n]),
        key=lambda n: measured[kept[n]][1] - widths[n],
    )
    while spare > 0 and wanting:
        share = max(1, spare // len(wanting))
        for n in list(wanting):
            give = min(share, measured[kept[n]][1] - widths[n], spare)
            widths[n] += give
            spare -= give
            if widths[n] >= measured[kept[n]][1]:
                wanting.remove(n)
            if spare == 0:
                break
    left_out = [headers[i] for i in range(len(headers)) if i not in kept]
    return Layout(kept=kept, widths=widths, left_out=left_out)
