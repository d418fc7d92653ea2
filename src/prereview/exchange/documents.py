"""Reading exchanged documents: JSON or YAML bytes into plain JSON values.

YAML loads unquoted timestamps as ``datetime`` objects; they are written back as RFC 3339 with
``Z`` so that the standards' JSON schemas (which expect strings) apply unchanged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import yaml

from prereview.core.errors import InvalidInput, MalformedJson
from prereview.core.parsing import decode_utf8, load_json, load_yaml_all
from prereview.exchange.errors import UnreadableDocument


def rfc3339(moment: datetime) -> str:
    """A timezone-aware time as RFC 3339 in UTC with a ``Z`` (what OSV's schema demands)."""
    if moment.tzinfo is None:
        raise ValueError("only timezone-aware datetimes can be exchanged")
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        raise UnreadableDocument(
            f"the time {moment.isoformat()} is out of range once converted to UTC"
        ) from None
    return in_utc.isoformat().replace("+00:00", "Z")


# Values plain_json leaves as they are, checked inline: most of a record is leaves, and one
# call per leaf was most of the time of a walk (bulk intake walks every record twice).
_LEAVES = frozenset([str, int, float, bool, type(None)])


def plain_json(value: Any) -> Any:
    """``value`` with YAML's dates and datetimes turned into strings, recursively."""
    if isinstance(value, dict):
        return {
            key if type(key) is str else str(key): item
            if type(item) in _LEAVES
            else plain_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [item if type(item) in _LEAVES else plain_json(item) for item in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:  # YAML's "2026-01-01 10:00:00" with no zone means UTC
            value = value.replace(tzinfo=UTC)
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_documents(payload: str | bytes) -> list[Any]:
    """Every document in a JSON value, a JSON array of documents, or a (multi-document) YAML.

    Untrusted input: not UTF-8, nested too deep, YAML anchors or aliases all raise a core
    ``InvalidInput`` with its own problem type (see :mod:`prereview.core.parsing`)."""
    text = decode_utf8(payload)
    stripped = text.lstrip()
    if not stripped:
        raise UnreadableDocument("the document is empty")
    if stripped[0] in "[{":
        try:
            loaded: Any = load_json(text)
        except MalformedJson as exc:
            raise UnreadableDocument(
                exc.detail, errors=[{"path": "$", "message": exc.detail}]
            ) from None
        return loaded if isinstance(loaded, list) else [loaded]
    try:
        documents: list[Any] = []
        for document in load_yaml_all(text):
            # A YAML list of records is a batch, like a JSON array.
            if isinstance(document, list):
                documents.extend(plain_json(item) for item in document)
            elif document is not None:
                documents.append(plain_json(document))
    except yaml.YAMLError as exc:
        reason = _yaml_reason(exc)
        raise UnreadableDocument(
            f"not valid JSON or YAML: {reason}", errors=[{"path": "$", "message": reason}]
        ) from None
    return documents


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """What is wrong and where, without the snippet of the document PyYAML would quote."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem or exc.context} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def load_json_lines(payload: str | bytes) -> list[tuple[int, Any | InvalidInput]]:
    """Each non-blank line of JSON Lines parsed, or the error that line gives; 1-based numbers.

    A payload that is not UTF-8 raises as a whole; a line nested too deep fails alone."""
    text = decode_utf8(payload)
    items: list[tuple[int, Any | InvalidInput]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, load_json(line)))
        except MalformedJson as exc:
            items.append((number, UnreadableDocument(f"line {number}: {exc.detail}")))
        except InvalidInput as exc:  # nested too deep, a lone surrogate: its own type
            items.append((number, exc))
    return items
