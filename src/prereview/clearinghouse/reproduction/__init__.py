"""Reproduction, not assertion: a report's proof of concept, run by the server in the sandbox.

:mod:`.store` attaches a PoC (its reporter only; the script sealed in the vault under the
report's TLP), reads it and its logs (need to know, audited) and answers the status the triage
queue, the pacing and the funnel order by. :mod:`.worker` drains the queue: for each PoC a
fresh sandbox per package version (:mod:`.sandboxed`), with the release installed only inside
it from an offline, pinned source (:mod:`.sources`), and the verdict computed by the server
(:mod:`.verdict`).
"""

from prereview.clearinghouse.reproduction.store import (
    ECOSYSTEMS,
    LANGUAGES,
    PocSpec,
    ReproductionView,
    Standing,
    attach_poc,
    read_poc,
    report_reproductions,
    reproduced_moments,
    reproduction_rank,
    reproduction_status,
    reproduction_view,
    standing,
)
from prereview.clearinghouse.reproduction.verdict import LABELS
from prereview.clearinghouse.reproduction.worker import ReproductionWorker, drain, run_one

__all__ = [
    "ECOSYSTEMS",
    "LABELS",
    "LANGUAGES",
    "PocSpec",
    "ReproductionView",
    "ReproductionWorker",
    "Standing",
    "attach_poc",
    "drain",
    "read_poc",
    "report_reproductions",
    "reproduced_moments",
    "reproduction_rank",
    "reproduction_status",
    "reproduction_view",
    "run_one",
    "standing",
]
