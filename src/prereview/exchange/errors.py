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


class FailsCsafMandatoryTests(InvalidInput):
    """A CSAF document that is schema-valid but fails mandatory tests of CSAF 2.0 section 6.1.

    ``tests`` lists the failed test numbers; each of ``errors`` names its test, JSON path and
    what is wrong, so that a publisher can fix the document in one round trip."""

    slug = "exchange-csaf-mandatory-test-failed"
    title = "The CSAF document fails mandatory tests of CSAF 2.0 (section 6.1)"

    def __init__(self, problems: Sequence[dict[str, str]]) -> None:
        tests = sorted({p["test"] for p in problems}, key=lambda t: [int(n) for n in t.split(".")])
        super().__init__(
            f"the CSAF 2.0 document fails mandatory test(s) {', '.join(tests)}",
            standard="CSAF 2.0",
            tests=tests,
            errors=list(problems),
        )
        self.tests = tests
