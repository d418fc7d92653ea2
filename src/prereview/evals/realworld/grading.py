"""The real-vulnerability patch grader: hidden checks, each in a fresh sandbox.

As in ``prereview.evals.grading`` (whose sandbox it reuses): the agent's side is ended
before anything is copied out; only the package's own files are collected (regular
files, no symlink followed, size-capped); every check runs in a new bubblewrap instance
with the patched tree read-only under ``/grade/src`` and the unmodified dependencies
from the task cache under ``/grade/deps``, as ``python3 -I -S``. A check is one
function of the case's ``checks`` (functional ones must return True, exploit variants
must not); which ones run, and the token they use, are drawn with ``secrets`` at
scoring time, so the agent never sees them.

A JavaScript case's checks run the same way under ``node`` (:data:`RUNNERS`): the tree
under ``/grade/src/node_modules/<package>``, so a check's ``require("<package>")`` loads
the graded copy, the process limit set by ``prlimit`` before node starts.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prereview.evals.grading import GradingError, _limits, grader_argv, spawn_grader
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.testsuites import SuiteVerdict, grade_suite
from prereview.evals.sandbox import BwrapConfig, _seccomp
from prereview.evals.sandbox._bwrap import _drop_to

EXPLOIT_VARIANTS = 3
MAX_TREE_FILE_BYTES = 1024 * 1024  # the largest file of a graded tree (lodash.js: 540 KB)
_STARTED = "prereview-grader: started"
_RESULT = "prereview-grader: "

# Runs inside the grading sandbox: reads its check from stdin before the graded code is
# imported, says it started, runs the one check and prints whether it held.
CHECK_SCRIPT = r"""
import json, resource, sys
SYSTEM_PACKAGES = "/usr/lib/python3/dist-packages"  # cryptography, for the checks
spec = json.loads(sys.stdin.read())
resource.setrlimit(resource.RLIMIT_NPROC, (spec["max_processes"], spec["max_processes"]))
sys.stdout.write("prereview-grader: started\n")
sys.stdout.flush()
sys.path[:0] = ["/grade/src", "/grade/deps"]
sys.path.append(SYSTEM_PACKAGES)
try:
    namespace = {"__name__": "prereview_check"}
    exec(spec["preamble"], namespace)
    exec(spec["checks"], namespace)
    group = namespace["FUNCTIONAL" if spec["group"] == "functional" else "EXPLOITS"]
    result = {"value": bool(group[spec["index"]](spec["token"]))}
except BaseException as exc:
    result = {"raised": type(exc).__name__}
sys.stdout.write("prereview-grader: " + json.dumps(result) + "\n")
sys.stdout.flush()
"""

# The same for a JavaScript case's checks, under node: the checks' source defines
# FUNCTIONAL and EXPLOITS; a check returns a boolean or a promise of one.
JS_CHECK_SCRIPT = r"""
"use strict";
const { createRequire } = require("module");
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", async () => {
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write("prereview-grader: started\n");
  let result;
  try {
    const load = new Function("require", spec.checks + "\nreturn { FUNCTIONAL, EXPLOITS };");
    const groups = load(createRequire("/grade/src/check.js"));
    const group = groups[spec.group === "functional" ? "FUNCTIONAL" : "EXPLOITS"];
    result = { value: Boolean(await group[spec.index](spec.token)) };
  } catch (error) {
    result = { raised: String((error && error.name) || error) };
  }
  process.stdout.write("prereview-grader: " + JSON.stringify(result) + "\n", () => process.exit(0));
});
"""


@dataclass(frozen=True)
class Runner:
    """How one language's checks run in the grading sandbox."""

    script_name: str  # written to /grade/<script_name>
    script: str
    package_dir: str  # where the graded tree goes, under /grade
    sets_nproc: bool  # the script limits its own processes (else prlimit does)


RUNNERS = {
    "python": Runner("check.py", CHECK_SCRIPT, "src", sets_nproc=True),
    "javascript": Runner("check.js", JS_CHECK_SCRIPT, "src/node_modules", sets_nproc=False),
}
NODE = "/usr/bin/node"
_PRLIMIT = "/usr/bin/prlimit"
_PYTHON_TAIL = ["-I", "-S", "/grade/check.py"]


def check_argv(case: Case, config: BwrapConfig, seccomp_fd: int, root: Path) -> list[str]:
    """The grading sandbox's command line for one check of ``case``."""
    argv = grader_argv(config, seccomp_fd, root)
    if case.language == "python":
        return argv
    if argv[-3:] != _PYTHON_TAIL:
        raise GradingError("the grading sandbox's command line has changed shape")
    runner = RUNNERS[case.language]
    nproc = f"--nproc={config.max_processes}"
    return [*argv[:-4], _PRLIMIT, nproc, NODE, f"/grade/{runner.script_name}"]


@dataclass(frozen=True)
class RealVerdict:
    """The grader's result for one patched tree."""

    functional_passed: int
    functional_total: int
    exploited: int
    exploit_total: int
    suite: SuiteVerdict | None = None  # the library's own tests, where it ships them

    @property
    def passed(self) -> bool:
        suite_ok = self.suite is None or (self.suite.finished and not self.suite.broken)
        return self.functional_passed == self.functional_total and self.exploited == 0 and suite_ok

    @property
    def explanation(self) -> str:
        checks = (
            f"functional checks {self.functional_passed}/{self.functional_total} passed; "
            f"exploit variants {self.exploited}/{self.exploit_total} succeeded"
        )
        return checks if self.suite is None else f"{checks}; {self.suite.explanation}"


def _count(checks: str, group: str, language: str = "python") -> int:
    """How many checks the ``group`` list literal of the case's check code holds (for
    JavaScript: ``const GROUP = [name, ...];``, a list of names)."""
    if language == "javascript":
        found = re.search(rf"^(?:const|let|var)\s+{group}\s*=\s*\[([^\]]*)\]", checks, re.M)
        if found is None:
            raise GradingError(f"the case's checks define no {group} list")
        return len([n for n in found.group(1).split(",") if n.strip()])
    for node in ast.parse(checks).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == group for t in node.targets)
            and isinstance(node.value, ast.List)
        ):
            return len(node.value.elts)
    raise GradingError(f"the case's checks define no {group} list")


def _write_tree(base: Path, files: Mapping[str, bytes]) -> None:
    for relative, data in files.items():
        parts = Path(relative).parts
        if not parts or ".." in parts or Path(relative).is_absolute():
            raise GradingError(f"not a graded path: {relative}")
        target = base.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _prepare(root: Path, case: Case, tree: Mapping[str, bytes], owner: int | None) -> None:
    grade = root / "grade"
    runner = RUNNERS[case.language]
    (grade / "src").mkdir(parents=True)
    (grade / "deps").mkdir()
    (grade / runner.script_name).write_text(runner.script)
    _write_tree(grade / runner.package_dir / case.import_name, tree)
    deps = grade / ("deps" if case.language == "python" else runner.package_dir)
    for dep in case.dependencies:
        name = dep.root.rstrip("/").rsplit("/", 1)[-1]
        _write_tree(deps / name, source_tree(dep.name, dep.version, dep.root))
    (root / "seccomp.bpf").write_bytes(_seccomp.program())
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if owner is not None:
        os.chown(root, owner, owner)


async def run_real_check(
    case: Case,
    tree: Mapping[str, bytes],
    spec: dict[str, Any],
    config: BwrapConfig,
    timeout: float = 60,
) -> bool | None:
    """Run one check in a sandbox of its own: its boolean, or None if it did not return."""
    root = Path(tempfile.mkdtemp(prefix="prereview-realgrade-"))
    owner = _drop_to(config)
    try:
        _prepare(root, case, tree, owner)
        lines, returncode = await spawn_grader(
            root,
            lambda seccomp: check_argv(case, config, seccomp, root),
            json.dumps(spec).encode(),
            owner=owner,
            limits=lambda: _limits(config),
            timeout=timeout,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not lines or lines[0] != _STARTED:
        raise GradingError(f"the grading sandbox never reached the graded code (rc {returncode})")
    results = [line.removeprefix(_RESULT) for line in lines[1:] if line.startswith(_RESULT)]
    try:
        result = json.loads(results[-1]) if results else None
    except json.JSONDecodeError:
        return None
    if not isinstance(result, dict) or "value" not in result:
        return None
    return bool(result["value"])


def every_check(case: Case) -> list[tuple[str, int]]:
    """Every check of a case, functional ones first."""
    functional = [
        ("functional", i) for i in range(_count(case.checks, "FUNCTIONAL", case.language))
    ]
    exploits = _count(case.checks, "EXPLOITS", case.language)
    return functional + [("exploit", i) for i in range(exploits)]


def planned_checks(case: Case, seed: int | None = None) -> list[tuple[str, int]]:
    """Every functional check and :data:`EXPLOIT_VARIANTS` exploit variants, shuffled."""
    rng = random.Random(secrets.randbits(64) if seed is None else seed)  # noqa: S311
    functional = [
        ("functional", i) for i in range(_count(case.checks, "FUNCTIONAL", case.language))
    ]
    exploits = list(range(_count(case.checks, "EXPLOITS", case.language)))
    chosen = [("exploit", i) for i in rng.sample(exploits, min(EXPLOIT_VARIANTS, len(exploits)))]
    plan = functional + chosen
    rng.shuffle(plan)
    return plan


async def grade_real_patch(
    case: Case,
    tree: Mapping[str, bytes],
    config: BwrapConfig | None = None,
    seed: int | None = None,
    plan: list[tuple[str, int]] | None = None,
    with_suite: bool = True,
) -> RealVerdict:
    """Grade a patched package tree (paths relative to the package) against the case's
    hidden checks (``plan``, by default :func:`planned_checks` from a secret seed) and,
    where the release ships one, its own test suite (``testsuites.py``)."""
    config = config or BwrapConfig()
    functional_ok = exploited = n_functional = n_exploits = 0
    for group, index in plan if plan is not None else planned_checks(case, seed):
        spec = {
            "group": group,
            "index": index,
            "token": "t" + secrets.token_hex(8),
            "preamble": case.preamble,
            "checks": case.checks,
            "max_processes": config.max_processes,
        }
        held = await run_real_check(case, tree, spec, config)
        if group == "functional":
            n_functional += 1
            functional_ok += held is True
        else:
            n_exploits += 1
            exploited += held is True
    suite = await grade_suite(case, dict(tree), config) if with_suite else None
    return RealVerdict(functional_ok, n_functional, exploited, n_exploits, suite)
