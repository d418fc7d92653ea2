"""The mandatory tests of CSAF 2.0 (section 6.1), each a small named check.

:func:`mandatory_findings` runs every test on a document and returns what failed, each
finding with its test number ("6.1.27.9"), the JSON path and a message. The document is
expected to be valid under the CSAF JSON schema except, possibly, inside its CVSS objects
(test 6.1.8 validates those itself); the checks never assume more than that and skip what
they cannot read. The numbering and wording follow the specification's section 6.1,
<https://docs.oasis-open.org/csaf/csaf/v2.0/os/csaf-v2.0-os.html#61-mandatory-tests>.
"""

from __future__ import annotations

from prereview.exchange.csaf_tests import (  # noqa: F401  (each module registers its tests)
    _cvss,
    _languages,
    _products,
    _profiles,
    _tracking,
    _vulnerabilities,
)
from prereview.exchange.csaf_tests._base import REGISTRY, Document, Finding, MandatoryTest
from prereview.exchange.csaf_tests._vulnerabilities import cwe_names


def current_cwe_name(cwe_id: str) -> str | None:
    """The current name of ``cwe_id`` ("CWE-79") in MITRE's list, None if it is not a CWE."""
    names = cwe_names().get(cwe_id)
    return names[-1] if names else None


def mandatory_tests() -> list[MandatoryTest]:
    """Every mandatory test, in the specification's order."""
    return sorted(REGISTRY, key=lambda test: [int(part) for part in test.number.split(".")])


def mandatory_findings(document: Document) -> list[Finding]:
    """Every failure of every mandatory test on ``document``, test by test."""
    return [finding for test in mandatory_tests() for finding in test.check(document)]


__all__ = [
    "Finding",
    "MandatoryTest",
    "current_cwe_name",
    "mandatory_findings",
    "mandatory_tests",
]
