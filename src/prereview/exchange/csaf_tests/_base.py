"""What every mandatory test shares: its findings, its registry, and walks of the document."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Document = Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """One failure of one test: the test's number in CSAF 2.0 section 6, where, and what."""

    test: str
    path: str
    message: str

    def as_problem(self) -> dict[str, str]:
        """The finding in the shape of the exchange errors (path and message), with its test."""
        return {"test": self.test, "path": self.path, "message": f"{self.test}: {self.message}"}


Check = Callable[[Document], Iterator[Finding]]


@dataclass(frozen=True)
class MandatoryTest:
    number: str
    title: str
    check: Check


REGISTRY: list[MandatoryTest] = []


def mandatory(number: str, title: str) -> Callable[[Check], Check]:
    """Register a check as the mandatory test ``number`` ("6.1.27.3")."""

    def register(check: Check) -> Check:
        REGISTRY.append(MandatoryTest(number, title, check))
        return check

    return register


def items(value: Any) -> list[Any]:
    """A list member as a list (absent or malformed: empty), so checks need no shape guards."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def vulnerabilities(document: Document) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each vulnerability with its JSON path."""
    for index, vulnerability in enumerate(items(document.get("vulnerabilities"))):
        if isinstance(vulnerability, Mapping):
            yield f"$.vulnerabilities[{index}]", vulnerability


def branch_products(document: Document) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every branch of the product tree (at any depth) with its path."""

    def walk(branches: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for index, branch in enumerate(items(branches)):
            if isinstance(branch, Mapping):
                here = f"{path}[{index}]"
                yield here, branch
                yield from walk(branch.get("branches"), f"{here}.branches")

    yield from walk(
        mapping(document.get("product_tree")).get("branches"), "$.product_tree.branches"
    )


def full_product_names(document: Document) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Full Product Name element (branches, full_product_names, relationships), by path."""
    for path, branch in branch_products(document):
        if isinstance(branch.get("product"), Mapping):
            yield f"{path}.product", branch["product"]
    tree = mapping(document.get("product_tree"))
    for index, name in enumerate(items(tree.get("full_product_names"))):
        if isinstance(name, Mapping):
            yield f"$.product_tree.full_product_names[{index}]", name
    for index, relationship in enumerate(items(tree.get("relationships"))):
        name = mapping(relationship).get("full_product_name")
        if isinstance(name, Mapping):
            yield f"$.product_tree.relationships[{index}].full_product_name", name


def product_groups(document: Document) -> dict[str, list[str]]:
    """Group id -> its product ids."""
    groups: dict[str, list[str]] = {}
    for group in items(mapping(document.get("product_tree")).get("product_groups")):
        group = mapping(group)
        if isinstance(group.get("group_id"), str):
            groups.setdefault(group["group_id"], []).extend(
                p for p in items(group.get("product_ids")) if isinstance(p, str)
            )
    return groups


def products_of(statement: Mapping[str, Any], groups: Mapping[str, list[str]]) -> set[str]:
    """The product ids a statement (remediation, threat, flag) applies to, groups expanded."""
    named = {p for p in items(statement.get("product_ids")) if isinstance(p, str)}
    for group_id in items(statement.get("group_ids")):
        named.update(groups.get(group_id, []) if isinstance(group_id, str) else [])
    return named
