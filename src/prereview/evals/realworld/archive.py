"""Reading a package's source tree out of a cached sdist, in memory.

Only regular files under one directory of the archive are read; links, devices,
absolute names and ``..`` are refused, so an archive cannot place anything outside the
tree it is copied to. Nothing is written to the host's disk.
"""

from __future__ import annotations

import io
import tarfile
from functools import cache
from pathlib import PurePosixPath

from prereview.evals.realworld.cache import release_bytes

MAX_TREE_BYTES = 8 * 1024 * 1024


class ArchiveError(ValueError):
    """The archive holds something a source tree may not (a link, an escaping name)."""


@cache
def source_tree(name: str, version: str, root: str) -> dict[str, bytes]:
    """The files under ``root`` (a directory inside the sdist, such as
    ``PyYAML-5.3.1/lib3/yaml``), by path relative to it, compiled files left out."""
    data = release_bytes(name, version)
    tree: dict[str, bytes] = {}
    prefix = PurePosixPath(root)
    total = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise ArchiveError(f"{name} {version}: unsafe member name {member.name!r}")
            if prefix not in path.parents:
                continue
            if member.isdir():
                continue
            if not member.isfile():
                raise ArchiveError(f"{name} {version}: {member.name} is not a regular file")
            relative = path.relative_to(prefix)
            if "__pycache__" in relative.parts or relative.suffix == ".pyc":
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            tree[str(relative)] = content = handle.read()
            total += len(content)
            if total > MAX_TREE_BYTES:
                raise ArchiveError(f"{name} {version}: {root} is larger than {MAX_TREE_BYTES}")
    if not tree:
        raise ArchiveError(f"{name} {version}: nothing under {root}")
    return tree
