"""Mandatory tests of the vulnerabilities' own members (6.1.11, 6.1.23, 6.1.24, 6.1.29, 6.1.32,
6.1.33)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources

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

# Section 3.2.3.5 of CSAF 2.0: the flag labels that are VEX justifications.
VEX_JUSTIFICATIONS = frozenset(
    {
        "component_not_present",
        "inline_mitigations_already_exist",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_not_present",
    }
)


@cache
def cwe_names() -> dict[str, list[str]]:
    """Every name each CWE has had in MITRE's list, the current one last."""
    text = resources.files("prereview.exchange").joinpath("data", "cwe_names.json")
    names: dict[str, list[str]] = json.loads(text.read_text("utf-8"))["names"]
    return names


@mandatory("6.1.11", "CWE")
def unknown_cwe(document: Document) -> Iterator[Finding]:
    for path, vulnerability in vulnerabilities(document):
        cwe = vulnerability.get("cwe")
        if not isinstance(cwe, dict):
            continue
        known = cwe_names().get(str(cwe.get("id")))
        if known is None:
            yield Finding("6.1.11", f"{path}.cwe.id", f"{cwe.get('id')!r} is not a known CWE")
        elif cwe.get("name") not in known:
            yield Finding(
                "6.1.11",
                f"{path}.cwe.name",
                f"{cwe.get('id')} is named {known[-1]!r}, not {cwe.get('name')!r}",
            )


@mandatory("6.1.23", "Multiple Use of Same CVE")
def repeated_cve(document: Document) -> Iterator[Finding]:
    seen: set[str] = set()
    for path, vulnerability in vulnerabilities(document):
        cve = vulnerability.get("cve")
        if cve in seen:
            yield Finding("6.1.23", f"{path}.cve", f"{cve} is used by another vulnerability")
        elif isinstance(cve, str):
            seen.add(cve)


@mandatory("6.1.24", "Multiple Definition in Involvements")
def repeated_involvement(document: Document) -> Iterator[Finding]:
    for path, vulnerability in vulnerabilities(document):
        seen: set[tuple[str, str]] = set()
        for index, involvement in enumerate(items(vulnerability.get("involvements"))):
            key = (str(mapping(involvement).get("party")), str(mapping(involvement).get("date")))
            if key in seen:
                yield Finding(
                    "6.1.24",
                    f"{path}.involvements[{index}]",
                    f"party {key[0]!r} is involved twice at {key[1]}",
                )
            seen.add(key)


def _without_products(member: str, test: str, document: Document) -> Iterator[Finding]:
    for path, vulnerability in vulnerabilities(document):
        for index, statement in enumerate(items(vulnerability.get(member))):
            statement = mapping(statement)
            if not statement.get("product_ids") and not statement.get("group_ids"):
                yield Finding(
                    test,
                    f"{path}.{member}[{index}]",
                    "names no product (neither product_ids nor group_ids)",
                )


@mandatory("6.1.29", "Remediation without Product Reference")
def remediation_without_products(document: Document) -> Iterator[Finding]:
    yield from _without_products("remediations", "6.1.29", document)


@mandatory("6.1.32", "Flag without Product Reference")
def flag_without_products(document: Document) -> Iterator[Finding]:
    yield from _without_products("flags", "6.1.32", document)


@mandatory("6.1.33", "Multiple Flags with VEX Justification Codes per Product")
def repeated_justification(document: Document) -> Iterator[Finding]:
    groups = product_groups(document)
    for path, vulnerability in vulnerabilities(document):
        flagged: set[str] = set()
        for index, flag in enumerate(items(vulnerability.get("flags"))):
            flag = mapping(flag)
            if flag.get("label") not in VEX_JUSTIFICATIONS:
                continue
            products = products_of(flag, groups)
            for product_id in sorted(products & flagged):
                yield Finding(
                    "6.1.33",
                    f"{path}.flags[{index}]",
                    f"product {product_id!r} has more than one VEX justification",
                )
            flagged |= products
