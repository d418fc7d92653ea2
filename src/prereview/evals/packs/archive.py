"""The accepted layout of a task pack, read and checked without running any of it.

A pack is one gzip-compressed tar file (``.tar.gz``) holding, at its root::

    pack.toml            the manifest
    <package>/           an importable Python package with the Inspect @task functions
        __init__.py      (the tasks named in the manifest are attributes of the package)
        ...

``pack.toml``::

    [pack]
    name = "ics-modbus"            # lower case letters, digits and '-'
    version = "1.0.0"              # letters, digits and '.', '+', '-'
    package = "ics_modbus"         # the package folder: a Python identifier
    tasks = ["modbus_replay"]      # @task functions of the package
    description = "Modbus replay attacks on a simulated PLC"

Only regular files and folders are accepted (no links, devices or absolute or ``..`` paths),
at most :data:`MAX_MEMBERS` of them, expanding to at most :data:`MAX_EXPANDED` bytes.
"""

from __future__ import annotations

import re
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from prereview.evals.packs.errors import PackInvalid

MANIFEST = "pack.toml"
SUFFIX = ".tar.gz"
MAX_MEMBERS = 2000
MAX_EXPANDED = 256 << 20
#: The name of the built-in suite as a pack: reserved, no agency uploads under it.
SUITE_PACK = "prereview-suite"
#: The key of an eval log's metadata (``eval(metadata=...)``) that names the pack it ran.
LOG_METADATA_KEY = "prereview_pack"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


@dataclass(frozen=True)
class Manifest:
    """What ``pack.toml`` declares, checked."""

    name: str
    version: str
    package: str
    tasks: tuple[str, ...]
    description: str

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "package": self.package,
            "tasks": list(self.tasks),
            "description": self.description,
        }


def _text(table: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise PackInvalid(
            f"{MANIFEST}: [pack] {key} is missing or not of the form {pattern.pattern}"
        )
    return value


def parse_manifest(text: bytes) -> Manifest:
    """Parse and check the manifest's bytes."""
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PackInvalid(f"{MANIFEST} is not valid UTF-8 TOML ({exc})") from None
    table = document.get("pack")
    if not isinstance(table, dict):
        raise PackInvalid(f"{MANIFEST} has no [pack] table")
    name = _text(table, "name", NAME)
    if name == SUITE_PACK:
        raise PackInvalid(f"'{SUITE_PACK}' is the built-in suite's name; choose another")
    tasks = table.get("tasks")
    if (
        not isinstance(tasks, list)
        or not 1 <= len(tasks) <= 50
        or not all(isinstance(t, str) and IDENTIFIER.match(t) for t in tasks)
        or len(set(tasks)) != len(tasks)
    ):
        raise PackInvalid(
            f"{MANIFEST}: [pack] tasks must list 1 to 50 distinct @task function names"
        )
    description = table.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise PackInvalid(f"{MANIFEST}: [pack] description must be text of at most 2000 chars")
    return Manifest(
        name=name,
        version=_text(table, "version", VERSION),
        package=_text(table, "package", IDENTIFIER),
        tasks=tuple(tasks),
        description=description,
    )


def _checked_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    expanded = 0
    for member in archive:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise PackInvalid(f"a pack holds at most {MAX_MEMBERS} files and folders")
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or "\\" in member.name:
            raise PackInvalid(f"'{member.name}': paths in a pack are relative, without '..'")
        if not (member.isfile() or member.isdir()):
            raise PackInvalid(f"'{member.name}': a pack holds regular files and folders only")
        expanded += member.size
        if expanded > MAX_EXPANDED:
            raise PackInvalid(f"a pack may expand to at most {MAX_EXPANDED} bytes")
    return members


def read_manifest(path: Path) -> Manifest:
    """Check the layout of the pack file at ``path`` and return its manifest; nothing of the
    package is imported or run. Raises :class:`PackInvalid` with what to fix."""
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            members = _checked_members(archive)
            names = {PurePosixPath(m.name).as_posix().removeprefix("./"): m for m in members}
            entry = names.get(MANIFEST)
            if entry is None or not entry.isfile():
                raise PackInvalid(f"a pack has {MANIFEST} at its root")
            source = archive.extractfile(entry)
            assert source is not None
            manifest = parse_manifest(source.read(64 << 10))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise PackInvalid(
            f"not a gzip-compressed tar file ({exc.__class__.__name__}); make a pack with "
            f"`tar czf NAME{SUFFIX} {MANIFEST} PACKAGE/`"
        ) from None
    if f"{manifest.package}/__init__.py" not in names:
        raise PackInvalid(
            f"the manifest names package '{manifest.package}', but {manifest.package}/"
            "__init__.py is not in the pack"
        )
    return manifest


def extract(path: Path, target: Path) -> Manifest:
    """Check the pack at ``path`` and unpack it into the empty folder ``target``."""
    manifest = read_manifest(path)
    with tarfile.open(path, mode="r:gz") as archive:
        archive.extractall(target, filter="data")
    return manifest
