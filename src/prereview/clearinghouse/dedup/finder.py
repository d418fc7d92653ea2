"""Likely duplicates among vulnerability reports that share no identifier.

Two reports are *candidate* duplicates when they name the same product (package key) and CWE,
and their text is near-identical or they point at the same code. An analyst confirms or rejects
each merge; this module only proposes.

How: the normalised title, description and code locations are cut into word shingles and
sketched with ``datasketch`` MinHash; one ``MinHashLSH`` index per product finds the reports
whose sketches collide. Each collision is then scored by the *overlap coefficient*
``|A∩B| / min(|A|, |B|)`` (estimated from the MinHash Jaccard and the two set sizes), which,
unlike Jaccard, does not punish a truncated report or one padded with boilerplate.

Code decides where text cannot: files and functions are taken from explicit locations and from
the text (``parse_header()``, ``src/http.c``, ``Frame::grow``, snake_case and camelCase names).
A candidate is dropped when each side names code the other does not (the same template text
about a different function is a different bug), and a report that names no code is proposed as
a duplicate of at most one of several reports whose code conflicts (see ``_exclusive``).

The index is incremental (one report at a time, as ingest sees them) and in memory; the DB
layer rebuilds it from stored reports at start-up.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

from prereview.vulnerability.report import Report

_WORD = re.compile(r"[a-z0-9_]+(?:[./:-][a-z0-9_]+)*")
_TOKEN_PUNCTUATION = "\"'`,;:!?[]{}<>*"  # noqa: S105 - characters, not a password
_SOURCE_EXTENSIONS = frozenset(
    "c h cc cpp hpp py js jsx ts tsx vue go rs java kt rb erb php twig cs swift m scala sh pl lua"  # noqa: SIM905
    " ex exs dart zig".split()
)
_PRODUCTS_NAMED_LIKE_FILES = frozenset(
    {"node.js", "vue.js", "next.js", "nuxt.js", "express.js", "react.js"}
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:::|\.|->|#)[A-Za-z_][A-Za-z0-9_]*[!?]?)*")
_CODE_MARKS = ("_", "::", "->", "#")
_QUALIFIER = re.compile(r"::|\.|->|#")


@dataclass(frozen=True)
class DedupConfig:
    """Tunable parameters of the duplicate finder.

    ``lsh_threshold`` is the Jaccard similarity the LSH bands are tuned to catch (kept low so
    that truncated and padded variants still collide); ``threshold`` is the overlap coefficient
    a collision must reach to be proposed.
    """

    num_perm: int = 128
    shingle_size: int = 2
    lsh_threshold: float = 0.3
    threshold: float = 0.5
    seed: int = 1

    def lsh_params(self) -> tuple[int, int]:
        """The (bands, rows) that datasketch chooses for ``lsh_threshold`` and ``num_perm``."""
        return _lsh_params(self.lsh_threshold, self.num_perm)


@cache
def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    # datasketch picks (bands, rows) by integrating its error curves for every choice: slow,
    # so it is done once per setting and the result handed to every per-product index.
    chooser = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(chooser.b), int(chooser.r)


@dataclass(frozen=True)
class CodeLocations:
    """Source files and functions a report points at (basenames, lower case)."""

    files: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()

    def conflicts_with(self, other: CodeLocations) -> bool:
        """Each side names a file (or a function) that the other does not: different code.

        A report that names fewer places than another (a truncated rewrite of it) does not
        conflict with it; two that each point somewhere the other does not, do.
        """
        return _each_has_its_own(self.files, other.files) or _each_has_its_own(
            self.functions, other.functions
        )

    def overlaps(self, other: CodeLocations) -> bool:
        """Both name at least one same file or function."""
        return bool(self.files & other.files or self.functions & other.functions)


def _each_has_its_own(first: frozenset[str], second: frozenset[str]) -> bool:
    return bool(first - second) and bool(second - first)


@dataclass(frozen=True)
class DuplicateCandidate:
    """A report that may be a duplicate of the one queried, with why."""

    report_id: str
    similarity: float
    jaccard: float
    same_code: bool
    packages: tuple[str, ...]
    cwes: tuple[str, ...]


@dataclass
class _Entry:
    minhash: MinHash
    size: int
    packages: frozenset[str]
    cwes: frozenset[str]
    code: CodeLocations


def normalise_text(text: str) -> str:
    """Lower-case, compatibility-folded text with punctuation other than code's removed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(folded))


def _function_names(qualified: str) -> set[str]:
    """A function as written and its last component (``Frame::allocate`` and ``allocate``)."""
    lowered = qualified.lower().rstrip("!?")
    return {lowered, _QUALIFIER.split(lowered)[-1]}


def extract_code_locations(text: str, explicit: Iterable[str] = ()) -> CodeLocations:
    """Files and functions named in ``text`` and in explicit ``path:function`` locations.

    One pass over the whitespace-separated tokens, with a regular expression only for the few
    tokens that may be code: far cheaper than scanning the whole text with several patterns.
    """
    files: set[str] = set()
    functions: set[str] = set()
    for location in explicit:
        path, _, function = location.partition(":")
        if path:
            files.add(path.rsplit("/", 1)[-1].lower())
        if function:
            functions.update(_function_names(function.strip("()")))
    for raw in text.split():
        token = raw.strip(_TOKEN_PUNCTUATION)
        if not token:
            continue
        called = token.endswith("()")
        token = token.removesuffix("()").rstrip(_TOKEN_PUNCTUATION).rstrip(".")
        base = token.rsplit("/", 1)[-1].lower()
        stem, dot, extension = base.rpartition(".")
        if dot and stem and extension in _SOURCE_EXTENSIONS:
            if base not in _PRODUCTS_NAMED_LIKE_FILES:
                files.add(base)
            continue
        if "/" in token:  # a directory or URL path: its parts are not functions
            continue
        looks_like_code = (
            called or _has_inner_capital(token) or any(m in token for m in _CODE_MARKS)
        )
        if looks_like_code and _IDENTIFIER.fullmatch(token):
            functions.update(_function_names(token))
    return CodeLocations(frozenset(files), frozenset(functions))


def _has_inner_capital(token: str) -> bool:
    """camelCase or Type.member: a capital letter after a lower-case one."""
    return (token[:1].islower() and not token.islower()) or ("." in token and token[:1].isupper())


def shingle_hashes(text: str, size: int, extra: Iterable[str] = ()) -> set[int]:
    """32-bit hashes (crc32) of the word n-grams of normalised text, each word, and ``extra``.

    Single words are included so that short texts and heavily reworded ones still share
    something; n-grams carry the word order that tells two texts on one topic apart.
    """
    words = [word.encode() for word in normalise_text(text).split()]
    hashes = set(map(zlib.crc32, words))
    if size > 1:
        grams = zip(*(words[offset:] for offset in range(size)), strict=False)
        hashes.update(map(zlib.crc32, map(b" ".join, grams)))
    hashes.update(zlib.crc32(token.encode()) for token in extra)
    return hashes


@dataclass
class DuplicateFinder:
    """An incremental index of reports that proposes likely duplicates of a new one."""

    config: DedupConfig = field(default_factory=DedupConfig)

    def __post_init__(self) -> None:
        self._params = self.config.lsh_params()
        seed_sketch = MinHash(num_perm=self.config.num_perm, seed=self.config.seed)
        self._permutations = seed_sketch.permutations
        self._scheme = seed_sketch.scheme
        self._by_package: dict[str, MinHashLSH] = {}
        self._entries: dict[str, _Entry] = {}
        # Proposed pairs, both ways, with their similarity: evidence for later decisions.
        self._links: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, report_id: object) -> bool:
        return report_id in self._entries

    def _sketch(self, hashes: set[int]) -> MinHash:
        sketch = MinHash(
            num_perm=self.config.num_perm,
            permutations=self._permutations,
            scheme=self._scheme,
            hashfunc=int,  # the shingles are hashed already; datasketch pre-mixes them (fmix)
        )
        if hashes:
            sketch.update_batch(list(hashes))
        return sketch

    def _entry(
        self, text: str, packages: Iterable[str], cwes: Iterable[str], code_locations: Iterable[str]
    ) -> _Entry:
        code = extract_code_locations(text, code_locations)
        # Code locations are shingles too: two short reports about the same function collide.
        extra = [f"file:{name}" for name in code.files] + [
            f"func:{name}" for name in code.functions
        ]
        hashes = shingle_hashes(text, self.config.shingle_size, extra)
        return _Entry(self._sketch(hashes), len(hashes), frozenset(packages), frozenset(cwes), code)

    def _candidates(self, probe: _Entry, exclude: str | None) -> list[DuplicateCandidate]:
        keys: list[str] = []
        seen: set[str] = set()
        for package in probe.packages:
            index = self._by_package.get(package)
            if index is None:
                continue
            for key in index.query(probe.minhash):
                if key in seen or key == exclude:
                    continue
                seen.add(key)
                other = self._entries[key]
                if probe.cwes and other.cwes and not probe.cwes & other.cwes:
                    continue
                if not probe.code.conflicts_with(other.code):
                    keys.append(key)
        if not keys:
            return []
        # One numpy comparison for all collisions instead of one MinHash.jaccard call each.
        stacked = np.stack([self._entries[key].minhash.hashvalues for key in keys])
        jaccards = (stacked == probe.minhash.hashvalues).mean(axis=1)
        found = [
            candidate
            for key, jaccard in zip(keys, jaccards.tolist(), strict=True)
            if (candidate := self._score(probe, key, jaccard)) is not None
        ]
        found.sort(key=lambda c: (-c.similarity, c.report_id))
        return self._exclusive(probe, found)

    def _exclusive(
        self, probe: _Entry, ranked: list[DuplicateCandidate]
    ) -> list[DuplicateCandidate]:
        """Keep a report that says too little to tell two bugs apart with one of them only.

        A candidate is dropped when its code conflicts with a better candidate's, or when it
        is already linked, more closely, to a report whose code conflicts with the probe's:
        if B is a near copy of C and C is about other code than A, B is probably not A.
        """
        kept: list[DuplicateCandidate] = []
        for candidate in ranked:
            code = self._entries[candidate.report_id].code
            if any(code.conflicts_with(self._entries[k.report_id].code) for k in kept):
                continue
            links = self._links.get(candidate.report_id, {})
            if any(
                similarity >= candidate.similarity
                and probe.code.conflicts_with(self._entries[linked].code)
                for linked, similarity in links.items()
            ):
                continue
            kept.append(candidate)
        return kept

    def _score(self, probe: _Entry, key: str, jaccard: float) -> DuplicateCandidate | None:
        other = self._entries[key]
        shared = jaccard * (probe.size + other.size) / (1.0 + jaccard)
        overlap = min(1.0, shared / max(1, min(probe.size, other.size)))
        same_code = probe.code.overlaps(other.code)
        if overlap < self.config.threshold:
            return None
        return DuplicateCandidate(
            report_id=key,
            similarity=round(overlap, 4),
            jaccard=round(jaccard, 4),
            same_code=same_code,
            packages=tuple(sorted(probe.packages & other.packages)),
            cwes=tuple(sorted(probe.cwes & other.cwes)),
        )

    def add(
        self,
        report_id: str,
        text: str,
        packages: Iterable[str],
        cwes: Iterable[str] = (),
        code_locations: Iterable[str] = (),
    ) -> list[DuplicateCandidate]:
        """Index one report and return the likely duplicates already indexed, best first."""
        if report_id in self._entries:
            raise ValueError(f"report {report_id!r} is already indexed")
        entry = self._entry(text, packages, cwes, code_locations)
        candidates = self._candidates(entry, exclude=report_id)
        self._entries[report_id] = entry
        for candidate in candidates:
            self._links.setdefault(report_id, {})[candidate.report_id] = candidate.similarity
            self._links.setdefault(candidate.report_id, {})[report_id] = candidate.similarity
        for package in entry.packages:
            index = self._by_package.get(package)
            if index is None:
                index = MinHashLSH(num_perm=self.config.num_perm, params=self._params)
                self._by_package[package] = index
            index.insert(report_id, entry.minhash, check_duplication=False)
        return candidates

    def query(
        self,
        text: str,
        packages: Iterable[str],
        cwes: Iterable[str] = (),
        code_locations: Iterable[str] = (),
    ) -> list[DuplicateCandidate]:
        """The likely duplicates of a report without indexing it."""
        return self._candidates(self._entry(text, packages, cwes, code_locations), exclude=None)

    def remove(self, report_id: str) -> None:
        """Forget a report (for example one an analyst merged into another)."""
        entry = self._entries.pop(report_id)
        for linked in self._links.pop(report_id, {}):
            self._links.get(linked, {}).pop(report_id, None)
        for package in entry.packages:
            self._by_package[package].remove(report_id)

    def add_report(self, report: Report) -> list[DuplicateCandidate]:
        """Index a domain report (title, description, code locations, products, CWEs)."""
        return self.add(
            report.id,
            report_text(report),
            report.package_keys,
            report.cwes,
            report.code_locations,
        )

    def query_report(self, report: Report) -> list[DuplicateCandidate]:
        """The likely duplicates of a domain report, without indexing it."""
        return self.query(
            report_text(report), report.package_keys, report.cwes, report.code_locations
        )


def report_text(report: Report) -> str:
    """The text of a report the duplicate finder compares (title and description)."""
    return f"{report.title}\n{report.description}"


__all__ = [
    "CodeLocations",
    "DedupConfig",
    "DuplicateCandidate",
    "DuplicateFinder",
    "extract_code_locations",
    "normalise_text",
    "report_text",
    "shingle_hashes",
]
