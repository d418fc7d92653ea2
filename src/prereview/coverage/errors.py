"""Errors of coverage determinations."""

from __future__ import annotations

from typing import Any

from prereview.core.errors import InvalidInput, NotFound


class PolicyInvalid(InvalidInput):
    """A policy that cannot be read; ``problems`` lists every problem, by path."""

    slug = "coverage-policy-invalid"
    title = "The coverage policy is not valid"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0] if problems else {"path": "", "message": "invalid policy"}
        where = f"{first['path']}: " if first["path"] else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}{first['message']}{more}", errors=problems)
        self.problems = problems


class UnknownPreset(InvalidInput):
    slug = "coverage-preset-unknown"


class PolicyMissing(InvalidInput):
    slug = "coverage-policy-missing"


class DeterminationNotFound(NotFound):
    slug = "coverage-determination-not-found"


class RunNotEvidence(InvalidInput):
    """A named run that is not one of the judging agency's evidence runs on the submission."""

    slug = "coverage-run-not-evidence"
