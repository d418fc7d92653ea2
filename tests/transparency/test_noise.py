"""Optional noise: OpenDP's discrete Laplace on every count, its budget published beside them."""

from __future__ import annotations

from datetime import UTC, datetime

from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.transparency import service
from prereview.transparency.noise import add_noise
from prereview.transparency.periods import parse_period
from prereview.transparency.report import CheckpointRef, build_report, differences
from support.factories import Platform
from transparency.conftest import one_reviewed_submission, report


def test_noise_is_drawn_and_its_budget_published() -> None:
    counts = {f"c{i}": 1000 for i in range(50)}
    noisy, budget = add_noise(counts, 0.5)
    assert budget.epsilon == 0.5 and budget.counts == 50
    assert any(noisy[n] != 1000 for n in counts)
    assert all(abs(noisy[n] - 1000) < 200 for n in counts)
    published = budget.published()
    assert published["epsilonTotal"] == 25.0 and published["library"].startswith("opendp ")


def test_a_noised_report_says_so_and_recompute_compares_what_it_can() -> None:
    period = parse_period("2026Q4")
    point = CheckpointRef("o", 1, "AAAA", "note", "key", datetime(2026, 12, 1, tzinfo=UTC))
    noised = build_report([], period, point, epsilon=1.0)
    assert noised["disclosure"]["noise"]["mechanism"].startswith("discrete Laplace")
    exact = build_report([], period, point)
    assert exact["disclosure"]["noise"] is None
    # Counts cannot be recomputed under noise; the checkpoint and distributions still are.
    assert differences(noised, exact) == []


def test_the_server_draws_once_per_checkpoint(platform: Platform, clock: FixedClock) -> None:
    one_reviewed_submission(platform, clock, findings=12)
    noisy = platform.context.settings.model_copy(update={"transparency_epsilon": 1.0})
    with transaction(platform.context.sessions) as db:
        first = service.public_report(db, noisy, "2026Q2", clock.now())
        again = service.public_report(db, noisy, "2026Q2", clock.now())
    assert first == again  # no fresh draw to average away
    assert first["disclosure"]["noise"]["epsilonPerCount"] == 1.0
    exact = report(platform, "2026Q2")
    assert exact["disclosure"]["noise"] is None
