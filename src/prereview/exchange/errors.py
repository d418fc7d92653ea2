"""Errors of the exchange formats, each with a stable problem type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prereview.core.errors import InvalidInput
from prereview.vulnerability.problems import Problem


class InvalidExchangeDocument(InvalidInput):
    """An imported OSV / CSAF document that fails its standard's schema (every problem listed)."""

    slug = "exchange-invalid-document"
    title = "The document does not satisfy its standard's schema"

    def __init__(self, standard: str, problems: Sequence[Problem], **extra: Any) -> None:
        super().__init__(
            f"the {standard} document has {len(problems)} problem(s)",
            standard=standard,
            errors=list(problems),
            **extra,
        )
        self.standard = standard
        self.problems: list[Problem] = list(problems)


class UnreadableDocument(InvalidInput):
    """Bytes that are not JSON / YAML at all, or not the kind of document expected."""

    slug = "exchange-unreadable-document"
    title = "The document cannot be read"


class NotExportable(InvalidInput):
    """An advisory that lacks what a format needs (for example a CVE id for a CVE record)."""

    slug = "exchange-not-exportable"
    title = "The advisory cannot be exported in this format"
