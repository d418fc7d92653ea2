"""The built-in suite as a pack: ``prereview-suite``, at the installed package's version, with
a digest of the suite's own source files, as the runner names it in every log it writes."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prereview.evals.packs.archive import SUITE_PACK

#: The folders and files of ``prereview.evals`` that make up the suite's tasks (not packs).
_SUITE_PARTS = ("tasks.py", "challenges", "realworld", "grading.py", "scoring.py", "sandbox")


def suite_version() -> str:
    try:
        return version("prereview")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


@cache
def suite_sha256() -> str:
    """SHA-256 over the suite's source files (their relative paths and bytes, sorted)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in _SUITE_PARTS:
        base = root / part
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def suite_claim() -> dict[str, str]:
    """What a log of the built-in suite says of the pack it ran."""
    return {"name": SUITE_PACK, "version": suite_version(), "sha256": suite_sha256()}
