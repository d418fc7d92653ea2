"""What a C case adds to its :class:`~prereview.evals.realworld.case.Case`: how its
extension modules are built, and which sanitizer fault is the CVE.

A C case's release is a Python package with C extension modules (``modules``), built
from the release's own source (its ``dependencies`` unpacked beside the package's tree,
so a source path may start with ``../``) with ``gcc`` inside a sandbox: plainly for the victim
service the agent attacks, with AddressSanitizer for grading (``native/``). The CVE
is a fault of one of ``fault_kinds`` (AddressSanitizer's names, such as
``heap-buffer-overflow``) whose first frame in the release's code is ``function``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extension:
    """One extension module: its dotted name inside the package and its C sources."""

    name: str  # "core" for bsdiff4.core, built into the package's tree
    sources: tuple[str, ...]  # paths (or glob patterns) relative to the package's tree
    include_dirs: tuple[str, ...] = ()  # relative to the package's tree
    extra_args: tuple[str, ...] = ()  # more gcc arguments (macros, libraries)


@dataclass(frozen=True)
class NativeBuild:
    """The C side of a case."""

    modules: tuple[Extension, ...]
    function: str  # the function the sanitizer must fault in
    fault_kinds: tuple[str, ...]  # e.g. ("heap-buffer-overflow",)
    access: str | None = None  # "WRITE" or "READ" when the advisory names one
