"""The task cache: the pinned releases the real-vulnerability tasks are built from.

``cache.toml`` (next to this module) lists every release by name, version, file name,
size, sha256 and URL. ``fetch`` downloads what is missing into the cache directory
(``var/task-cache/`` of the checkout, or ``$PREREVIEW_TASK_CACHE``), checking each hash
before the file is kept; ``verify`` re-hashes the whole cache. The tasks only ever read
from the cache, through :func:`release_bytes`, which checks the hash again and names the
make target when a file is missing: nothing downloads at run time. The releases are
never installed into the platform's environment: their code is unpacked only into a
sample's sandbox.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("cache.toml")
MAKE_TARGET = "make task-cache"
_CHECKOUT = Path(__file__).resolve().parents[4]
_TIMEOUT = 60


class CacheError(RuntimeError):
    """A release is missing from the task cache or does not match its pinned hash."""


@dataclass(frozen=True)
class Release:
    """One pinned release file of the task cache."""

    name: str
    version: str
    filename: str
    size: int
    sha256: str
    url: str

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}"


def cache_dir() -> Path:
    """Where the cached files live."""
    override = os.environ.get("PREREVIEW_TASK_CACHE")
    return Path(override) if override else _CHECKOUT / "var" / "task-cache"


def releases(manifest: Path = MANIFEST) -> dict[str, Release]:
    """Every release of the manifest, by ``name==version``."""
    data = tomllib.loads(manifest.read_text())
    found = [Release(**entry) for entry in data["release"]]
    return {r.key: r for r in found}


def release(name: str, version: str) -> Release:
    """The pinned release ``name==version`` (KeyError if the manifest lacks it)."""
    return releases()[f"{name}=={version}"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def check(entry: Release, directory: Path | None = None) -> str | None:
    """None when the cached file is present with its pinned hash, else what is wrong."""
    path = (directory or cache_dir()) / entry.filename
    if not path.is_file():
        return f"{entry.filename}: missing"
    actual = _sha256(path)
    if actual != entry.sha256:
        return f"{entry.filename}: sha256 {actual}, pinned {entry.sha256}"
    return None


def verify(directory: Path | None = None, manifest: Path = MANIFEST) -> list[str]:
    """Every problem with the cache (empty when each release is present and intact)."""
    problems = [check(r, directory) for r in releases(manifest).values()]
    return [p for p in problems if p is not None]


def fetch(directory: Path | None = None, manifest: Path = MANIFEST) -> list[str]:
    """Download each release that is missing or wrong; returns the files it downloaded.

    A download is written to a temporary name and kept only if its sha256 matches the pin."""
    target = directory or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    fetched = []
    for entry in releases(manifest).values():
        if check(entry, target) is None:
            continue
        if not entry.url.startswith("https://"):
            raise CacheError(f"{entry.key}: only https URLs are fetched, not {entry.url}")
        partial = target / (entry.filename + ".part")
        with urllib.request.urlopen(entry.url, timeout=_TIMEOUT) as answer:  # noqa: S310
            partial.write_bytes(answer.read(entry.size + 1))
        actual = _sha256(partial)
        if actual != entry.sha256:
            partial.unlink()
            raise CacheError(f"{entry.key}: downloaded sha256 {actual}, pinned {entry.sha256}")
        partial.replace(target / entry.filename)
        fetched.append(entry.filename)
    return fetched


def release_bytes(name: str, version: str) -> bytes:
    """The cached file of ``name==version``, checked against its pin."""
    entry = release(name, version)
    problem = check(entry)
    if problem is not None:
        raise CacheError(f"task cache: {problem} (in {cache_dir()}); run `{MAKE_TARGET}`")
    return (cache_dir() / entry.filename).read_bytes()
