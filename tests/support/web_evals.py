"""Evaluation objects that web routes' paths name, made inside a scenario's submission for the
web authorization matrix (``support.web_matrix``): a task result with its Inspect log."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from support.factories import Platform
from support.factories.evals import eval_log, solved, upload_run


def _eval_result(platform: Platform, submission_id: str) -> str:
    """A result of the agency's run with its log uploaded (a calibration run: no gateway)."""
    with tempfile.TemporaryDirectory(prefix="prereview-matrix-") as folder:
        started = platform.context.clock.now() - timedelta(hours=1)
        log = eval_log(
            Path(folder) / "matrix.eval", solved(1, 2), started=started, model="openai/other"
        )
        return str(upload_run(platform, submission_id, log)["id"])


SUBMISSION_IDS: dict[str, Callable[[Platform, str], str]] = {"result_id": _eval_result}
