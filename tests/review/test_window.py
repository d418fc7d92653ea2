"""The window is derived from dates and the clock: every state, and properties over any dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from prereview.review.window import WindowState, window_of

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SOON = timedelta(days=3)


@dataclass
class Dates:
    window_opened_at: datetime | None = None
    window_ends_at: datetime | None = None
    planned_release_at: datetime | None = None
    released_at: datetime | None = None
    withdrawn_at: datetime | None = None


def opened(days: int = 30, **kw: datetime | None) -> Dates:
    return Dates(window_opened_at=T0, window_ends_at=T0 + timedelta(days=days), **kw)


def test_not_opened_until_first_grant() -> None:
    assert window_of(Dates(), T0, SOON).state is WindowState.NOT_OPENED


def test_open_then_closing_soon_then_expired() -> None:
    dates = opened(10)
    assert window_of(dates, T0 + timedelta(days=1), SOON).state is WindowState.OPEN
    assert (
        window_of(dates, T0 + timedelta(days=7, seconds=1), SOON).state is WindowState.CLOSING_SOON
    )
    expired = window_of(dates, T0 + timedelta(days=10), SOON)
    assert expired.state is WindowState.CLOSED_EXPIRED
    assert expired.closes_at == T0 + timedelta(days=10)


def test_release_and_withdrawal_close_at_once() -> None:
    at = T0 + timedelta(days=2)
    assert window_of(opened(released_at=at), at, SOON).state is WindowState.CLOSED_RELEASED
    assert window_of(opened(withdrawn_at=at), at, SOON).state is WindowState.CLOSED_WITHDRAWN


def test_planned_release_closes_the_window_when_it_passes() -> None:
    dates = opened(30, planned_release_at=T0 + timedelta(days=5))
    before = window_of(dates, T0 + timedelta(days=4), SOON)
    assert before.state is WindowState.CLOSING_SOON
    assert before.closes_at == T0 + timedelta(days=5)
    assert window_of(dates, T0 + timedelta(days=5), SOON).state is WindowState.CLOSED_RELEASED


def test_earliest_end_decides() -> None:
    dates = opened(5, released_at=T0 + timedelta(days=8), withdrawn_at=T0 + timedelta(days=9))
    assert window_of(dates, T0 + timedelta(days=10), SOON).state is WindowState.CLOSED_EXPIRED


moments = st.one_of(
    st.none(), st.integers(min_value=-5, max_value=120).map(lambda d: T0 + timedelta(days=d))
)


@given(
    days=st.integers(min_value=1, max_value=90),
    planned=moments,
    released=moments,
    withdrawn=moments,
    now_days=st.integers(min_value=0, max_value=150),
)
def test_window_never_outlives_any_of_its_ends(
    days: int,
    planned: datetime | None,
    released: datetime | None,
    withdrawn: datetime | None,
    now_days: int,
) -> None:
    dates = opened(days, planned_release_at=planned, released_at=released, withdrawn_at=withdrawn)
    now = T0 + timedelta(days=now_days)
    window = window_of(dates, now, SOON)
    ends = [m for m in (dates.window_ends_at, planned, released, withdrawn) if m is not None]
    # Release and withdrawal are acts, recorded when they happen: one dated after ``now`` has
    # not happened yet and is no scheduled end; the end date and the planned release are.
    scheduled = [m for m in (dates.window_ends_at, planned) if m is not None]
    if window.state.is_open:
        assert all(now < end for end in ends)
        assert window.closes_at == min(e for e in scheduled if e > now)
        assert window.seconds_left == int((window.closes_at - now).total_seconds())
    else:
        assert window.state.is_closed
        assert any(end <= now for end in ends)
        assert window.closes_at == min(e for e in ends if e <= now)
    if withdrawn is not None and withdrawn <= now:
        assert not window.state.is_open
