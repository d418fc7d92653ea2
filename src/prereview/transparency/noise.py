"""Optional differential-privacy noise on the report's counts, with OpenDP.

Off by default (``PREREVIEW_TRANSPARENCY_EPSILON`` unset). When set, every count gets
discrete Laplace noise from OpenDP's ``make_laplace`` over integers, with the scale that gives
``epsilon`` for a count of sensitivity 1 (one log event more or less changes it by at most 1);
the report publishes the mechanism, the epsilon of each count and their sum (basic sequential
composition, an upper bound on the loss for one event, which changes at most every count once).
Small-count suppression then runs on the noisy counts (post-processing, so the guarantee
holds). Medians and quartiles are not noised: they stay under the more-than-ten-values rule and
outside the guarantee, as the report says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MECHANISM = "discrete Laplace (OpenDP make_laplace over integers)"


@dataclass(frozen=True, slots=True)
class NoiseBudget:
    """The privacy budget of one report: ``epsilon`` per count, over ``counts`` counts."""

    epsilon: float
    counts: int
    library: str

    def published(self) -> dict[str, Any]:
        return {
            "mechanism": MECHANISM,
            "library": self.library,
            "sensitivity": 1,
            "epsilonPerCount": self.epsilon,
            "counts": self.counts,
            "epsilonTotal": round(self.epsilon * self.counts, 6),
            "unit": "one audit log event",
            "covers": "counts and the shares computed from them; not medians or quartiles",
        }


def add_noise(counts: Mapping[str, int], epsilon: float) -> tuple[dict[str, int], NoiseBudget]:
    """Each count plus its own draw of discrete Laplace noise (clamped at 0), and the budget."""
    from importlib.metadata import version

    import opendp.prelude as dp  # imported only when noise is on: the report needs it not

    dp.enable_features("contrib")
    measurement = dp.m.make_laplace(
        dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=1.0 / epsilon
    )
    spent = float(measurement.map(1))  # type: ignore[no-untyped-call]
    noisy = {name: max(0, int(measurement(value))) for name, value in counts.items()}
    return noisy, NoiseBudget(spent, len(counts), f"opendp {version('opendp')}")
