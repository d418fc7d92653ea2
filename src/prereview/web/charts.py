"""Charts drawn on the server as SVG, so that a page shows them without any script.

:func:`interval_chart` draws a forest plot: one row per estimate of a proportion in [0, 1],
its 95% interval as a line and the estimate as a dot, with what the row is (``evidence``,
``calibration`` or ``pending``, as the evals service records a result) drawn by line style
and shape as well as written out, so that neither colour nor a hover is needed to tell them
apart. Every text (labels, notes, the title) is escaped: labels are task, tier and category
names read from uploaded logs. The pages' policy allows no inline style, so the drawing uses
SVG presentation attributes only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: How each kind of result is drawn: stroke colour, dash pattern (empty: solid), dot fill.
STYLES: dict[str, tuple[str, str, str]] = {
    "evidence": ("#1d7a3a", "", "#1d7a3a"),
    "calibration": ("#5b6575", "6 4", "#ffffff"),
    "pending": ("#a15c00", "2 3", "#ffffff"),
}
KIND_WORDS = {
    "evidence": "evidence",
    "calibration": "calibration, never evidence",
    "pending": "pending: no log yet, the client's numbers",
}
LABEL_WIDTH = 230
PLOT_WIDTH = 480
KIND_WIDTH = 110
ROW_HEIGHT = 26
TOP = 30  # room for the axis ticks above the first row
BOTTOM = 34  # room for the legend below the last row
MAX_LABEL = 34  # characters shown; the whole label is in the row's <title>
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Characters XML cannot hold (controls, lone surrogates, U+FFFE and U+FFFF): a label read from
# a log may hold any of them, and the drawing must stay well-formed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> Markup:
    """``value`` escaped for SVG text or an attribute, with what XML cannot hold replaced."""
    return escape(_NOT_XML.sub("\ufffd", value))


@dataclass(frozen=True)
class Interval:
    """One row of a chart: an estimate in [0, 1] with its interval, and what kind it is.

    Built only valid (finite, ``0 <= low <= high <= 1``, the estimate inside when given, a
    known kind); :meth:`of` is the constructor for numbers read from storage, which answers
    ``None`` for a result that has no interval to draw."""

    label: str
    low: float
    high: float
    estimate: float | None
    kind: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STYLES:
            raise ValueError(f"unknown kind {self.kind!r}: one of {', '.join(STYLES)}")
        values = [self.low, self.high] + ([self.estimate] if self.estimate is not None else [])
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise ValueError("an interval's bounds and estimate are finite and within [0, 1]")
        if self.low > self.high:
            raise ValueError("an interval's lower bound is above its upper bound")
        if self.estimate is not None and not self.low <= self.estimate <= self.high:
            raise ValueError("the estimate lies outside its interval")

    @classmethod
    def of(
        cls,
        label: str,
        low: float | None,
        high: float | None,
        estimate: float | None,
        kind: str,
        note: str = "",
    ) -> Interval | None:
        """The row for stored numbers, or ``None`` when they make no drawable interval."""
        if low is None or high is None:
            return None
        try:
            return cls(label, low, high, estimate, kind, note)
        except ValueError:
            return None

    def describe(self) -> str:
        """The row in words, as its tooltip and a screen reader give it."""
        estimate = f"{self.estimate:.3f} " if self.estimate is not None else ""
        bounds = f"[{self.low:.3f}, {self.high:.3f}]"
        words = f"{self.label}: {estimate}{bounds}, {KIND_WORDS[self.kind]}"
        return f"{words}; {self.note}" if self.note else words


def _x(value: float) -> float:
    return LABEL_WIDTH + value * PLOT_WIDTH


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "\u2026"


def _num(value: float) -> str:
    return f"{value:.1f}"


def _row(index: int, row: Interval) -> str:
    colour, dash, fill = STYLES[row.kind]
    y = TOP + index * ROW_HEIGHT + ROW_HEIGHT / 2
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    parts = [
        f'<g class="interval" data-kind="{row.kind}">',
        f"<title>{_text(row.describe())}</title>",
        f'<text x="{LABEL_WIDTH - 8}" y="{_num(y + 4)}" text-anchor="end" font-size="12" '
        f'fill="#1d2430">{_text(_short(row.label))}</text>',
        f'<line class="ci" x1="{_num(_x(row.low))}" x2="{_num(_x(row.high))}" y1="{_num(y)}" '
        f'y2="{_num(y)}" stroke="{colour}" stroke-width="3"{dashed}/>',
    ]
    for end in (row.low, row.high):
        parts.append(
            f'<line x1="{_num(_x(end))}" x2="{_num(_x(end))}" y1="{_num(y - 6)}" '
            f'y2="{_num(y + 6)}" stroke="{colour}" stroke-width="2"/>'
        )
    if row.estimate is not None:
        parts.append(
            f'<circle class="estimate" cx="{_num(_x(row.estimate))}" cy="{_num(y)}" r="5" '
            f'fill="{fill}" stroke="{colour}" stroke-width="2"/>'
        )
    parts.append(
        f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 10}" y="{_num(y + 4)}" font-size="11" '
        f'fill="{colour}">{escape(row.kind)}</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _axis(height: float) -> str:
    parts = ['<g class="axis">']
    for tick in TICKS:
        x = _num(_x(tick))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{TOP - 6}" y2="{_num(height - BOTTOM)}" '
            'stroke="#d8dde5" stroke-width="1"/>'
            f'<text x="{x}" y="{TOP - 10}" text-anchor="middle" font-size="11" '
            f'fill="#5b6575">{tick:g}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _threshold(value: float, height: float, label: str) -> str:
    x = _num(_x(value))
    return (
        f'<g class="threshold"><title>{_text(label)}</title>'
        f'<line x1="{x}" x2="{x}" y1="{TOP - 6}" y2="{_num(height - BOTTOM)}" '
        'stroke="#a3261b" stroke-width="1.5" stroke-dasharray="5 3"/></g>'
    )


def _legend(y: float) -> str:
    parts = ['<g class="legend">']
    x = float(LABEL_WIDTH)
    for kind, (colour, dash, fill) in STYLES.items():
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_num(x)}" x2="{_num(x + 26)}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{colour}" stroke-width="3"{dashed}/>'
            f'<circle cx="{_num(x + 13)}" cy="{_num(y)}" r="4" fill="{fill}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_num(x + 32)}" y="{_num(y + 4)}" font-size="11" '
            f'fill="#1d2430">{escape(kind)}</text>'
        )
        x += 130
    parts.append("</g>")
    return "".join(parts)


def interval_chart(
    rows: Sequence[Interval],
    *,
    title: str,
    ident: str,
    threshold: tuple[float, str] | None = None,
) -> Markup:
    """An inline ``<svg>`` forest plot of ``rows``, titled ``title`` for screen readers.

    ``ident`` makes the ids of its title and description unique on the page (it is escaped
    too); ``threshold`` draws a policy's bar (a value in [0, 1] and what it is)."""
    height = TOP + max(len(rows), 1) * ROW_HEIGHT + BOTTOM
    width = LABEL_WIDTH + PLOT_WIDTH + KIND_WIDTH
    counts = {kind: sum(r.kind == kind for r in rows) for kind in STYLES}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no intervals"
    ident = str(_text(ident))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" role="img" '
        f'viewBox="0 0 {width} {_num(height)}" width="100%" '
        f'aria-labelledby="{ident}-title {ident}-desc" data-intervals="{len(rows)}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">Estimates with their 95% intervals on a scale from 0 to 1: '
        f"{escape(summary)}.</desc>",
        _axis(height),
    ]
    if threshold is not None and math.isfinite(threshold[0]) and 0.0 <= threshold[0] <= 1.0:
        parts.append(_threshold(threshold[0], height, threshold[1]))
    parts.extend(_row(i, r) for i, r in enumerate(rows))
    if not rows:
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{TOP + ROW_HEIGHT / 2 + 4}" font-size="12" '
            'fill="#5b6575">No interval to draw yet.</text>'
        )
    parts.append(_legend(height - BOTTOM / 2))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
