"""The JSON Schema of the participation predicate, shipped in the package, and its check."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = "participation-v1.schema.json"


@functools.cache
def predicate_schema() -> dict[str, Any]:
    """The schema (``schemas/participation-v1.schema.json``), read once."""
    text = resources.files("prereview.attestation").joinpath("schemas", SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(
        predicate_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(predicate: Any) -> list[str]:
    """Each way ``predicate`` breaks the schema, as ``path: message``; empty when it is valid."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in _validator().iter_errors(predicate)
    ]
