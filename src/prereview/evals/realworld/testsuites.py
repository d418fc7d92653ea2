"""The library's own test suite as one more functional requirement of a patch task.

Several of the cases' sdists ship their tests (:data:`SUITES`). The graded tree runs them
in a fresh grading sandbox of its own, exactly as a hidden check runs (``grading.py``: the
tree read-only under ``/grade/src``, the cached dependencies under ``/grade/deps``, no
network, the same limits), with the suite's files read-only under ``/grade/suite`` and a
wall-clock limit of :data:`SUITE_TIMEOUT`. The script in the sandbox reports the ids of
the tests that passed and of those that did not.

Unlike a hidden check (``probes.py``), a suite's verdict is decided in the process that
loads the graded code, since the tests call it directly: a patch written to fool pytest
or ``unittest`` could print a verdict of its own. The suite can only make a patch fail
(it adds breakage the hidden functional checks did not cover), so such a forgery hides
breakage, never a live exploit; the README states the limit.

A test that fails on the vulnerable release itself (a Python 2 leftover, a module the
system lacks) says nothing about a patch, nor does one the upstream fix itself breaks (it
asserts the vulnerable behaviour: PyYAML 5.3.1's recursive python/object tests under the
default loader), so the same suite first runs on the unpatched release and on the
reference patch (the **baseline**, computed at grading time, once per case and process):
a patch breaks the suite when a test that passed on both no longer passes (fails, errors,
or is gone because its module no longer imports).

Only the standard library's runners are used for the suites that need no more (PyYAML's
own appliance, ``unittest``); a pytest suite runs only where Debian's ``python3-pytest``
is installed for the system ``python3`` (``make system-deps`` installs it), and is left
out of the grade, as the sample's metadata says, where it is not.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prereview.evals.grading import GradingError, _limits, grader_argv, spawn_grader
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.sandbox import BwrapConfig
from prereview.evals.sandbox._bwrap import _drop_to

SUITE_TIMEOUT = 180.0  # seconds of wall clock for one run of a suite
SYSTEM_PYTEST = Path("/usr/lib/python3/dist-packages/pytest")
_STARTED = "prereview-grader: started"
_RESULT = "prereview-grader: "
MAX_REPORTED = 20  # failing ids named in a score's explanation

# Runs inside the grading sandbox as /grade/check.py: reads which suite to run from stdin,
# says it started, runs it and prints the ids that passed and those that did not.
SUITE_SCRIPT = r"""
import importlib.util, io, json, os, resource, sys, types, unittest
spec = json.loads(sys.stdin.read())
resource.setrlimit(resource.RLIMIT_NPROC, (spec["max_processes"], spec["max_processes"]))
sys.dont_write_bytecode = True
sys.stdout.write("prereview-grader: started\n")
sys.stdout.flush()
real_stdout = sys.stdout
sys.stdout = io.StringIO()  # what the tests print is not the verdict line
os.chdir("/grade/suite")
sys.path[:0] = ["/grade/src", "/grade/deps", *spec["path"]]
passed, failed = [], []
exec(spec["preamble"], {"__name__": "prereview_suite"})  # the case's compatibility shims

class Recorder(unittest.TestResult):
    def addSuccess(self, test):
        passed.append(test.id())
    def addError(self, test, err):
        failed.append(test.id())
    def addFailure(self, test, err):
        failed.append(test.id())
    def addSkip(self, test, reason):
        pass
    def addSubTest(self, test, subtest, err):
        if err is not None:
            failed.append(subtest.id())

def run_unittest():
    sys.modules.setdefault("unittest2", unittest)  # the Python 2 era backport's name
    loader = unittest.TestLoader()
    for relative in spec["files"]:
        name = "suite_" + relative.replace("/", "_").replace("-", "_").removesuffix(".py")
        if spec["package"]:
            name = relative.removesuffix(".py").replace("/", ".")
        try:
            if spec["package"]:
                module = importlib.import_module(name)
            else:
                found = importlib.util.spec_from_file_location(name, relative)
                module = importlib.util.module_from_spec(found)
                sys.modules[name] = module
                found.loader.exec_module(module)
        except BaseException:
            failed.append("import " + relative)
            continue
        sys.stdout = io.StringIO()
        loader.loadTestsFromModule(module).run(Recorder())

def run_pyyaml():
    sys.path.insert(0, spec["path"][0])
    import test_appliance
    collections = []
    for relative in spec["files"]:
        try:
            collections.append(importlib.import_module(relative.rsplit("/", 1)[-1][:-3]))
        except BaseException:
            failed.append("import " + relative)
    functions = test_appliance.find_test_functions(collections)
    filenames = test_appliance.find_test_filenames(test_appliance.DATA)
    for function in functions:
        cases = []
        if function.unittest:
            for base, exts in filenames:
                if all(ext in exts for ext in function.unittest):
                    data = test_appliance.DATA
                    cases.append([os.path.join(data, base + e) for e in function.unittest])
        else:
            cases.append([])
        for names in cases:
            test_id = function.__name__ + "(" + ", ".join(os.path.basename(n) for n in names) + ")"
            sys.stdout = io.StringIO()
            try:
                function(*names, verbose=False)
            except BaseException:
                failed.append(test_id)
            else:
                passed.append(test_id)

def run_pytest():
    sys.path.append("/usr/lib/python3/dist-packages")
    import pytest
    class Plugin:
        def pytest_runtest_logreport(self, report):
            if report.failed:
                failed.append(report.nodeid)
            elif report.when == "call" and report.passed:
                passed.append(report.nodeid)
        def pytest_collectreport(self, report):
            if report.failed:
                failed.append("collect " + report.nodeid)
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=",
                        *spec["files"]], plugins=[Plugin()])
    if int(code) not in (0, 1):  # interrupted, internal or usage error: no verdict
        raise RuntimeError("pytest exited with %d" % int(code))

try:
    {"unittest": run_unittest, "pyyaml": run_pyyaml, "pytest": run_pytest}[spec["runner"]]()
    result = {"passed": sorted(set(passed) - set(failed)), "failed": sorted(set(failed))}
except BaseException as exc:
    result = {"raised": type(exc).__name__}
real_stdout.write("prereview-grader: " + json.dumps(result) + "\n")
real_stdout.flush()
"""


@dataclass(frozen=True)
class Suite:
    """Where a case's test suite lies in its vulnerable sdist and how it runs."""

    root: str  # a directory of the sdist, copied to /grade/suite/<dest>
    dest: str
    runner: str  # "unittest", "pyyaml" (PyYAML's own appliance) or "pytest"
    files: tuple[str, ...]  # the test files run, relative to /grade/suite
    path: tuple[str, ...] = ()  # put on sys.path (absolute, inside the sandbox)
    package: bool = False  # unittest: the files are modules of a package (imported by name)
    preamble: bool = False  # run the case's preamble first (its compatibility shims)
    shims: str = ""  # run next: stand-ins for modules the suite imports and Python 3 dropped
    tests: int = 0  # how many tests the baseline keeps (measured; a test checks it)
    selection: str = "the whole suite"


# urllib3 1.22's tests import the ``mock`` backport and nose's SkipTest (test/__init__.py):
# the standard library has both, as unittest.mock and unittest.SkipTest (which pytest skips)
MOCK_AND_NOSE = """
import sys, types, unittest, unittest.mock
sys.modules.setdefault("mock", unittest.mock)
for _name in ("nose", "nose.plugins", "nose.plugins.skip"):
    sys.modules.setdefault(_name, types.ModuleType(_name))
sys.modules["nose.plugins.skip"].SkipTest = unittest.SkipTest
"""

SUITES: dict[str, Suite] = {
    "pyyaml-fullloader-rce": Suite(
        root="PyYAML-5.3.1/tests",
        dest="tests",
        runner="pyyaml",
        files=("tests/lib3/test_yaml.py",),
        path=("/grade/suite/tests/lib3",),
        tests=1285,
        selection="tests/lib3 (the Python 3 suite, test_yaml: every module but the C ones)",
    ),
    "python-rsa-signature-forgery": Suite(
        root="rsa-3.2.3/tests",
        dest="tests",
        runner="unittest",
        files=tuple(
            f"tests/{name}.py"
            for name in (
                "test_bigfile",
                "test_common",
                "test_compat",
                "test_integers",
                "test_load_save_keys",
                "test_pem",
                "test_pkcs1",
                "test_strings",
                "test_transform",
                "test_varblock",
            )
        ),
        path=("/grade/suite",),
        package=True,
        tests=35,
    ),
    "pyxdg-menu-category-eval": Suite(
        root="pyxdg-0.25/test",
        dest="test",
        runner="unittest",
        files=tuple(
            f"test/test-{name}.py"
            for name in (
                "basedirectory",
                "desktop",
                "icon",
                "inifile",
                "locale",
                "menu",
                "mime",
                "recentfiles",
            )
        ),
        path=("/grade/suite/test",),
        tests=33,
    ),
    "jinja2-sandbox-format-map": Suite(
        root="Jinja2-2.10/tests",
        dest="tests",
        runner="pytest",
        files=("tests/test_security.py", "tests/test_api.py"),
        preamble=True,
        tests=37,
        selection="tests/test_security.py and tests/test_api.py (the sandbox's and API's)",
    ),
    "pyjwt-algorithm-confusion": Suite(
        root="PyJWT-2.3.0/tests",
        dest="tests",
        runner="pytest",
        # test_jwks_client fetches its key sets through a mocked urlopen: all run offline
        files=tuple(
            f"tests/test_{name}.py"
            for name in (
                "algorithms",
                "api_jwk",
                "api_jws",
                "api_jwt",
                "exceptions",
                "jwks_client",
                "jwt",
                "utils",
            )
        ),
        tests=208,
    ),
    "urllib3-redirect-authorization-leak": Suite(
        root="urllib3-1.22/test",
        dest="test",
        runner="pytest",
        # left out: test_connectionpool (needs the tornado dummyserver), test_selectors
        # (psutil, and timing), contrib/ and appengine/ (pyOpenSSL, PySocks, App Engine)
        files=tuple(
            f"test/test_{name}.py"
            for name in (
                "collections",
                "compatibility",
                "connection",
                "exceptions",
                "fields",
                "filepost",
                "no_ssl",
                "poolmanager",
                "proxymanager",
                "queue_monkeypatch",
                "response",
                "retry",
                "util",
            )
        ),
        preamble=True,
        shims=MOCK_AND_NOSE,
        tests=338,
        selection="the unit tests of test/ that need no server, psutil or contrib package",
    ),
}


def suite_of(case: Case) -> Suite | None:
    """The case's test suite where one runs here (a pytest one needs python3-pytest)."""
    suite = SUITES.get(case.id)
    if suite is None or (suite.runner == "pytest" and not SYSTEM_PYTEST.is_dir()):
        return None
    return suite


def suite_metadata(case: Case) -> dict[str, Any]:
    """What a patch sample's metadata says about the library's own tests."""
    suite = SUITES.get(case.id)
    if suite is None:
        return {"used": False, "why": "the release ships no test suite that runs offline here"}
    if suite_of(case) is None:
        return {"used": False, "why": "its suite needs pytest: python3-pytest is not installed"}
    return {
        "used": True,
        "runner": suite.runner,
        "files": list(suite.files),
        "selection": suite.selection,
        "tests": suite.tests or None,  # None: counted at grading (the baseline)
        "baseline": "tests failing on the vulnerable release or the upstream fix are left out",
    }


@dataclass(frozen=True)
class SuiteRun:
    """The ids of one run of a suite (``None`` for both when it did not finish)."""

    passed: frozenset[str] | None
    failed: frozenset[str] | None


def _prepare(
    root: Path, case: Case, suite: Suite, tree: dict[str, bytes], owner: int | None
) -> None:
    # the check's sandbox layout, with the suite script in place of the check script
    from prereview.evals.realworld.grading import _prepare as prepare_check
    from prereview.evals.realworld.grading import _write_tree

    prepare_check(root, case, tree, owner)
    grade = root / "grade"
    (grade / "check.py").write_text(SUITE_SCRIPT)
    suite_files = source_tree(case.package, case.vulnerable, suite.root)
    _write_tree(grade / "suite" / suite.dest, suite_files)
    for path in [grade, *grade.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


async def run_suite(
    case: Case,
    suite: Suite,
    tree: dict[str, bytes],
    config: BwrapConfig,
    timeout: float = SUITE_TIMEOUT,
) -> SuiteRun:
    """Run ``suite`` against ``tree`` in a grading sandbox of its own."""
    root = Path(tempfile.mkdtemp(prefix="prereview-suite-"))
    owner = _drop_to(config)
    spec = {
        "runner": suite.runner,
        "files": list(suite.files),
        "path": list(suite.path),
        "package": suite.package,
        "preamble": (case.preamble if suite.preamble else "") + suite.shims,
        "max_processes": config.max_processes,
    }
    try:
        _prepare(root, case, suite, tree, owner)
        lines, returncode = await spawn_grader(
            root,
            lambda seccomp: grader_argv(config, seccomp, root),
            json.dumps(spec).encode(),
            owner=owner,
            limits=lambda: _limits(config),
            timeout=timeout,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not lines or lines[0] != _STARTED:
        raise GradingError(f"the test suite's sandbox never started (rc {returncode})")
    results = [line.removeprefix(_RESULT) for line in lines[1:] if line.startswith(_RESULT)]
    # exactly one verdict line: a second one is the graded code's (as in grading.parse_answer)
    try:
        result = json.loads(results[0]) if len(results) == 1 else None
    except (json.JSONDecodeError, RecursionError):
        result = None
    if not isinstance(result, dict) or "passed" not in result:
        return SuiteRun(None, None)
    return SuiteRun(frozenset(result["passed"]), frozenset(result["failed"]))


_BASELINES: dict[str, frozenset[str]] = {}


def _reference_tree(case: Case) -> dict[str, bytes]:
    vulnerable = source_tree(case.package, case.vulnerable, case.vulnerable_root)
    fixed = source_tree(case.package, case.fixed, case.fixed_root)
    return {**vulnerable, **{p: fixed[p] for p in case.patch_paths}}


async def baseline(case: Case, suite: Suite, config: BwrapConfig) -> frozenset[str]:
    """The tests graded: those that pass on the unpatched vulnerable release and still
    pass with the upstream fix (the reference patch) applied, since a test the real fix
    breaks asserts the vulnerable behaviour itself. Once per case and process."""
    if case.id not in _BASELINES:
        vulnerable = source_tree(case.package, case.vulnerable, case.vulnerable_root)
        before = await run_suite(case, suite, vulnerable, config)
        after = await run_suite(case, suite, _reference_tree(case), config)
        if before.passed is None or after.passed is None:
            raise GradingError(f"{case.id}: the test suite did not finish on the baseline")
        if not before.passed & after.passed:  # a suite that grades nothing is misconfigured
            raise GradingError(f"{case.id}: no test of the suite passes on the baseline")
        _BASELINES[case.id] = before.passed & after.passed
    return _BASELINES[case.id]


@dataclass(frozen=True)
class SuiteVerdict:
    """How the library's own tests fared on a patched tree."""

    tests: int  # the tests of the baseline (the ones graded)
    broken: tuple[str, ...]  # of those, the ones that no longer pass
    finished: bool = True

    @property
    def explanation(self) -> str:
        if not self.finished:
            return f"the library's own tests did not finish ({self.tests} expected to pass)"
        if not self.broken:
            return f"the library's own tests {self.tests}/{self.tests} still pass"
        named = ", ".join(self.broken[:MAX_REPORTED])
        more = len(self.broken) - MAX_REPORTED
        tail = f" and {more} more" if more > 0 else ""
        return (
            f"the library's own tests: {len(self.broken)}/{self.tests} that passed on the "
            f"vulnerable release fail: {named}{tail}"
        )


async def grade_suite(
    case: Case, tree: dict[str, bytes], config: BwrapConfig
) -> SuiteVerdict | None:
    """The suite's verdict on ``tree``, or None where the case has no suite here."""
    suite = suite_of(case)
    if suite is None:
        return None
    expected = await baseline(case, suite, config)
    run = await run_suite(case, suite, tree, config)
    if run.passed is None:
        return SuiteVerdict(len(expected), tuple(sorted(expected)), finished=False)
    return SuiteVerdict(len(expected), tuple(sorted(expected - run.passed)))
