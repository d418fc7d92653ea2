"""The transparency report's problem types (stable ``type`` slugs)."""

from __future__ import annotations

from prereview.core.errors import InvalidInput, NotFound, PrereviewError


class PeriodInvalid(InvalidInput):
    """The period is not a calendar quarter named ``YYYYQn``."""

    slug = "transparency-period-invalid"
    title = "Not a reporting period"


class PeriodNotStarted(InvalidInput):
    """The period lies in the future: there is nothing to report yet."""

    slug = "transparency-period-not-started"
    title = "The period has not started"


class FormatUnsupported(PrereviewError):
    """The report is served as JSON or CSV only."""

    status = 406
    slug = "transparency-format-unsupported"
    title = "The report is JSON or CSV"


class CheckpointUnknown(NotFound):
    """No checkpoint of the size asked for was signed."""

    slug = "transparency-checkpoint-unknown"
    title = "No such checkpoint"
