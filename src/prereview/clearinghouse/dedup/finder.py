"""Likely duplicates among vulnerability reports: pairs joined on their own evidence only.

Measured on real advisories (``benchmarks/dedup_real.py``), near-identical text inside one
package is the normal case (templated advisories), not evidence. So a pair of reports about
the same product (package key) is proposed only on evidence of its own (see :mod:`.evidence`):

- ``identifier``: they share a name (one names the other, or both name one CVE/GHSA id);
- ``fix``: they name the same fix commit or ``FIX`` reference;
- ``ranges_and_text``: both state the same affected version ranges and their text is
  near-identical (``strict_threshold``), the case of a report re-sent without its ids;
- ``code_and_text``: both point at the same code (a file or function) and their text is
  similar (``threshold``), the case of model-found reports without identifiers.

and never when each names a CVE id the other does not, when each is fixed by its own commit,
when their affected ranges, CWEs or code differ. A pair is judged on the two reports alone:
a report is never proposed because it resembles a third that resembles the new one, so
proposals never chain (A~B and B~C never make A~C).

How text is compared: the normalised title, description and code locations (vulnerability ids
taken out: they are names, compared as such) are cut into word shingles and sketched with
``datasketch`` MinHash; one LSH index per product (:class:`_Bands`, the banding of
``MinHashLSH``) finds the reports whose sketches collide, and an index of names and fix
commits finds the rest. Each candidate is scored by the *overlap coefficient*
``|A∩B| / min(|A|, |B|)`` (estimated from the MinHash Jaccard and the two set sizes), which,
unlike Jaccard, does not punish a truncated report or one padded with boilerplate.

Code decides where text cannot: files and functions are taken from explicit locations and from
the text (``parse_header()``, ``src/http.c``, ``Frame::grow``, snake_case and camelCase names).
A candidate is dropped when each side names code the other does not (the same template text
about a different function is a different bug), and a text match is proposed as a duplicate
of at most one of several reports whose code conflicts (see ``_exclusive``).

The index is incremental (one report at a time, as ingest sees them) and in memory; the DB
layer rebuilds it from stored reports at start-up.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache

import numpy as np
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

from prereview.clearinghouse.dedup.evidence import (
    Evidence,
    evidence_of_report,
    strip_vulnerability_ids,
)
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
    two reports about the same code must reach, ``strict_threshold`` the one two reports with
    the same affected ranges and no shared code must reach (a copy, not a template sibling).
    """

    num_perm: int = 128
    shingle_size: int = 2
    lsh_threshold: float = 0.3
    threshold: float = 0.5
    strict_threshold: float = 0.9
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
    # What joins the pair: identifier, fix, ranges_and_text or code_and_text (see the module).
    evidence: str = "code_and_text"


@dataclass
class _Entry:
    minhash: MinHash
    # The sketch cut into LSH bands (bytes of ``rows`` hash values each), worked out once.
    bands: tuple[bytes, ...]
    size: int
    packages: frozenset[str]
    cwes: frozenset[str]
    code: CodeLocations
    stated: Evidence


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

    One pass over the distinct whitespace-separated tokens (the result is a set: a repeated
    word says nothing new), each classified once per process (:func:`_code_in_token`): the
    words of advisories repeat from one record to the next, so most tokens are a cache hit.
    """
    files: set[str] = set()
    functions: set[str] = set()
    for location in explicit:
        path, _, function = location.partition(":")
        if path:
            files.add(path.rsplit("/", 1)[-1].lower())
        if function:
            functions.update(_function_names(function.strip("()")))
    for raw in set(text.split()):
        # Long tokens (a URL, a pasted blob) are classified without the cache: they rarely
        # repeat, and caching them would let a payload pin megabytes in every process.
        found = _cached_code_in_token(raw) if len(raw) <= _CACHED_TOKEN else _code_in_token(raw)
        if found is not None:
            name, is_file = found
            if is_file:
                files.add(name)
            else:
                functions.update(_function_names(name))
    return CodeLocations(frozenset(files), frozenset(functions))


def _code_in_token(raw: str) -> tuple[str, bool] | None:
    """The file (``(basename, True)``) or function (``(token, False)``) one token names."""
    token = raw.strip(_TOKEN_PUNCTUATION)
    if not token:
        return None
    called = token.endswith("()")
    token = token.removesuffix("()").rstrip(_TOKEN_PUNCTUATION).rstrip(".")
    base = token.rsplit("/", 1)[-1].lower()
    stem, dot, extension = base.rpartition(".")
    if dot and stem and extension in _SOURCE_EXTENSIONS:
        return None if base in _PRODUCTS_NAMED_LIKE_FILES else (base, True)
    if "/" in token:  # a directory or URL path: its parts are not functions
        return None
    looks_like_code = called or _has_inner_capital(token) or any(m in token for m in _CODE_MARKS)
    if looks_like_code and _IDENTIFIER.fullmatch(token):
        return token, False
    return None


_CACHED_TOKEN = 64
_cached_code_in_token = lru_cache(maxsize=1 << 16)(_code_in_token)


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


_STATED = frozenset({"identifier"})


def _bands_of(sketch: MinHash, bands: int, rows: int) -> tuple[bytes, ...]:
    """The sketch's LSH bands: ``bands`` runs of ``rows`` hash values, as bytes (the ranges
    ``MinHashLSH`` hashes; bytes are as exact a key as its hash of them, and one
    ``tobytes`` and slicing cost less than its per-band byte swap and copy)."""
    raw = sketch.hashvalues.tobytes()
    width = rows * sketch.hashvalues.itemsize
    return tuple(raw[band * width : (band + 1) * width] for band in range(bands))


class _Bands:
    """One product's LSH index: the reports whose sketch has a band, band by band.

    What ``datasketch.MinHashLSH`` does (two sketches collide when one band is equal) for
    sketches cut into bands once (:func:`_bands_of`), without its per-call checks and
    conversions, which cost more than the look-ups at intake's rate. A band held by one
    report (most are) maps to its id, not to a set: ids are not tracked by the garbage
    collector, sets are, and a set per band of every report made each full collection scan
    hundreds of thousands of them."""

    def __init__(self, bands: int) -> None:
        self._tables: list[dict[bytes, str | set[str]]] = [{} for _ in range(bands)]

    def insert(self, key: str, bands: tuple[bytes, ...]) -> None:
        for table, band in zip(self._tables, bands, strict=True):
            holders = table.get(band)
            if holders is None:
                table[band] = key
            elif isinstance(holders, str):
                table[band] = {holders, key}
            else:
                holders.add(key)

    def collect(self, bands: tuple[bytes, ...], found: set[str]) -> None:
        """Add to ``found`` every report that shares a band with ``bands``."""
        for table, band in zip(self._tables, bands, strict=True):
            holders = table.get(band)
            if holders is None:
                continue
            if isinstance(holders, str):
                found.add(holders)
            else:
                found.update(holders)

    def remove(self, key: str, bands: tuple[bytes, ...]) -> None:
        for table, band in zip(self._tables, bands, strict=True):
            holders = table.get(band)
            if holders == key:
                del table[band]
            elif isinstance(holders, set):
                holders.discard(key)
                if len(holders) == 1:
                    table[band] = holders.pop()


@dataclass
class DuplicateFinder:
    """An incremental index of reports that proposes likely duplicates of a new one."""

    config: DedupConfig = field(default_factory=DedupConfig)

    def __post_init__(self) -> None:
        self._params = self.config.lsh_params()
        seed_sketch = MinHash(num_perm=self.config.num_perm, seed=self.config.seed)
        self._permutations = seed_sketch.permutations
        self._scheme = seed_sketch.scheme
        self._by_package: dict[str, _Bands] = {}
        self._entries: dict[str, _Entry] = {}
        # Names and fix commits -> the reports stating them: candidates that text may not find.
        self._by_name: dict[str, set[str]] = {}
        self._by_fix: dict[str, set[str]] = {}
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
        self,
        text: str,
        packages: Iterable[str],
        cwes: Iterable[str],
        code_locations: Iterable[str],
        stated: Evidence | None,
    ) -> _Entry:
        text = strip_vulnerability_ids(text)
        code = extract_code_locations(text, code_locations)
        # Code locations are shingles too: two short reports about the same function collide.
        extra = [f"file:{name}" for name in code.files] + [
            f"func:{name}" for name in code.functions
        ]
        hashes = shingle_hashes(text, self.config.shingle_size, extra)
        sketch = self._sketch(hashes)
        return _Entry(
            sketch,
            _bands_of(sketch, *self._params),
            len(hashes),
            frozenset(packages),
            frozenset(cwes),
            code,
            stated or Evidence(),
        )

    def _colliding(self, probe: _Entry, exclude: str | None) -> list[str]:
        """Reports about a product of the probe's whose text, names or fixes it may share,
        less those that name other CVE ids than the probe (never a duplicate, whatever their
        text: :meth:`_judge` refuses them first, so they are not scored at all). In no
        particular order: the candidates are ranked by similarity and id."""
        found: set[str] = set()
        for package in probe.packages:
            index = self._by_package.get(package)
            if index is not None:
                index.collect(probe.bands, found)
        for name in probe.stated.names:
            found.update(self._by_name.get(name, ()))
        for fix in probe.stated.commits | probe.stated.fix_urls:
            found.update(self._by_fix.get(fix, ()))
        found.discard(exclude or "")
        entries, packages, cves = self._entries, probe.packages, probe.stated.cves
        return [
            key
            for key in found
            if not entries[key].packages.isdisjoint(packages)
            and not (
                cves and entries[key].stated.cves and cves.isdisjoint(entries[key].stated.cves)
            )
        ]

    def _candidates(self, probe: _Entry, exclude: str | None) -> list[DuplicateCandidate]:
        keys = self._colliding(probe, exclude)
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
        # Stated evidence stands on its own; text matches are kept apart from code conflicts.
        stated = [c for c in found if c.evidence in _STATED]
        by_text = self._exclusive(probe, [c for c in found if c.evidence not in _STATED])
        return sorted(stated + by_text, key=lambda c: (-c.similarity, c.report_id))

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
        evidence = self._judge(probe, other, overlap, same_code)
        if evidence is None:
            return None
        return DuplicateCandidate(
            report_id=key,
            similarity=round(overlap, 4),
            jaccard=round(jaccard, 4),
            same_code=same_code,
            packages=tuple(sorted(probe.packages & other.packages)),
            cwes=tuple(sorted(probe.cwes & other.cwes)),
            evidence=evidence,
        )

    def _judge(self, probe: _Entry, other: _Entry, overlap: float, same_code: bool) -> str | None:
        """The evidence of their own that two reports about one product are one bug, if any.

        The order matters: distinct CVE ids outweigh everything, a shared name everything else;
        text counts only beside the same fix, the same affected ranges (near-identical text)
        or the same code, and never across different fixes, ranges, CWEs or code.
        """
        mine, theirs = probe.stated, other.stated
        if mine.distinct_from(theirs) is not None:
            return None
        if mine.names & theirs.names:
            return "identifier"
        if mine.fixed_apart(theirs) or mine.ranges_differ(theirs):
            return None
        if probe.cwes and other.cwes and not probe.cwes & other.cwes:
            return None
        if probe.code.conflicts_with(other.code):
            return None
        # One commit often fixes several bugs of a release (typed-ast, TensorFlow): a shared
        # fix joins two reports only if their text is about the same thing too.
        if mine.same_fix(theirs) and overlap >= self.config.strict_threshold:
            return "fix"
        same_ranges = bool(mine.ranges) and mine.ranges == theirs.ranges
        if same_ranges and overlap >= self.config.strict_threshold:
            return "ranges_and_text"
        if same_code and overlap >= self.config.threshold:
            return "code_and_text"
        return None

    def add(
        self,
        report_id: str,
        text: str,
        packages: Iterable[str],
        cwes: Iterable[str] = (),
        code_locations: Iterable[str] = (),
        evidence: Evidence | None = None,
    ) -> list[DuplicateCandidate]:
        """Index one report and return the likely duplicates already indexed, best first.

        ``evidence`` is what the report states (names, ranges, fixes); without it, only text
        and code can join it to another report.
        """
        if report_id in self._entries:
            raise ValueError(f"report {report_id!r} is already indexed")
        entry = self._entry(text, packages, cwes, code_locations, evidence)
        candidates = self._candidates(entry, exclude=report_id)
        self._entries[report_id] = entry
        for name in entry.stated.names:
            self._by_name.setdefault(name, set()).add(report_id)
        for fix in entry.stated.commits | entry.stated.fix_urls:
            self._by_fix.setdefault(fix, set()).add(report_id)
        for candidate in candidates:
            self._links.setdefault(report_id, {})[candidate.report_id] = candidate.similarity
            self._links.setdefault(candidate.report_id, {})[report_id] = candidate.similarity
        for package in entry.packages:
            index = self._by_package.get(package)
            if index is None:
                index = _Bands(self._params[0])
                self._by_package[package] = index
            index.insert(report_id, entry.bands)
        return candidates

    def query(
        self,
        text: str,
        packages: Iterable[str],
        cwes: Iterable[str] = (),
        code_locations: Iterable[str] = (),
        evidence: Evidence | None = None,
    ) -> list[DuplicateCandidate]:
        """The likely duplicates of a report without indexing it."""
        entry = self._entry(text, packages, cwes, code_locations, evidence)
        return self._candidates(entry, exclude=None)

    def remove(self, report_id: str) -> None:
        """Forget a report (for example one an analyst merged into another)."""
        entry = self._entries.pop(report_id)
        for linked in self._links.pop(report_id, {}):
            self._links.get(linked, {}).pop(report_id, None)
        for package in entry.packages:
            self._by_package[package].remove(report_id, entry.bands)
        for name in entry.stated.names:
            self._forget(self._by_name, name, report_id)
        for fix in entry.stated.commits | entry.stated.fix_urls:
            self._forget(self._by_fix, fix, report_id)

    @staticmethod
    def _forget(index: dict[str, set[str]], key: str, report_id: str) -> None:
        holders = index.get(key)
        if holders is not None:
            holders.discard(report_id)
            if not holders:
                del index[key]

    def add_report(self, report: Report) -> list[DuplicateCandidate]:
        """Index a domain report (title, description, code locations, products, CWEs, and
        the ids, ranges and fixes it states)."""
        return self.add(
            report.id,
            report_text(report),
            report.package_keys,
            report.cwes,
            report.code_locations,
            evidence_of_report(report),
        )

    def query_report(self, report: Report) -> list[DuplicateCandidate]:
        """The likely duplicates of a domain report, without indexing it."""
        return self.query(
            report_text(report),
            report.package_keys,
            report.cwes,
            report.code_locations,
            evidence_of_report(report),
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
