"""Validation of exchanged documents against the standards' own JSON schemas, offline.

The schemas ship with the package (``schemas/``); ``referencing`` resolves the CSAF schema's
references to FIRST's CVSS schemas from those copies, so validation never touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from prereview.exchange.errors import InvalidExchangeDocument
from prereview.vulnerability.problems import Problem


class Standard(StrEnum):
    OSV = "OSV"
    CSAF = "CSAF 2.0"
    CVE5 = "CVE JSON 5.1"


# Where each schema lives: in this package's schemas/, and in the standards' own layout.
_PACKAGED = {
    Standard.OSV: "osv_schema.json",
    Standard.CSAF: "csaf_json_schema.json",
    Standard.CVE5: "CVE_JSON_bundled_5.1.1.json",
}
_STANDARDS_LAYOUT = {
    Standard.OSV: "osv/schema.json",
    Standard.CSAF: "csaf/json_schema/csaf_json_schema.json",
    Standard.CVE5: "cve5/CVE_JSON_bundled_5.1.1.json",
}
_CVSS_VERSIONS = ("2.0", "3.0", "3.1")


@dataclass(frozen=True)
class SchemaSet:
    """One validator per standard, built from one directory of schemas."""

    validators: Mapping[Standard, Validator]
    # Compiled (Rust) checks that answer only "valid or not", 50x faster than ``validators``:
    # a document they pass is valid; any other goes through ``validators``, which name every
    # fault and its path. Bulk intake validates thousands of OSV records a second this way.
    screens: Mapping[Standard, Callable[[Any], bool]] = field(default_factory=dict)

    def problems(self, document: Any, standard: Standard) -> list[Problem]:
        """Every schema violation of ``document``, by JSON path, in document order."""
        screen = self.screens.get(standard)
        if screen is not None and _passes(screen, document):
            return []
        errors = sorted(
            (
                leaf
                for error in self.validators[standard].iter_errors(document)
                for leaf in _leaves(error)
            ),
            key=lambda e: (list(map(str, e.absolute_path)), e.message),
        )
        return [Problem(path=error.json_path, message=error.message) for error in errors]

    def require_valid(self, document: Any, standard: Standard) -> None:
        """Raise :class:`InvalidExchangeDocument` listing every problem, if there is one."""
        problems = self.problems(document, standard)
        if problems:
            raise InvalidExchangeDocument(str(standard), problems)


def _passes(screen: Callable[[Any], bool], document: Any) -> bool:
    try:
        return screen(document)
    except ValueError:  # a value JSON has no type for: the full validator says what is wrong
        return False


def _leaves(error: ValidationError) -> list[ValidationError]:
    """For "not valid under any of the given schemas", the errors of the closest alternative.

    A oneOf / anyOf failure says nothing a person can act on. The alternative the author meant
    is the one that failed least (fewest errors) and, among those, the one whose failure lies
    deepest in the instance, as jsonschema's ``best_match`` reasons: a GIT event
    ``{"fixed": "195caac.patch"}`` matches the "fixed" alternative's shape and fails inside it
    (not a full commit hash), while the "introduced" alternative fails at the event itself
    (``'introduced' is a required property``), which is not what is wrong.
    """
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub_error in error.context:
        by_branch.setdefault(sub_error.relative_schema_path[0], []).append(sub_error)
    closest = min(
        by_branch.values(),
        key=lambda errors: (len(errors), -max(len(e.absolute_path) for e in errors)),
    )
    return [leaf for sub_error in closest for leaf in _leaves(sub_error)]


def _read(root: Path | None, packaged: str, layout: str) -> Any:
    if root is None:
        text = (
            resources.files("prereview.exchange").joinpath("schemas", packaged).read_text("utf-8")
        )
    else:
        text = (root / layout).read_text("utf-8")
    return json.loads(text)


def _cvss_registry(root: Path | None) -> Registry[Any]:
    registry: Registry[Any] = Registry()
    for version in _CVSS_VERSIONS:
        schema = _read(
            root, f"cvss-v{version}.json", f"csaf/referenced_schema/first/cvss-v{version}.json"
        )
        resource = Resource.from_contents(schema, default_specification=DRAFT7)
        # The CSAF schema refers to the plain URL; the CVSS schema's own id has a date query
        # (``id`` in the draft-04 schemas of CVSS 2.0 and 3.0, ``$id`` in 3.1's).
        own_id = schema.get("$id", schema.get("id"))
        registry = registry.with_resources(
            [(f"https://www.first.org/cvss/cvss-v{version}.json", resource), (own_id, resource)]
        )
    return registry


@cache
def schema_set(root: Path | None = None) -> SchemaSet:
    """Validators from the packaged schemas, or from a standards directory laid out as upstream."""
    osv = _read(root, _PACKAGED[Standard.OSV], _STANDARDS_LAYOUT[Standard.OSV])
    validators: dict[Standard, Validator] = {
        Standard.OSV: Draft202012Validator(osv),
        Standard.CSAF: Draft202012Validator(
            _read(root, _PACKAGED[Standard.CSAF], _STANDARDS_LAYOUT[Standard.CSAF]),
            registry=_cvss_registry(root),
        ),
        Standard.CVE5: Draft7Validator(
            _read(root, _PACKAGED[Standard.CVE5], _STANDARDS_LAYOUT[Standard.CVE5])
        ),
    }
    # Formats are not asserted, as by ``validators``; the OSV schema's patterns are plain
    # enough that Rust's regular expressions accept no string Python's would refuse.
    osv_screen = jsonschema_rs.Draft202012Validator(osv, validate_formats=False)
    return SchemaSet(validators, {Standard.OSV: osv_screen.is_valid})


def schema_problems(document: Any, standard: Standard) -> list[Problem]:
    """Every violation of the packaged schema of ``standard`` (path and message)."""
    return schema_set().problems(document, standard)


def require_valid(document: Any, standard: Standard) -> None:
    """Raise :class:`InvalidExchangeDocument` unless ``document`` satisfies its schema."""
    schema_set().require_valid(document, standard)


@cache
def _cvss_validator(version: str) -> Validator:
    schema = _read(None, f"cvss-v{version}.json", "")
    validator: Validator = validator_for(schema)(schema)
    return validator


def cvss_problems(cvss: Any, version: str) -> list[Problem]:
    """Every violation of FIRST's JSON schema of CVSS ``version`` ("2.0", "3.0" or "3.1"), by
    path inside the CVSS object (CSAF mandatory test 6.1.8)."""
    errors = _cvss_validator(version).iter_errors(cvss)
    return [Problem(path=error.json_path, message=error.message) for error in errors]
