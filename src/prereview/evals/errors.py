"""Errors of evaluation results."""

from __future__ import annotations

from prereview.core.errors import Conflict, InvalidInput, NotFound


class EvalResultNotFound(NotFound):
    slug = "eval-result-not-found"


class EvalLogMissing(NotFound):
    slug = "eval-log-missing"


class EvalLogExists(Conflict):
    slug = "eval-log-exists"


class EvalLogEmpty(InvalidInput):
    slug = "eval-log-empty"


class EvalLogTooLarge(InvalidInput):
    slug = "eval-log-too-large"
    status = 413


class EvalLogNotInspect(InvalidInput):
    slug = "eval-log-not-inspect"
