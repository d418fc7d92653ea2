"""Tables in the terminal's width: ids and short values whole, text wrapped a few words a line,
what does not fit left out from the right and named, never a value cut to an ellipsis."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from prereview.core import client
from prereview.core.client import show
from prereview.core.tables import TEXT_FLOOR, fit, frame_width, instant

ID = "sub_8xyb33yekm15bs91d7g376f8vr"
TITLE = "Sandbox escape through the PACS image viewer's DICOM parser in the agentic harness"


def printed(data: object, width: int, columns: list[tuple[str, object]] | None = None) -> str:
    out = io.StringIO()
    saved = client.console
    client.console = Console(file=out, width=width, emoji=False)
    try:
        show(data, False, columns)  # type: ignore[arg-type]
    finally:
        client.console = saved
    return out.getvalue()


def test_ids_and_short_values_stay_whole_and_text_gets_a_readable_measure() -> None:
    layout = fit(["id", "title", "state"], [[ID, TITLE, "closing_soon"]], 80)
    assert layout.kept == [0, 1, 2] and layout.left_out == []
    id_width, title_width, state_width = layout.widths
    assert id_width == len(ID) and state_width == len("closing_soon")
    assert title_width >= TEXT_FLOOR
    assert sum(layout.widths) + frame_width(3) <= 80


def test_what_does_not_fit_is_left_out_from_the_right_and_named() -> None:
    headers = ["id", "title", "closes", "released", "withdrawn"]
    row = [ID, TITLE, "2026-07-10 09:00Z", "2026-07-11 09:00Z", "-"]
    layout = fit(headers, [row], 80)
    assert layout.kept[0] == 0 and layout.left_out == headers[len(layout.kept) :]
    assert layout.left_out  # 30 + 20 + 17 + 17 + 9 + frame: too wide for 80
    assert fit(headers, [row], 200).left_out == []
    out = printed([dict(zip(headers, row, strict=True))], 80)
    assert "not shown at 80 columns: " + ", ".join(layout.left_out) in " ".join(out.split())


def test_a_table_that_fits_is_shown_as_it_is() -> None:
    layout = fit(["id", "name"], [[ID, "agency org"]], 200)
    assert layout.widths == [len(ID), len("agency org")]


def test_instants_are_shown_to_the_minute_in_utc() -> None:
    assert instant("2026-06-10T09:00:00.123456Z") == "2026-06-10 09:00Z"
    assert instant("2026-06-10T11:30:00+02:00") == "2026-06-10 09:30Z"
    assert instant("2026-06-10") == "2026-06-10"
    assert instant("not a date") == "not a date"


words = st.text(alphabet="abcdefghij:_-", min_size=1, max_size=14)
cell = st.one_of(
    st.just(ID),
    st.lists(words, min_size=1, max_size=12).map(" ".join),
    st.integers(0, 10**6).map(str),
)


@settings(max_examples=30, deadline=None)
@given(
    headers=st.lists(words, min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(cell, min_size=8, max_size=8), min_size=1, max_size=4),
    width=st.integers(min_value=40, max_value=160),
)
def test_any_table_fits_its_width_without_ellipses(
    headers: list[str], rows: list[list[str]], width: int
) -> None:
    data = [dict(zip(headers, row, strict=False)) for row in rows]
    out = printed(data, width)
    assert "…" not in out
    assert all(len(line) <= width for line in out.splitlines()), out
    # Ids and short values of the columns shown are there whole, on one line.
    layout = fit(headers, [row[: len(headers)] for row in rows], width)
    for row in rows:
        for index in layout.kept:
            if len(row[index]) <= 24 or row[index] == ID:
                assert row[index] in out


@pytest.mark.parametrize("width", [80, 120])
def test_the_first_column_is_always_kept(width: int) -> None:
    layout = fit(["id", *(f"c{n}" for n in range(20))], [[ID, *(["value"] * 20)]], width)
    assert layout.kept[0] == 0 and layout.left_out
