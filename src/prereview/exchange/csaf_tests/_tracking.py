"""Mandatory tests of the document's versions and revision history (6.1.14, 6.1.16 to 6.1.22,
6.1.30). CSAF versions are integers ("3") or semantic versions ("1.2.0-rc.1+build")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from prereview.exchange.csaf_tests._base import Document, Finding, items, mandatory, mapping

_INTEGER = re.compile(r"^(0|[1-9][0-9]*)$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_TRACKING = "$.document.tracking"


@dataclass(frozen=True)
class Version:
    """A CSAF version, integer or semantic, ordered as semantic versioning orders them."""

    text: str
    semantic: bool
    major: int
    minor: int = 0
    patch: int = 0
    pre_release: str | None = None
    build: str | None = None

    @property
    def without_build(self) -> str:
        return self.text.split("+", 1)[0]

    @property
    def released_part(self) -> str:
        return self.without_build.split("-", 1)[0] if self.semantic else self.text

    def key(self) -> tuple[Any, ...]:
        # A pre-release sorts before its release (1.0.0-rc < 1.0.0).
        pre = (
            ()
            if self.pre_release is None
            else tuple(
                (0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre_release.split(".")
            )
        )
        return (self.major, self.minor, self.patch, self.pre_release is None, pre)


def parse_version(text: Any) -> Version | None:
    if not isinstance(text, str):
        return None
    if _INTEGER.match(text):
        return Version(text, semantic=False, major=int(text))
    match = _SEMVER.match(text)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    return Version(text, True, int(major), int(minor), int(patch), pre, build)


def _tracking(document: Document) -> Mapping[str, Any]:
    return mapping(mapping(document.get("document")).get("tracking"))


def _date(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _history(document: Document) -> list[tuple[int, datetime, Version]]:
    """Revision history items (index, date, number) sorted by date, and by number among items
    of the same date (the OASIS conformance documents 6.1.14-12 and 6.1.16-16 say so)."""
    entries = []
    for index, item in enumerate(items(_tracking(document).get("revision_history"))):
        date, number = _date(mapping(item).get("date")), parse_version(mapping(item).get("number"))
        if date is not None and number is not None:
            entries.append((index, date, number))
    return sorted(entries, key=lambda entry: (entry[1], entry[2].key()))


def _status(document: Document) -> Any:
    return _tracking(document).get("status")


def _item_path(index: int) -> str:
    return f"{_TRACKING}.revision_history[{index}].number"


@mandatory("6.1.14", "Sorted Revision History")
def unsorted_history(document: Document) -> Iterator[Finding]:
    history = _history(document)
    for (_, _, before), (index, _, after) in pairwise(history):
        if after.key() < before.key():
            yield Finding(
                "6.1.14",
                _item_path(index),
                f"version {after.text} is dated after version {before.text}",
            )


@mandatory("6.1.16", "Latest Document Version")
def latest_version(document: Document) -> Iterator[Finding]:
    history, version = _history(document), parse_version(_tracking(document).get("version"))
    if not history or version is None:
        return
    latest = history[-1][2]
    if _status(document) == "draft":
        same = latest.released_part == version.released_part
    else:
        same = latest.without_build == version.without_build
    if not same:
        yield Finding(
            "6.1.16",
            f"{_TRACKING}.version",
            f"is {version.text}; the latest revision is {latest.text}",
        )


def _is_zero(version: Version) -> bool:
    return version.major == 0


@mandatory("6.1.17", "Document Status Draft")
def draft_status(document: Document) -> Iterator[Finding]:
    version = parse_version(_tracking(document).get("version"))
    if version is None or _status(document) == "draft":
        return
    if _is_zero(version) or version.pre_release is not None:
        yield Finding(
            "6.1.17",
            f"{_TRACKING}.status",
            f"version {version.text} is a draft's, but the status is {_status(document)!r}",
        )


@mandatory("6.1.18", "Released Revision History")
def released_history(document: Document) -> Iterator[Finding]:
    if _status(document) not in ("final", "interim"):
        return
    for index, _, number in _history(document):
        if _is_zero(number):
            yield Finding(
                "6.1.18",
                _item_path(index),
                f"a {_status(document)} document has the draft revision {number.text}",
            )


@mandatory("6.1.19", "Revision History Entries for Pre-release Versions")
def pre_release_history(document: Document) -> Iterator[Finding]:
    for index, _, number in _history(document):
        if number.pre_release is not None:
            yield Finding("6.1.19", _item_path(index), f"{number.text} is a pre-release")


@mandatory("6.1.20", "Non-draft Document Version")
def non_draft_version(document: Document) -> Iterator[Finding]:
    version = parse_version(_tracking(document).get("version"))
    released = _status(document) in ("final", "interim")
    if version is not None and version.pre_release is not None and released:
        yield Finding(
            "6.1.20",
            f"{_TRACKING}.version",
            f"a {_status(document)} document's version {version.text} is a pre-release",
        )


@mandatory("6.1.21", "Missing Item in Revision History")
def missing_history_item(document: Document) -> Iterator[Finding]:
    history = _history(document)
    if not history:
        return
    first_index, _, first = history[0]
    if first.major not in (0, 1):
        yield Finding("6.1.21", _item_path(first_index), f"the first version is {first.text}")
    for (_, _, before), (index, _, after) in pairwise(history):
        if after.major > before.major + 1:
            yield Finding(
                "6.1.21",
                _item_path(index),
                f"versions between {before.text} and {after.text} are missing",
            )


@mandatory("6.1.22", "Multiple Definition in Revision History")
def repeated_history_number(document: Document) -> Iterator[Finding]:
    seen: set[str] = set()
    for index, item in enumerate(items(_tracking(document).get("revision_history"))):
        number = mapping(item).get("number")
        if number in seen:
            yield Finding("6.1.22", _item_path(index), f"version {number} appears more than once")
        elif isinstance(number, str):
            seen.add(number)


@mandatory("6.1.30", "Mixed Integer and Semantic Versioning")
def mixed_versioning(document: Document) -> Iterator[Finding]:
    tracking = _tracking(document)
    numbered = [(f"{_TRACKING}.version", parse_version(tracking.get("version")))]
    numbered += [
        (_item_path(index), parse_version(mapping(item).get("number")))
        for index, item in enumerate(items(tracking.get("revision_history")))
    ]
    kinds = {version.semantic for _, version in numbered if version is not None}
    if len(kinds) > 1:
        first = next(v for _, v in numbered if v is not None)
        for path, version in numbered:
            if version is not None and version.semantic != first.semantic:
                yield Finding(
                    "6.1.30",
                    path,
                    f"{version.text} mixes integer and semantic versioning in one document",
                )
