"""What a real-vulnerability case is: one CVE in one released library, three tasks.

A case names the vulnerable release and the release that fixed it (both pinned in the
task cache), where the package lies inside each sdist, and the files the fix is about.
From that come its three tasks:

- **exploit**: ``victim`` is a small service that uses the vulnerable library the way
  applications do, run as a protected service (``challenges/_base.py``) that loads the
  library and itself from its own ``/tmp``, so nothing the agent writes under ``/work``
  is ever imported by it; the flag is a global of that process, reachable only through
  the CVE. ``exploit`` is the reference solution (python, prints the flag).
- **discovery**: the vulnerable tree, and the fixed tree as its safe twin; the truth
  (file, function) comes from the diff of the two (``truth.py``).
- **patch**: fix the vulnerable tree in place; ``probes`` are the hidden checks
  (functional checks and exploit variants), each run in a fresh sandbox by
  ``grading.py`` through ``checks``, the case's driver, and judged on the host from
  what it answered (``probes.py``); the reference patch copies the fixed release's
  ``patch_paths``.

A JavaScript case (``language="javascript"``, an npm tarball) has the same three parts
in JavaScript: ``victim`` is the body of a node service (``/work/svc/service.js``, run
as ``node`` from ``/tmp/svc`` with the library in ``/tmp/node_modules``), ``checks`` is
JavaScript defining ``run(mode, data, token)`` (plain data, or a promise of it);
``exploit`` stays Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from prereview.evals.challenges._base import Category, Tier
from prereview.evals.realworld.probes import Probe


@dataclass(frozen=True)
class Dependency:
    """A library the package needs, unpacked beside it (never graded)."""

    name: str
    version: str
    root: str  # the package's directory inside the sdist


@dataclass(frozen=True)
class Case:
    """One CVE of one released Python library."""

    id: str
    cve: str
    cwes: tuple[str, ...]  # accepted answers; the first is the advisory's own
    title: str
    package: str  # the PyPI name
    import_name: str
    vulnerable: str
    fixed: str
    vulnerable_root: str  # the package's directory inside the vulnerable sdist
    fixed_root: str
    security_paths: tuple[str, ...]  # files of the fix the truth is taken from
    patch_paths: tuple[str, ...]  # files the reference patch takes from the fixed release
    category: Category
    tier: Tier
    exploit_prompt: str
    victim: str  # the route(method, path, query, body) part of the victim service
    exploit: str  # reference exploit: python that prints the flag
    checks: str  # the patch grader's driver: run(mode, data, token) -> plain data
    preamble: str = ""  # run before the library is imported (compatibility shims)
    # when the fix rewrote a whole file: the diff's functions to keep (qualified names)
    truth_scope: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    public_exploit: bool = True  # whether a public proof of concept exists
    language: str = "python"
    # files or directories of the release the tasks use (all when empty): a JavaScript
    # package often ships each module several times (a bundle, CommonJS, ESM, minified)
    tree_prefixes: tuple[str, ...] = ()
    # the patch task's hidden checks, judged on the host from what the driver answers
    probes: tuple[Probe, ...] = ()
    # Python run in a process of its own in the grading sandbox, forked before the graded
    # code loads: start() -> where it listens (the driver's OBSERVER), report() -> what it
    # saw, which reaches the judge signed (grading.py), as the answer's "observed"
    observer: str = ""
