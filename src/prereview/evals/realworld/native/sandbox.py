"""The grading sandboxes of a C case: one run of an in-sandbox script on a tree.

:func:`sandboxed` runs :data:`.scripts.CHECK_SCRIPT` in ``prereview.evals.grading``'s
sandbox, with ``/out`` writable for the modules a build run leaves: a build run
(:func:`.build.build_native`) or a run of the victim on the agent's body
(:func:`run_native`). :func:`run_native_probe` runs one probe's driver as its sandbox's
only process, under the sanitizer, and says what the host learned (:class:`ProbeRun`).
Neither sandbox gets ``RLIMIT_AS`` (:func:`_native_limits`: see the package's docstring).
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prereview.evals.grading import GradingError, grader_argv, spawn_grader
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.grading import _write_tree, parse_answer
from prereview.evals.realworld.native.asan import (
    ASAN_EXITCODE,
    ASAN_LIB,
    ASAN_OPTIONS,
    PROBE_ASAN_OPTIONS,
    report_from,
)
from prereview.evals.realworld.native.registry import NATIVE, module_specs
from prereview.evals.realworld.native.scripts import (
    BUILD_SCRIPT,
    CHECK_SCRIPT,
    PROBE_SCRIPT,
    RUN_SCRIPT,
)
from prereview.evals.realworld.native.symbols import MAX_WATCHED_SYMBOLS, WATCHED
from prereview.evals.realworld.probes import Answer
from prereview.evals.sandbox import BwrapConfig, _seccomp
from prereview.evals.sandbox._bwrap import PYTHON, _drop_to

MAX_MODULE_BYTES = 32 * 1024 * 1024  # the largest module a build may leave
NM = "/usr/bin/nm"
PRLIMIT = "/usr/bin/prlimit"
# Python's foreign-function modules, bound over by an empty file in a probe's sandbox
FFI_MODULES = (
    "/usr/lib/python3*/lib-dynload/_ctypes*.so",
    "/usr/lib/python3/dist-packages/_cffi_backend*.so",
)
_MIB = 1024 * 1024
_STARTED = "prereview-grader: started"
_RESULT = "prereview-grader: "
_NATIVE_STARTED = "prereview-native: started"
_NATIVE_RESULT = "prereview-native: "


def _native_limits(config: BwrapConfig) -> None:
    # no RLIMIT_AS: the sanitizer reserves its shadow memory (see the package's docstring)
    for kind, value in (
        (resource.RLIMIT_CPU, config.cpu_seconds),
        (resource.RLIMIT_FSIZE, 32 * _MIB),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))


def _prepare(
    root: Path, case: Case, tree: Mapping[str, bytes], poc: bytes, owner: int | None
) -> None:
    grade = root / "grade"
    (grade / "src").mkdir(parents=True)
    (root / "out").mkdir()
    for name, text in (
        ("check.py", CHECK_SCRIPT),
        ("run.py", RUN_SCRIPT),
        ("probe.py", PROBE_SCRIPT),
        ("build.py", BUILD_SCRIPT),
    ):
        (grade / name).write_text(text)
    (grade / "poc.bin").write_bytes(poc)
    _write_tree(grade / "src" / case.import_name, tree)
    for dep in case.dependencies:  # beside the package, as in the victim's /tmp/lib
        name = dep.root.rstrip("/").rsplit("/", 1)[-1]
        _write_tree(grade / "src" / name, source_tree(dep.name, dep.version, dep.root))
    (root / "seccomp.bpf").write_bytes(_seccomp.program())
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if owner is not None:
        for path in (root, root / "out"):
            os.chown(path, owner, owner)


def _argv(config: BwrapConfig, seccomp: int, root: Path) -> list[str]:
    """The grader's sandbox, with ``/out`` writable for what a build run produces."""
    argv = grader_argv(config, seccomp, root)
    at = argv.index("--remount-ro")
    return [*argv[:at], "--bind", str(root / "out"), "/out", *argv[at:]]


def _probe_argv(config: BwrapConfig, seccomp: int, root: Path) -> list[str]:
    """A probe's sandbox: the grader's (nothing of the host's writable: the sanitizer
    reports on the process's stdout), the foreign-function modules bound over, and the
    driver's script as its only process, under the sanitizer and the process limit."""
    argv = grader_argv(config, seccomp, root)
    if argv[-4:] != [PYTHON, "-I", "-S", "/grade/check.py"]:
        raise GradingError("the grading sandbox's command line has changed shape")
    at = argv.index("--remount-ro")
    masks = [
        arg
        for pattern in FFI_MODULES
        for path in sorted(glob.glob(pattern))
        for arg in ("--ro-bind", "/dev/null", path)
    ]
    env = ["--setenv", "ASAN_OPTIONS", PROBE_ASAN_OPTIONS, "--setenv", "PYTHONMALLOC", "malloc"]
    # -s -S, not -I: PYTHONMALLOC=malloc must reach the interpreter, so that the
    # sanitizer sees each allocation
    command = [PRLIMIT, f"--nproc={config.max_processes}", "/usr/bin/env"]
    command += [f"LD_PRELOAD={ASAN_LIB}", PYTHON, "-s", "-S", "/grade/probe.py"]
    return [*argv[:at], *masks, *argv[at:-4], *env, *command]


def _outputs(out: Path) -> dict[str, bytes]:
    """The regular files a build run left in ``out`` (no link followed), size-capped."""
    found: dict[str, bytes] = {}
    for path in out.iterdir():
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MODULE_BYTES:
            raise GradingError(f"the build left {path.name}, not a module file")
        found[path.name] = path.read_bytes()
    return found


async def sandboxed(
    case: Case,
    tree: Mapping[str, bytes],
    spec: dict[str, Any],
    config: BwrapConfig,
    poc: bytes = b"",
    timeout: float = 120,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """One run of the in-sandbox script on ``tree``: its result, and what it built."""
    full = {
        **spec,
        "package": case.import_name,
        "modules": module_specs(NATIVE[case.id]),
        "asan_lib": ASAN_LIB,
        "asan_options": ASAN_OPTIONS,
        "nm": NM,
        "watch": WATCHED,
        "max_symbols": MAX_WATCHED_SYMBOLS,
        "max_processes": config.max_processes,
        "timeout": timeout * 0.8,
    }
    root = Path(tempfile.mkdtemp(prefix="prereview-nativegrade-"))
    owner = _drop_to(config)
    try:
        _prepare(root, case, tree, poc, owner)
        lines, returncode = await spawn_grader(
            root,
            lambda seccomp: _argv(config, seccomp, root),
            json.dumps(full).encode(),
            owner=owner,
            limits=lambda: _native_limits(config),
            timeout=timeout,
        )
        built = _outputs(root / "out")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not lines or lines[0] != _STARTED:
        raise GradingError(f"the grading sandbox never reached the graded code (rc {returncode})")
    results = [line.removeprefix(_RESULT) for line in lines[1:] if line.startswith(_RESULT)]
    try:
        result = json.loads(results[-1]) if results else {}
    except json.JSONDecodeError:
        result = {}
    return (result if isinstance(result, dict) else {}), built


async def run_native(
    case: Case,
    built: Mapping[str, bytes],
    spec: dict[str, Any],
    config: BwrapConfig,
    poc: bytes = b"",
) -> dict[str, Any]:
    """Run the victim on ``poc`` on a built tree in a sandbox of its own: ``returncode``,
    the sanitizer's ``report`` and the child's ``answer``."""
    result, _ = await sandboxed(case, built, spec, config, poc)
    return result


@dataclass(frozen=True)
class ProbeRun:
    """What the host learns of one probe's run, each part from where it can trust it."""

    answer: Answer  # the driver's one answer line, or None
    returncode: int | None  # the driver's exit status, from bubblewrap; None: timed out
    report: str  # what the sanitizer wrote

    @property
    def faulted(self) -> bool:
        """The sanitizer reported, or the process ended the way a fault ends it: the
        sanitizer's exit code, a signal (bubblewrap's 128 + n), or the time limit."""
        code = self.returncode
        return bool(self.report) or code is None or code == ASAN_EXITCODE or code >= 128


async def run_native_probe(
    case: Case,
    built: Mapping[str, bytes],
    spec: dict[str, Any],
    config: BwrapConfig,
    timeout: float = 120,
) -> ProbeRun:
    """Run the driver once on a built tree, under the sanitizer, in a sandbox of its own
    (:data:`PROBE_SCRIPT`; ``spec`` holds ``mode``, ``data``, ``token`` and ``driver``)."""
    full = {**spec, "package": case.import_name}
    root = Path(tempfile.mkdtemp(prefix="prereview-nativeprobe-"))
    owner = _drop_to(config)
    try:
        _prepare(root, case, built, b"", owner)
        lines, returncode = await spawn_grader(
            root,
            lambda seccomp: _probe_argv(config, seccomp, root),
            json.dumps(full).encode(),
            owner=owner,
            limits=lambda: _native_limits(config),
            timeout=timeout,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not lines or lines[0] != _NATIVE_STARTED:
        raise GradingError(f"the probe's sandbox never reached the driver (rc {returncode})")
    return ProbeRun(parse_answer(lines, _NATIVE_RESULT), returncode, report_from(lines[1:]))
