"""Reading exchanged documents: JSON or YAML bytes into plain JSON values.

YAML loads unquoted timestamps as ``datetime`` objects; they are written back as RFC 3339 with
``Z`` so that the standards' JSON schemas (which expect strings) apply unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import yaml

from prereview.exchange.errors import UnreadableDocument


def rfc3339(moment: datetime) -> str:
    """A timezone-aware time as RFC 3339 in UTC with a ``Z`` (what OSV's schema demands)."""
    if moment.tzinfo is None:
        raise ValueError("only timezone-aware datetimes can be exchanged")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plain_json(value: Any) -> Any:
    """``value`` with YAML's dates and datetimes turned into strings, recursively."""
    if isinstance(value, dict):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:  # YAML's "2026-01-01 10:00:00" with no zone means UTC
            value = value.replace(tzinfo=UTC)
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_documents(payload: str | bytes) -> list[Any]:
    """Every document in a JSON value, a JSON array of documents, or a (multi-document) YAML."""
    text = payload.decode("utf-8-sig") if isinstance(payload, bytes) else payload
    stripped = text.lstrip()
    if not stripped:
        raise UnreadableDocument("the document is empty")
    if stripped[0] in "[{":
        try:
            loaded: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableDocument(
                f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                errors=[
                    {"path": "$", "message": f"{exc.msg} (line {exc.lineno}, column {exc.colno})"}
                ],
            ) from exc
        return loaded if isinstance(loaded, list) else [loaded]
    try:
        documents: list[Any] = []
        for document in yaml.safe_load_all(text):
            # A YAML list of records is a batch, like a JSON array.
            if isinstance(document, list):
                documents.extend(plain_json(item) for item in document)
            elif document is not None:
                documents.append(plain_json(document))
    except yaml.YAMLError as exc:
        raise UnreadableDocument(
            f"not valid JSON or YAML: {exc}", errors=[{"path": "$", "message": str(exc)}]
        ) from exc
    return documents


def load_json_lines(payload: str | bytes) -> list[tuple[int, Any | UnreadableDocument]]:
    """Each non-blank line of JSON Lines parsed, or the error that line gives; 1-based numbers."""
    text = payload.decode("utf-8-sig") if isinstance(payload, bytes) else payload
    items: list[tuple[int, Any | UnreadableDocument]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            items.append(
                (number, UnreadableDocument(f"line {number} is not valid JSON: {exc.msg}"))
            )
    return items
