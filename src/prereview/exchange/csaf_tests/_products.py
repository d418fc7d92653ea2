"""Mandatory tests of the product tree and of the references into it (6.1.1 to 6.1.6, 6.1.13,
6.1.25, 6.1.31)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from packageurl import PackageURL

from prereview.exchange.csaf_tests._base import (
    Document,
    Finding,
    branch_products,
    full_product_names,
    items,
    mandatory,
    mapping,
    vulnerabilities,
)

PRODUCT_STATUSES = (
    "first_affected",
    "first_fixed",
    "fixed",
    "known_affected",
    "known_not_affected",
    "last_affected",
    "recommended",
    "under_investigation",
)
# 6.1.6: a product is in at most one of these within one vulnerability ("recommended" is free).
_CONTRADICTION_GROUPS = {
    "first_affected": "affected",
    "known_affected": "affected",
    "last_affected": "affected",
    "known_not_affected": "not affected",
    "first_fixed": "fixed",
    "fixed": "fixed",
    "under_investigation": "under investigation",
}
# The words of the specification's list; as whole words, so "after-eight" is a version name
# (the OASIS conformance document 6.1.31-12 says so), "<" and ">" anywhere.
_RANGE_WORDS = frozenset({"after", "all", "before", "earlier", "later", "prior", "versions"})


def defined_product_ids(document: Document) -> set[str]:
    return {
        name["product_id"]
        for _, name in full_product_names(document)
        if isinstance(name.get("product_id"), str)
    }


def product_references(document: Document) -> Iterator[tuple[str, str]]:
    """Every reference to a product id outside a Full Product Name, with its path (6.1.1)."""
    tree = mapping(document.get("product_tree"))
    for g, group in enumerate(items(tree.get("product_groups"))):
        for p, product_id in enumerate(items(mapping(group).get("product_ids"))):
            yield f"$.product_tree.product_groups[{g}].product_ids[{p}]", product_id
    for r, relationship in enumerate(items(tree.get("relationships"))):
        for key in ("product_reference", "relates_to_product_reference"):
            if key in mapping(relationship):
                yield f"$.product_tree.relationships[{r}].{key}", relationship[key]
    for path, vulnerability in vulnerabilities(document):
        status = mapping(vulnerability.get("product_status"))
        for name in PRODUCT_STATUSES:
            for p, product_id in enumerate(items(status.get(name))):
                yield f"{path}.product_status.{name}[{p}]", product_id
        for member, key in (("remediations", "product_ids"), ("scores", "products")):
            for s, statement in enumerate(items(vulnerability.get(member))):
                for p, product_id in enumerate(items(mapping(statement).get(key))):
                    yield f"{path}.{member}[{s}].{key}[{p}]", product_id
        # Flags are not in the specification's list but name products the same way, and the
        # OASIS conformance documents 6.1.1-02 and 6.1.4-02 fail by a flag.
        for member in ("threats", "flags"):
            for s, statement in enumerate(items(vulnerability.get(member))):
                for p, product_id in enumerate(items(mapping(statement).get("product_ids"))):
                    yield f"{path}.{member}[{s}].product_ids[{p}]", product_id


@mandatory("6.1.1", "Missing Definition of Product ID")
def missing_product_definition(document: Document) -> Iterator[Finding]:
    defined = defined_product_ids(document)
    for path, product_id in product_references(document):
        if product_id not in defined:
            yield Finding("6.1.1", path, f"product id {product_id!r} is not defined")


@mandatory("6.1.2", "Multiple Definition of Product ID")
def multiple_product_definition(document: Document) -> Iterator[Finding]:
    seen: set[str] = set()
    for path, name in full_product_names(document):
        product_id = name.get("product_id")
        if product_id in seen:
            yield Finding("6.1.2", f"{path}.product_id", f"product id {product_id!r} defined again")
        elif isinstance(product_id, str):
            seen.add(product_id)


@mandatory("6.1.3", "Circular Definition of Product ID")
def circular_product_definition(document: Document) -> Iterator[Finding]:
    relationships = items(mapping(document.get("product_tree")).get("relationships"))
    # Each product id a relationship defines -> the ids it is built from.
    built_from: dict[str, set[str]] = {}
    for relationship in relationships:
        relationship = mapping(relationship)
        new_id = mapping(relationship.get("full_product_name")).get("product_id")
        if isinstance(new_id, str):
            built_from.setdefault(new_id, set()).update(
                relationship[key]
                for key in ("product_reference", "relates_to_product_reference")
                if isinstance(relationship.get(key), str)
            )
    for index, relationship in enumerate(relationships):
        new_id = mapping(mapping(relationship).get("full_product_name")).get("product_id")
        if isinstance(new_id, str) and _reaches(new_id, new_id, built_from):
            yield Finding(
                "6.1.3",
                f"$.product_tree.relationships[{index}].full_product_name.product_id",
                f"product id {new_id!r} is defined in terms of itself",
            )


def _reaches(start: str, target: str, built_from: Mapping[str, set[str]]) -> bool:
    stack, seen = list(built_from.get(start, ())), set()
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(built_from.get(current, ()))
    return False


@mandatory("6.1.4", "Missing Definition of Product Group ID")
def missing_group_definition(document: Document) -> Iterator[Finding]:
    tree = mapping(document.get("product_tree"))
    defined = {mapping(g).get("group_id") for g in items(tree.get("product_groups"))}
    for path, vulnerability in vulnerabilities(document):
        for member in ("remediations", "threats", "flags"):  # flags: as in 6.1.1
            for s, statement in enumerate(items(vulnerability.get(member))):
                for g, group_id in enumerate(items(mapping(statement).get("group_ids"))):
                    if group_id not in defined:
                        yield Finding(
                            "6.1.4",
                            f"{path}.{member}[{s}].group_ids[{g}]",
                            f"product group id {group_id!r} is not defined",
                        )


@mandatory("6.1.5", "Multiple Definition of Product Group ID")
def multiple_group_definition(document: Document) -> Iterator[Finding]:
    seen: set[str] = set()
    groups = items(mapping(document.get("product_tree")).get("product_groups"))
    for index, group in enumerate(groups):
        group_id = mapping(group).get("group_id")
        if group_id in seen:
            yield Finding(
                "6.1.5",
                f"$.product_tree.product_groups[{index}].group_id",
                f"product group id {group_id!r} defined again",
            )
        elif isinstance(group_id, str):
            seen.add(group_id)


@mandatory("6.1.6", "Contradicting Product Status")
def contradicting_status(document: Document) -> Iterator[Finding]:
    for path, vulnerability in vulnerabilities(document):
        status = mapping(vulnerability.get("product_status"))
        group_of: dict[str, str] = {}
        for name, group in _CONTRADICTION_GROUPS.items():
            for index, product_id in enumerate(items(status.get(name))):
                earlier = group_of.setdefault(product_id, group)
                if earlier != group:
                    yield Finding(
                        "6.1.6",
                        f"{path}.product_status.{name}[{index}]",
                        f"product {product_id!r} is both {earlier!r} and {group!r}",
                    )


def _helper_paths(document: Document) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for path, name in full_product_names(document):
        helper = name.get("product_identification_helper")
        if isinstance(helper, Mapping):
            yield f"{path}.product_identification_helper", helper


@mandatory("6.1.13", "PURL")
def invalid_purl(document: Document) -> Iterator[Finding]:
    for path, helper in _helper_paths(document):
        purl = helper.get("purl")
        if isinstance(purl, str):
            try:
                PackageURL.from_string(purl)
            except ValueError as exc:
                yield Finding("6.1.13", f"{path}.purl", f"invalid purl {purl!r}: {exc}")


@mandatory("6.1.25", "Multiple Use of Same Hash Algorithm")
def repeated_hash_algorithm(document: Document) -> Iterator[Finding]:
    for path, helper in _helper_paths(document):
        for h, entry in enumerate(items(helper.get("hashes"))):
            seen: set[str] = set()
            for f, file_hash in enumerate(items(mapping(entry).get("file_hashes"))):
                algorithm = mapping(file_hash).get("algorithm")
                if algorithm in seen:
                    yield Finding(
                        "6.1.25",
                        f"{path}.hashes[{h}].file_hashes[{f}].algorithm",
                        f"hash algorithm {algorithm!r} is used more than once",
                    )
                elif isinstance(algorithm, str):
                    seen.add(algorithm)


@mandatory("6.1.31", "Version Range in Product Version")
def range_in_product_version(document: Document) -> Iterator[Finding]:
    for path, branch in branch_products(document):
        name = branch.get("name")
        if branch.get("category") != "product_version" or not isinstance(name, str):
            continue
        lowered = name.lower()
        if "<" in lowered or ">" in lowered or _RANGE_WORDS.intersection(lowered.split()):
            yield Finding(
                "6.1.31",
                f"{path}.name",
                f"{name!r} is a version range; use the category product_version_range",
            )
