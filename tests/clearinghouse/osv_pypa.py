"""The real PyPA advisories shipped in ``tests/data/osv-pypa`` and what their source says.

Everything expected here is computed from the files themselves, never written down by hand:
the records, their alias groups by the rule of
:class:`~prereview.clearinghouse.dedup.aliases.AliasStatements`, and which versions are older.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from prereview.exchange.documents import load_documents

DATA = Path(__file__).parents[1] / "data" / "osv-pypa"
# The records the schema rightly refuses: a GIT range event that is not a full commit hash.
_GIT_COMMIT = re.compile(r"^(0|[a-f0-9]{40}|[a-f0-9]{64})$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")


def _load(path: Path) -> dict[str, Any]:
    (document,) = load_documents(path.read_bytes())
    assert isinstance(document, dict)
    return document


@cache
def current_files() -> tuple[Path, ...]:
    return tuple(sorted((DATA / "vulns").rglob("*.yaml")))


@cache
def history_files() -> tuple[Path, ...]:
    return tuple(sorted((DATA / "history").rglob("*.yaml")))


@cache
def records() -> dict[str, dict[str, Any]]:
    """Every current record by id."""
    return {doc["id"]: doc for doc in map(_load, current_files())}


def bad_git_event(record: dict[str, Any]) -> bool:
    return any(
        not _GIT_COMMIT.match(value)
        for affected in record.get("affected") or []
        for version_range in affected.get("ranges") or []
        if version_range["type"] == "GIT"
        for event in version_range["events"]
        for value in event.values()
    )


def valid() -> dict[str, dict[str, Any]]:
    """The current records the clearinghouse must keep (all but the schema-invalid ones)."""
    return {rid: doc for rid, doc in records().items() if not bad_git_event(doc)}


def aliases_of(record: dict[str, Any]) -> list[str]:
    """A record's aliases that are ids (a malformed one links nothing)."""
    return [a for a in record.get("aliases") or [] if _ID.match(a) and a != record["id"]]


def expected_groups(kept: dict[str, dict[str, Any]]) -> dict[str, frozenset[str]]:
    """Each name's alias group as the source states it: the names of every record whose own
    statement (its id and aliases) includes the name; no chains."""
    statements = {rid: {rid, *aliases_of(doc)} for rid, doc in kept.items()}
    stating: dict[str, set[str]] = defaultdict(set)
    for rid, names in statements.items():
        for name in names:
            stating[name].add(rid)
    return {
        name: frozenset(n for rid in sources for n in statements[rid])
        for name, sources in stating.items()
    }


def modified(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["modified"])


def history() -> list[dict[str, Any]]:
    """The earlier versions (from the database's git history) of some current records."""
    return [_load(path) for path in history_files()]


def yaml_stream(paths: tuple[Path, ...] | list[Path]) -> bytes:
    """The files as one multi-document YAML payload, unchanged."""
    return b"\n---\n".join(path.read_bytes().rstrip(b"\n") for path in paths) + b"\n"
