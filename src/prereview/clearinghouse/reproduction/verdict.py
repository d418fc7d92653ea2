"""The server's verdict on a proof of concept, from its runs alone (never from the reporter).

Reproduced means the PoC succeeds on the affected version **and** fails on the fixed version;
with no fixed version known it is only reproduced on the affected one (fixed not checked). A
PoC that succeeds on the fixed version as well shows nothing about this fix. Success is what
the reporter declared before the run: an exit status, and a marker the script's stdout must
contain if one was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prereview.clearinghouse.reproduction.sandboxed import RunResult

REPRODUCED = "reproduced"
FIXED_NOT_CHECKED = "reproduced_fixed_not_checked"
NOT_THIS_FIX = "not_a_reproduction_of_this_fix"
NOT_REPRODUCED = "not_reproduced"
UNAVAILABLE = "unavailable"
ERROR = "error"

LABELS = {
    REPRODUCED: "reproduced: succeeds on the affected version, fails on the fixed one",
    FIXED_NOT_CHECKED: "reproduced on affected, fixed not checked (no fixed version known)",
    NOT_THIS_FIX: "not a reproduction of this fix: it succeeds on the fixed version too",
    NOT_REPRODUCED: "not reproduced: it does not succeed on the affected version",
    UNAVAILABLE: "cannot reproduce here: package not available offline",
    ERROR: "cannot reproduce here: the sandbox could not run it",
}
# What the triage queue and the pacing order by: 0 reproduced, 1 not reproduced, 2 unknown.
RANKS = {
    REPRODUCED: 0,
    FIXED_NOT_CHECKED: 0,
    NOT_THIS_FIX: 1,
    NOT_REPRODUCED: 1,
    UNAVAILABLE: 2,
    ERROR: 2,
}
STATUS_OF_RANK = {0: "reproduced", 1: "not_reproduced", 2: "unknown"}


@dataclass(frozen=True)
class Expectation:
    """What the reporter said "reproduced" looks like."""

    exit_status: int = 0
    stdout_marker: str | None = None

    def met_by(self, run: RunResult) -> bool:
        if run.error is not None or run.timed_out or run.exit_status != self.exit_status:
            return False
        return self.stdout_marker is None or self.stdout_marker in run.stdout


def judge(expect: Expectation, affected: RunResult, fixed: RunResult | None) -> str:
    """The verdict of the runs on the affected release and, if known, the fixed one."""
    if affected.error is not None or (fixed is not None and fixed.error is not None):
        return ERROR
    if not expect.met_by(affected):
        return NOT_REPRODUCED
    if fixed is None:
        return FIXED_NOT_CHECKED
    return NOT_THIS_FIX if expect.met_by(fixed) else REPRODUCED


def summary(verdict: str, runs: Sequence[RunResult]) -> str:
    """A sentence for the analyst: the verdict and each run's outcome."""
    parts = [LABELS[verdict]]
    for run in runs:
        outcome = run.error or ("timed out" if run.timed_out else f"exit status {run.exit_status}")
        parts.append(f"{run.version} ({run.filename}): {outcome}")
    return "; ".join(parts)
