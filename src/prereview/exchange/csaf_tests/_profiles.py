"""Mandatory tests of the profiles (6.1.26, and 6.1.27.1 to 6.1.27.11): what each document
category requires or forbids."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prereview.exchange.csaf_tests._base import (
    Document,
    Finding,
    items,
    mandatory,
    mapping,
    product_groups,
    products_of,
    vulnerabilities,
)

ADVISORY = "csaf_security_advisory"
VEX = "csaf_vex"
INFORMATIONAL = "csaf_informational_advisory"
INCIDENT = "csaf_security_incident_response"
_PROFILES = {"csaf_base", ADVISORY, VEX, INFORMATIONAL, INCIDENT}
# Names and values of the profiles other than CSAF Base, compared without case, "-", "_" or space.
_PROHIBITED = {
    "securityincidentresponse",
    "informationaladvisory",
    "securityadvisory",
    "vex",
    "csafsecurityincidentresponse",
    "csafinformationaladvisory",
    "csafsecurityadvisory",
    "csafvex",
}


def _category(document: Document) -> object:
    return mapping(document.get("document")).get("category")


@mandatory("6.1.26", "Prohibited Document Category Name")
def prohibited_category(document: Document) -> Iterator[Finding]:
    category = _category(document)
    if not isinstance(category, str) or category in _PROFILES:
        return
    if re.sub(r"[-_\s]", "", category).lower() in _PROHIBITED:
        yield Finding("6.1.26", "$.document.category", f"{category!r} is a profile's name")
    elif category.lower().startswith("csaf_"):
        yield Finding("6.1.26", "$.document.category", f"{category!r} uses the reserved csaf_")


@mandatory("6.1.27.1", "Document Notes")
def document_notes(document: Document) -> Iterator[Finding]:
    if _category(document) in (INFORMATIONAL, INCIDENT):
        notes = items(mapping(document.get("document")).get("notes"))
        wanted = ("description", "details", "general", "summary")
        if not any(mapping(note).get("category") in wanted for note in notes):
            yield Finding(
                "6.1.27.1",
                "$.document.notes",
                "needs a note of category description, details, general or summary",
            )


@mandatory("6.1.27.2", "Document References")
def document_references(document: Document) -> Iterator[Finding]:
    if _category(document) in (INFORMATIONAL, INCIDENT):
        references = items(mapping(document.get("document")).get("references"))
        if not any(mapping(r).get("category", "external") == "external" for r in references):
            yield Finding(
                "6.1.27.2", "$.document.references", "needs a reference to an external source"
            )


@mandatory("6.1.27.3", "Vulnerabilities")
def informational_without_vulnerabilities(document: Document) -> Iterator[Finding]:
    if _category(document) == INFORMATIONAL and "vulnerabilities" in document:
        yield Finding(
            "6.1.27.3", "$.vulnerabilities", "an informational advisory has no vulnerabilities"
        )


@mandatory("6.1.27.4", "Product Tree")
def product_tree_present(document: Document) -> Iterator[Finding]:
    if _category(document) in (ADVISORY, VEX) and "product_tree" not in document:
        yield Finding("6.1.27.4", "$.product_tree", "the profile needs a product tree")


@mandatory("6.1.27.5", "Vulnerability Notes")
def vulnerability_notes(document: Document) -> Iterator[Finding]:
    if _category(document) in (ADVISORY, VEX):
        for path, vulnerability in vulnerabilities(document):
            if "notes" not in vulnerability:
                yield Finding("6.1.27.5", f"{path}.notes", "the profile needs notes")


@mandatory("6.1.27.6", "Product Status")
def product_status_present(document: Document) -> Iterator[Finding]:
    if _category(document) == ADVISORY:
        for path, vulnerability in vulnerabilities(document):
            if "product_status" not in vulnerability:
                yield Finding("6.1.27.6", f"{path}.product_status", "the profile needs one")


@mandatory("6.1.27.7", "VEX Product Status")
def vex_product_status(document: Document) -> Iterator[Finding]:
    if _category(document) == VEX:
        wanted = ("fixed", "known_affected", "known_not_affected", "under_investigation")
        for path, vulnerability in vulnerabilities(document):
            status = mapping(vulnerability.get("product_status"))
            if not any(name in status for name in wanted):
                yield Finding(
                    "6.1.27.7",
                    f"{path}.product_status",
                    "needs fixed, known_affected, known_not_affected or under_investigation",
                )


@mandatory("6.1.27.8", "Vulnerability ID")
def vex_vulnerability_id(document: Document) -> Iterator[Finding]:
    if _category(document) == VEX:
        for path, vulnerability in vulnerabilities(document):
            if "cve" not in vulnerability and "ids" not in vulnerability:
                yield Finding("6.1.27.8", path, "a VEX vulnerability needs a cve or ids")


@mandatory("6.1.27.9", "Impact Statement")
def vex_impact_statement(document: Document) -> Iterator[Finding]:
    if _category(document) != VEX:
        return
    groups = product_groups(document)
    for path, vulnerability in vulnerabilities(document):
        stated: set[str] = set()
        for flag in items(vulnerability.get("flags")):
            stated |= products_of(mapping(flag), groups)
        for threat in items(vulnerability.get("threats")):
            if mapping(threat).get("category") == "impact":
                stated |= products_of(mapping(threat), groups)
        status = mapping(vulnerability.get("product_status"))
        for index, product_id in enumerate(items(status.get("known_not_affected"))):
            if product_id not in stated:
                yield Finding(
                    "6.1.27.9",
                    f"{path}.product_status.known_not_affected[{index}]",
                    f"no impact statement (flag or impact threat) for {product_id!r}",
                )


@mandatory("6.1.27.10", "Action Statement")
def vex_action_statement(document: Document) -> Iterator[Finding]:
    if _category(document) != VEX:
        return
    groups = product_groups(document)
    for path, vulnerability in vulnerabilities(document):
        stated: set[str] = set()
        for remediation in items(vulnerability.get("remediations")):
            stated |= products_of(mapping(remediation), groups)
        status = mapping(vulnerability.get("product_status"))
        for index, product_id in enumerate(items(status.get("known_affected"))):
            if product_id not in stated:
                yield Finding(
                    "6.1.27.10",
                    f"{path}.product_status.known_affected[{index}]",
                    f"no action statement (remediation) for {product_id!r}",
                )


@mandatory("6.1.27.11", "Vulnerabilities")
def vulnerabilities_present(document: Document) -> Iterator[Finding]:
    if _category(document) in (ADVISORY, VEX) and "vulnerabilities" not in document:
        yield Finding("6.1.27.11", "$.vulnerabilities", "the profile needs vulnerabilities")
