"""Mandatory tests of the document's languages (6.1.12, 6.1.15, 6.1.28): BCP 47 tags whose
subtags exist in the IANA Language Subtag Registry (a copy in ``exchange/data``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from prereview.exchange.csaf_tests._base import Document, Finding, mandatory, mapping

_ALNUM = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class _Registry:
    subtags: dict[str, frozenset[str]]
    ranges: dict[str, list[tuple[str, str]]]
    whole_tags: frozenset[str]  # grandfathered and redundant tags, valid as a whole

    def has(self, kind: str, subtag: str) -> bool:
        return subtag in self.subtags[kind] or any(
            low <= subtag <= high and len(subtag) == len(low) for low, high in self.ranges[kind]
        )


@cache
def _registry() -> _Registry:
    text = resources.files("prereview.exchange").joinpath("data", "bcp47_subtags.json")
    data = json.loads(text.read_text("utf-8"))
    kinds = ("language", "extlang", "script", "region", "variant")
    ranges: dict[str, list[tuple[str, str]]] = {kind: [] for kind in kinds}
    for kind, spans in data["ranges"].items():
        ranges[kind] = [(low, high) for low, high in spans]
    ranges["script"].append(("qaaa", "qabx"))  # private use, a range the lookup leaves out
    return _Registry(
        {kind: frozenset(data[kind]) for kind in kinds},
        ranges,
        frozenset(data["grandfathered"]) | frozenset(data["redundant"]),
    )


def language_problem(tag: str) -> str | None:
    """Why ``tag`` is not a valid BCP 47 language tag of registered subtags, or None."""
    registry = _registry()
    lowered = tag.lower()
    if lowered in registry.whole_tags:
        return None
    parts = lowered.split("-")
    if parts[0] == "x":
        return None if len(parts) > 1 and all(_private(p) for p in parts[1:]) else "bad private use"
    language = parts.pop(0)
    if not (language.isalpha() and 2 <= len(language) <= 8 and len(language) != 4):
        return f"{language!r} is not a language subtag"
    if not registry.has("language", language):
        return f"the language {language!r} does not exist"
    extlangs = 0
    while parts and len(parts[0]) == 3 and parts[0].isalpha() and extlangs < 3:
        if not registry.has("extlang", parts[0]):
            return f"the extended language {parts[0]!r} does not exist"
        parts.pop(0)
        extlangs += 1
    if parts and len(parts[0]) == 4 and parts[0].isalpha():
        if not registry.has("script", parts[0]):
            return f"the script {parts[0]!r} does not exist"
        parts.pop(0)
    if parts and (
        (len(parts[0]) == 2 and parts[0].isalpha()) or (len(parts[0]) == 3 and parts[0].isdigit())
    ):
        if not registry.has("region", parts[0]):
            return f"the region {parts[0]!r} does not exist"
        parts.pop(0)
    variants: set[str] = set()
    while parts and _is_variant(parts[0]):
        if not registry.has("variant", parts[0]) or parts[0] in variants:
            return f"the variant {parts[0]!r} does not exist or repeats"
        variants.add(parts.pop(0))
    return _extensions_problem(parts)


def _is_variant(part: str) -> bool:
    return bool(_ALNUM.match(part)) and (
        5 <= len(part) <= 8 or (len(part) == 4 and part[0].isdigit())
    )


def _private(part: str) -> bool:
    return bool(_ALNUM.match(part)) and 1 <= len(part) <= 8


def _extensions_problem(parts: list[str]) -> str | None:
    singletons: set[str] = set()
    while parts:
        singleton = parts.pop(0)
        if singleton == "x":
            return None if parts and all(_private(p) for p in parts) else "bad private use"
        if len(singleton) != 1 or not _ALNUM.match(singleton) or singleton in singletons:
            return f"unexpected subtag {singleton!r}"
        singletons.add(singleton)
        count = 0
        while parts and len(parts[0]) > 1:
            if not (_ALNUM.match(parts[0]) and 2 <= len(parts[0]) <= 8):
                return f"bad extension subtag {parts[0]!r}"
            parts.pop(0)
            count += 1
        if count == 0:
            return f"the extension {singleton!r} is empty"
    return None


@mandatory("6.1.12", "Language")
def invalid_language(document: Document) -> Iterator[Finding]:
    meta = mapping(document.get("document"))
    for key in ("lang", "source_lang"):
        tag = meta.get(key)
        if isinstance(tag, str):
            problem = language_problem(tag)
            if problem is not None:
                yield Finding("6.1.12", f"$.document.{key}", f"{tag!r}: {problem}")


@mandatory("6.1.15", "Translator")
def translator_without_source(document: Document) -> Iterator[Finding]:
    meta = mapping(document.get("document"))
    if mapping(meta.get("publisher")).get("category") == "translator" and not meta.get(
        "source_lang"
    ):
        yield Finding(
            "6.1.15", "$.document.source_lang", "a translator's document needs its source_lang"
        )


@mandatory("6.1.28", "Translation")
def translation_into_itself(document: Document) -> Iterator[Finding]:
    meta = mapping(document.get("document"))
    lang, source = meta.get("lang"), meta.get("source_lang")
    if isinstance(lang, str) and isinstance(source, str) and lang.lower() == source.lower():
        yield Finding(
            "6.1.28", "$.document.source_lang", f"the source language is the language {lang!r}"
        )
