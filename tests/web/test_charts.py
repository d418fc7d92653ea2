"""The server-rendered interval chart: well-formed SVG, one drawn interval per row, where its
numbers say, every text escaped, and no row that is not a valid interval."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prereview.web.charts import (
    LABEL_WIDTH,
    PLOT_WIDTH,
    STYLES,
    Interval,
    interval_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # our own output, parsed to check it


def rows_of(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == "interval"]


def x_of(value: float) -> float:
    return LABEL_WIDTH + value * PLOT_WIDTH


def test_one_drawn_interval_per_row_at_its_numbers() -> None:
    rows = [
        Interval("ctf", 0.40, 0.74, 0.58, "evidence"),
        Interval("patch", 0.10, 0.30, 0.20, "calibration", "the scripted model"),
        Interval("vuln_discovery", 0.0, 1.0, None, "pending"),
    ]
    svg = parse(interval_chart(rows, title="By task", ident="tasks"))
    assert svg.get("data-intervals") == "3" and svg.get("role") == "img"
    drawn = rows_of(svg)
    assert [g.get("data-kind") for g in drawn] == ["evidence", "calibration", "pending"]
    for g, row in zip(drawn, rows, strict=True):
        [ci] = [line for line in g.iter(f"{SVG}line") if line.get("class") == "ci"]
        assert math.isclose(float(ci.get("x1", "")), x_of(row.low), abs_tol=0.06)
        assert math.isclose(float(ci.get("x2", "")), x_of(row.high), abs_tol=0.06)
        dots = [c for c in g.iter(f"{SVG}circle") if c.get("class") == "estimate"]
        if row.estimate is None:
            assert dots == []
        else:
            assert math.isclose(float(dots[0].get("cx", "")), x_of(row.estimate), abs_tol=0.06)
        assert ci.get("stroke") == STYLES[row.kind][0]
    # The kinds are told apart by more than colour: the line's dash, and the kind written out.
    dashes = [
        next(line for line in g.iter(f"{SVG}line") if line.get("class") == "ci").get(
            "stroke-dasharray"
        )
        for g in drawn
    ]
    assert len(set(dashes)) == 3
    assert ["".join(g.itertext()).endswith(r.kind) for g, r in zip(drawn, rows, strict=True)]
    titles = [g.find(f"{SVG}title") for g in drawn]
    assert titles[1] is not None and "the scripted model" in (titles[1].text or "")
    assert "1 evidence, 1 calibration, 1 pending" in (svg.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_every_text_is_escaped() -> None:
    hostile = "<script>alert(1)</script>&\"'><svg onload=x>"
    chart = interval_chart(
        [Interval(hostile, 0.1, 0.2, 0.15, "evidence", hostile)],
        title=hostile,
        ident='x" onload="y',
        threshold=(0.5, hostile),
    )
    assert "<script>" not in chart and "<svg onload" not in chart and 'onload="y' not in chart
    svg = parse(chart)  # still well-formed XML
    assert svg.find(f"{SVG}title").text == hostile  # type: ignore[union-attr]
    [row] = rows_of(svg)
    assert hostile in (row.find(f"{SVG}title").text or "")  # type: ignore[union-attr]
    # The drawn label is cut short (the whole one is in the row's title); still escaped.
    label = next(t for t in row.iter(f"{SVG}text") if t.get("text-anchor") == "end")
    assert (label.text or "").startswith("<script>") and (label.text or "").endswith("\u2026")
    assert {e.tag.removeprefix(SVG) for e in svg.iter()} <= {
        "svg",
        "title",
        "desc",
        "g",
        "line",
        "circle",
        "text",
    }


def test_an_empty_chart_says_so() -> None:
    svg = parse(interval_chart([], title="By tier", ident="tiers"))
    assert svg.get("data-intervals") == "0" and rows_of(svg) == []
    assert "No interval to draw yet." in "".join(svg.itertext())


def test_a_threshold_outside_the_scale_is_not_drawn() -> None:
    row = [Interval("ctf", 0.1, 0.2, 0.15, "evidence")]
    drawn = parse(interval_chart(row, title="t", ident="a", threshold=(0.5, "policy bar")))
    assert [g for g in drawn.iter(f"{SVG}g") if g.get("class") == "threshold"]
    for bad in (1.5, -0.1, math.nan):
        svg = parse(interval_chart(row, title="t", ident="a", threshold=(bad, "bar")))
        assert not [g for g in svg.iter(f"{SVG}g") if g.get("class") == "threshold"]


@pytest.mark.parametrize(
    ("low", "high", "estimate", "kind"),
    [
        (0.5, 0.4, None, "evidence"),  # upside down
        (0.2, 0.4, 0.5, "evidence"),  # estimate outside
        (-0.1, 0.4, None, "evidence"),
        (0.1, 1.1, None, "evidence"),
        (math.nan, 0.4, None, "evidence"),
        (0.1, math.inf, None, "evidence"),
        (0.1, 0.4, None, "guess"),  # not a kind the service records
    ],
)
def test_an_invalid_interval_cannot_be_built(
    low: float, high: float, estimate: float | None, kind: str
) -> None:
    with pytest.raises(ValueError):
        Interval("x", low, high, estimate, kind)
    assert Interval.of("x", low, high, estimate, kind) is None


def test_stored_numbers_without_an_interval_make_no_row() -> None:
    assert Interval.of("ctf", None, 0.4, 0.2, "pending") is None
    assert Interval.of("ctf", 0.1, None, None, "pending") is None
    assert Interval.of("ctf", 0.1, 0.4, 0.2, "pending") == Interval("ctf", 0.1, 0.4, 0.2, "pending")


fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


# Any text for labels, control characters included: a label is read from an uploaded log.
@given(st.lists(st.tuples(fraction, fraction, st.text(max_size=60)), max_size=12))
def test_any_rows_with_any_labels_make_well_formed_svg_with_that_many_intervals(
    values: list[tuple[float, float, str]],
) -> None:
    rows = [Interval(label, min(a, b), max(a, b), None, "evidence") for a, b, label in values]
    svg = parse(interval_chart(rows, title="t", ident="p"))
    assert len(rows_of(svg)) == len(rows) == int(svg.get("data-intervals", "-1"))
