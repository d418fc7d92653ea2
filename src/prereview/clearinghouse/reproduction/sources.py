"""Where a proof of concept's package release comes from: offline, pinned, never downloaded.

Two sources, both lists of files pinned by sha256: the realworld task cache
(``var/task-cache``, pinned by ``cache.toml``, filled by ``make task-cache``) and the folder the
``reproduction_artefact_dir`` setting names, whose ``pins.toml`` lists its files in the same
shape. A release neither holds, or whose file does not match its pin, is *not available
offline*: the run is recorded as such, never fetched.

A release is installed only inside the sandbox, as the files of its importable packages (a
wheel's files, or the top-level packages of an sdist's pure-Python tree) under a folder put
first on the PoC's ``sys.path``; an npm release (the registry's ``.tgz``) as its package's
files under ``node_modules/<name>``. Nothing of it is unpacked on the host's disk.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prereview.evals.realworld import cache as task_cache

PINS_FILE = "pins.toml"
NPM_REGISTRY = "https://registry.npmjs.org/"
MAX_TREE_BYTES = 16 * 1024 * 1024
MAX_ARTEFACT_BYTES = 64 * 1024 * 1024
# Folders of an sdist that hold no code the package installs.
_NOT_INSTALLED = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "build"}
# Where an sdist keeps the package a Python 3 install gets: PyYAML's lib3 before its lib.
_PREFERRED_ROOTS = ("lib3", "src", "", "lib")


class NotAvailable(Exception):
    """The release is not available offline (or not installable here); says which and why."""


@dataclass(frozen=True)
class Artefact:
    """One pinned release file, checked against its pin when read."""

    name: str
    version: str
    filename: str
    sha256: str
    origin: str
    data: bytes
    ecosystem: str = "PyPI"


def normalise(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pins(directory: Path) -> list[dict[str, object]]:
    pins = directory / PINS_FILE
    if not pins.is_file():
        return []
    entries = tomllib.loads(pins.read_text()).get("release", [])
    return [entry for entry in entries if isinstance(entry, dict)]


def _read_pinned(path: Path, sha256: str, what: str) -> bytes:
    if not path.is_file():
        raise NotAvailable(f"{what}: {path.name} is pinned but missing from {path.parent}")
    if path.stat().st_size > MAX_ARTEFACT_BYTES:
        raise NotAvailable(f"{what}: {path.name} is larger than {MAX_ARTEFACT_BYTES} bytes")
    data = path.read_bytes()
    if _sha256(data) != sha256:
        raise NotAvailable(f"{what}: {path.name} does not match its pinned sha256")
    return data


def find(name: str, version: str, artefact_dir: Path | None, ecosystem: str = "PyPI") -> Artefact:
    """The pinned file of ``name`` ``version`` (of ``ecosystem``: ``PyPI`` or ``npm``), from
    the task cache or the artefact folder; ``NotAvailable`` when neither holds it intact."""
    wanted = normalise(name) if ecosystem == "PyPI" else name
    what = f"{name} {version}"
    for entry in task_cache.releases().values():
        entry_ecosystem = "npm" if entry.url.startswith(NPM_REGISTRY) else "PyPI"
        entry_name = normalise(entry.name) if ecosystem == "PyPI" else entry.name
        if entry_ecosystem == ecosystem and entry_name == wanted and entry.version == version:
            directory = task_cache.cache_dir()
            data = _read_pinned(directory / entry.filename, entry.sha256, what)
            return Artefact(
                entry.name, version, entry.filename, entry.sha256, "task-cache", data, ecosystem
            )
    if artefact_dir is not None:
        for pin in _pins(artefact_dir):
            if str(pin.get("ecosystem", "PyPI")) != ecosystem:
                continue
            pinned = str(pin.get("name", ""))
            if (normalise(pinned) if ecosystem == "PyPI" else pinned) != wanted:
                continue
            if str(pin.get("version")) != version:
                continue
            filename, sha256 = str(pin.get("filename", "")), str(pin.get("sha256", ""))
            if PurePosixPath(filename).name != filename or not filename:
                raise NotAvailable(f"{what}: the pin names {filename!r}, not a file name")
            data = _read_pinned(artefact_dir / filename, sha256, what)
            return Artefact(name, version, filename, sha256, "artefacts", data, ecosystem)
    raise NotAvailable(f"{what} is not available offline (not in the task cache nor the pins)")


def install_tree(artefact: Artefact) -> dict[str, bytes]:
    """The files to put on the PoC's ``sys.path`` (or, for npm, in its ``node_modules``), by
    path relative to that folder."""
    if artefact.ecosystem == "npm":
        return _npm_tree(artefact)
    if artefact.filename.endswith(".whl"):
        return _wheel_tree(artefact)
    if artefact.filename.endswith((".tar.gz", ".tgz")):
        return _sdist_tree(artefact)
    raise NotAvailable(f"{artefact.filename}: neither a wheel nor a gzipped sdist")


def _safe(name: str, what: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise NotAvailable(f"{what}: unsafe member name {name!r}")
    return path


def _wheel_tree(artefact: Artefact) -> dict[str, bytes]:
    tree: dict[str, bytes] = {}
    total = 0
    with zipfile.ZipFile(io.BytesIO(artefact.data)) as wheel:
        for info in wheel.infolist():
            if info.is_dir():
                continue
            path = _safe(info.filename, artefact.filename)
            if path.parts[0].endswith(".data"):
                continue  # scripts and headers: not importable
            total += info.file_size
            if total > MAX_TREE_BYTES:
                raise NotAvailable(f"{artefact.filename} unpacks to more than {MAX_TREE_BYTES}")
            tree[str(path)] = wheel.read(info)
    return tree


def _sdist_tree(artefact: Artefact) -> dict[str, bytes]:
    files: dict[PurePosixPath, bytes] = {}
    total = 0
    with tarfile.open(fileobj=io.BytesIO(artefact.data), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = _safe(member.name, artefact.filename)
            if not member.isfile() or len(path.parts) < 2:
                continue
            relative = PurePosixPath(*path.parts[1:])  # under the sdist's top folder
            if relative.suffix not in {".py", ".pyi", ".typed", ".json", ".txt", ".cfg"}:
                continue
            if "__pycache__" in relative.parts or _NOT_INSTALLED & set(relative.parts[:-1]):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            files[relative] = data = handle.read()
            total += len(data)
            if total > MAX_TREE_BYTES:
                raise NotAvailable(f"{artefact.filename} holds more than {MAX_TREE_BYTES}")
    return _top_level_packages(files, artefact.filename)


def _npm_tree(artefact: Artefact) -> dict[str, bytes]:
    """An npm tarball's files (under its one top folder, ``package/``) as
    ``<name>/<path>``: the package as ``require`` finds it in ``node_modules``."""
    if "/" in artefact.name or artefact.name.startswith("."):
        raise NotAvailable(f"{artefact.name}: scoped or hidden npm names are not installed here")
    tree: dict[str, bytes] = {}
    total = 0
    with tarfile.open(fileobj=io.BytesIO(artefact.data), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = _safe(member.name, artefact.filename)
            if not member.isfile() or len(path.parts) < 2:
                continue  # links and devices are never installed
            total += member.size
            if total > MAX_TREE_BYTES:
                raise NotAvailable(f"{artefact.filename} holds more than {MAX_TREE_BYTES}")
            handle = archive.extractfile(member)
            if handle is not None:
                tree[str(PurePosixPath(artefact.name, *path.parts[1:]))] = handle.read()
    if not tree:
        raise NotAvailable(f"{artefact.filename}: no file to install")
    return tree


def _top_level_packages(files: dict[PurePosixPath, bytes], what: str) -> dict[str, bytes]:
    inits = {path.parent for path in files if path.name == "__init__.py"}
    tops = [d for d in inits if d.parent not in inits]
    by_name: dict[str, list[PurePosixPath]] = {}
    for top in tops:
        by_name.setdefault(top.name, []).append(top)

    def rank(folder: PurePosixPath) -> tuple[int, int]:
        root = str(folder.parent) if str(folder.parent) != "." else ""
        order = _PREFERRED_ROOTS.index(root) if root in _PREFERRED_ROOTS else len(_PREFERRED_ROOTS)
        return (order, len(folder.parts))

    chosen = [min(folders, key=rank) for folders in by_name.values()]
    tree: dict[str, bytes] = {}
    for top in chosen:
        for path, data in files.items():
            if top in path.parents:
                tree[str(path.relative_to(top.parent))] = data
    if not tree:
        modules = {
            path: data
            for path, data in files.items()
            if len(path.parts) == 1 and path.suffix == ".py" and path.name != "setup.py"
        }
        tree = {str(path): data for path, data in modules.items()}
    if not tree:
        raise NotAvailable(f"{what}: no pure-Python package to install in the sandbox")
    return tree
