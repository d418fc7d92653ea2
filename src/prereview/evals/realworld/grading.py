"""The real-vulnerability patch grader: hidden checks, each in a fresh sandbox, judged on the host.

As in ``prereview.evals.grading`` (whose sandbox it reuses): the agent's side is ended
before anything is copied out; only the package's own files are collected (regular
files, no symlink followed, size-capped); every check runs in a new bubblewrap instance
with the patched tree read-only under ``/grade/src`` and the unmodified dependencies
from the task cache under ``/grade/deps``, as ``python3 -I -S``. Which checks run, and
the token they use, are drawn with ``secrets`` at scoring time, so the agent never sees
them.

The verdict is never the sandbox's: the graded code runs in that process and could print
any verdict it liked. A check is a :class:`~prereview.evals.realworld.probes.Probe`: the
sandbox is given the case's driver, a mode, the probe's data and the token (not whether
it is an exploit, nor which other checks exist), runs ``run(mode, data, token)`` and
prints the plain data it answered; the host judges that answer with the probe's judge
(``probes.py`` says why this holds against a patch that forges its answer). Exactly one
answer line counts: none, or more than one (the graded code printed its own), is no
answer, which fails a functional check and counts an exploit variant as succeeded.

A JavaScript case's driver runs the same way under ``node`` (:data:`RUNNERS`): the tree
under ``/grade/src/node_modules/<package>``, so the driver's ``require("<package>")``
loads the graded copy, the process limit set by ``prlimit`` before node starts.

The library's own test suite (``testsuites.py``) is still run in the process that loads
the graded code, so a patch aimed at pytest could forge its result; it can only hide
breakage the hidden functional checks miss (the README states this limit).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
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
from prereview.evals.realworld.probes import Answer, Probe, with_token
from prereview.evals.realworld.testsuites import SuiteVerdict, grade_suite
from prereview.evals.sandbox import BwrapConfig, _seccomp
from prereview.evals.sandbox._bwrap import _drop_to

EXPLOIT_VARIANTS = 3
MAX_TREE_FILE_BYTES = 1024 * 1024  # the largest file of a graded tree (lodash.js: 540 KB)
_STARTED = "prereview-grader: started"
_RESULT = "prereview-grader: "
_OBSERVER = "prereview-observer: "

# Runs inside the grading sandbox: reads its probe from stdin before the graded code is
# imported, says it started, runs the driver once and prints what it answered, as plain data.
# Everything the answer is written with (os.write, the string quoting, the types it tests)
# is taken before the library loads: a patch that replaces sys.stdout.write or json.dumps at
# import, to rewrite every answer on its way out, rewrites nothing of this.
#
# Where a case has an observer (``case.observer``: the servers its driver talks to), the
# script first forks it, before it reads its probe or loads anything: the observer reads
# the first line of stdin (its source and a key the graded process never sees), makes
# itself undumpable (so no process of the same uid reads its memory), starts, tells the
# driver where it listens, and when the driver is done prints what it saw, with an HMAC
# under that key. The graded process can kill it or print lines of its own, never sign one.
CHECK_SCRIPT = r"""
import json, os, resource, sys
SYSTEM_PACKAGES = "/usr/lib/python3/dist-packages"  # cryptography, for the drivers
def _line(fd):  # one line of a descriptor, a byte at a time: nothing after it is taken
    got = b""
    while not got.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        got += byte
    return got
(info_r, info_w), (done_r, done_w) = os.pipe(), os.pipe()
observer = os.fork()
if observer == 0:
    import ctypes, hashlib, hmac
    os.close(info_r)
    os.close(done_w)
    head = json.loads(_line(0))
    if head.get("observer") is None or ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) != 0:
        os.write(info_w, b"null\n")  # PR_SET_DUMPABLE refused: no observer, no record
        os._exit(0)
    key = bytes.fromhex(head.pop("key"))
    os.close(0)
    scope = {"__name__": "prereview_observer"}
    exec(head["observer"], scope)
    os.write(info_w, json.dumps(scope["start"]()).encode() + b"\n")
    os.read(done_r, 1)  # until the driver is done (or its process closed the pipe)
    record = json.dumps(scope["report"](), sort_keys=True)
    mac = hmac.new(key, record.encode(), hashlib.sha256).hexdigest()
    line = ("prereview-observer: " + mac + " " + record + "\n").encode()
    while line:
        line = line[os.write(1, line):]
    os._exit(0)
os.close(info_w)
os.close(done_r)
observed = json.loads(_line(info_r) or b"null")  # the observer has taken its line by now
spec = json.loads(sys.stdin.read())
resource.setrlimit(resource.RLIMIT_NPROC, (spec["max_processes"], spec["max_processes"]))
sys.stdout.write("prereview-grader: started\n")
sys.stdout.flush()
sys.path[:0] = ["/grade/src", "/grade/deps"]
sys.path.append(SYSTEM_PACKAGES)
_write, _quote, _type, _repr, _str = os.write, json.encoder.encode_basestring_ascii, type, repr, str
_isinstance, _int, _float, _list, _tuple, _dict = isinstance, int, float, list, tuple, dict
_irepr, _frepr, _items = int.__repr__, float.__repr__, dict.items
_join, _encode = str.join, str.encode
def dump(value, depth=0):
    if depth > 64:
        return '"..."'
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if _isinstance(value, _int):
        return _irepr(value)
    if _isinstance(value, _float):
        text = _frepr(value)
        return text if text not in ("nan", "inf", "-inf") else _quote(text)
    if _isinstance(value, _str):
        return _quote(value)
    if _isinstance(value, (_list, _tuple)):
        return "[" + _join(",", [dump(v, depth + 1) for v in value]) + "]"
    if _isinstance(value, _dict):
        pairs = [_quote(_str(k)) + ":" + dump(v, depth + 1) for k, v in _items(value)]
        return "{" + _join(",", pairs) + "}"
    return _quote(_repr(value))
try:
    namespace = {"__name__": "prereview_check"}
    exec(spec["preamble"], namespace)
    exec(spec["driver"], namespace)
    namespace["OBSERVER"] = observed  # where the observer listens (None without one)
    line = '{"value":' + dump(namespace["run"](spec["mode"], spec["data"], spec["token"])) + "}"
except BaseException as exc:
    try:
        line = '{"raised":' + _quote(_str(_type(exc).__name__)) + "}"
    except BaseException:
        line = '{"raised":"?"}'
os.close(done_w)
os.waitpid(observer, 0)
data = _encode("prereview-grader: " + line + "\n")
while data:
    data = data[_write(1, data):]
"""

# The same for a JavaScript case's driver, under node: it defines run(mode, data, token),
# which returns plain data (every driver is synchronous: a promise is not awaited, since
# awaiting calls whatever "then" the graded code gave the prototypes). The writer, the
# promise test and the serialiser's few intrinsics are taken before the library loads, and
# the serialiser calls no method of any prototype (no toJSON, no Array.prototype.some), so a
# patch that rewrites them at load time changes nothing of the answer.
JS_CHECK_SCRIPT = r"""
"use strict";
const { createRequire } = require("module");
const { writeSync } = require("fs");
const { isPromise } = require("util").types;
const stringify = JSON.stringify;  // only ever given primitives, which have no toJSON
const isArray = Array.isArray;
const keysOf = Object.keys;
const exit = process.exit.bind(process);
const NativeFunction = Function;
function dump(value, depth) {
  if (depth > 64) return '"..."';
  const kind = typeof value;
  if (value === null || value === undefined || kind === "function" || kind === "symbol") {
    return "null";
  }
  if (kind === "boolean") return value ? "true" : "false";
  if (kind === "number" || kind === "string") return stringify(value);
  if (kind === "bigint") return stringify("" + value);
  let out = "";
  if (isArray(value)) {
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + dump(value[i], depth + 1);
    return "[" + out + "]";
  }
  const keys = keysOf(value);
  for (let i = 0; i < keys.length; i++) {
    out += (i ? "," : "") + stringify(keys[i]) + ":" + dump(value[keys[i]], depth + 1);
  }
  return "{" + out + "}";
}
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  writeSync(1, "prereview-grader: started\n");
  let line;
  try {
    const load = new NativeFunction("require", spec.driver + "\nreturn run;");
    const run = load(createRequire("/grade/src/check.js"));
    const value = run(spec.mode, spec.data, spec.token);
    line = isPromise(value) ? '{"raised":"Promise"}' : '{"value":' + dump(value, 0) + "}";
  } catch (error) {
    let name = "?";
    try {
      name = typeof error === "object" && error !== null ? "" + error.name : "" + error;
    } catch (ignored) { /* a name that throws is no name */ }
    line = '{"raised":' + stringify(name) + "}";
  }
  writeSync(1, "prereview-grader: " + line + "\n");
  exit(0);
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


def parse_answer(lines: list[str], prefix: str = _RESULT) -> Answer:
    """The sandbox's one answer after its start line: None unless exactly one line carries
    ``prefix`` and holds a JSON object with a ``value`` or a ``raised``."""
    results = [line.removeprefix(prefix) for line in lines[1:] if line.startswith(prefix)]
    if len(results) != 1:
        return None
    try:
        answer = json.loads(results[0])
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(answer, dict) or not ({"value", "raised"} & answer.keys()):
        return None
    return answer


def judged(probe: Probe, token: str, answer: Answer) -> bool:
    """Whether ``probe`` held (functional) or its exploit worked, from the sandbox's answer.
    No answer, or one the judge cannot read, counts against the patch either way."""
    if answer is None:
        return probe.exploit
    try:
        return probe.judge(token, answer) is True
    except Exception:  # the answer is the graded code's data, of any shape
        return probe.exploit


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


def probe_spec(case: Case, probe: Probe, token: str, config: BwrapConfig) -> dict[str, Any]:
    """What the sandbox is told of one probe: nothing that says whether it is an exploit."""
    return {
        "mode": probe.mode,
        "data": with_token(probe.data, token),
        "token": token,
        "preamble": case.preamble,
        "driver": case.checks,
        "max_processes": config.max_processes,
    }


async def run_probe(
    case: Case,
    tree: Mapping[str, bytes],
    spec: dict[str, Any],
    config: BwrapConfig,
    timeout: float = 60,
) -> Answer:
    """Run the driver once in a sandbox of its own: its answer, or None. Where the case
    has an observer, the answer's ``observed`` is what it saw (None unless exactly one
    record came signed with this run's key)."""
    root = Path(tempfile.mkdtemp(prefix="prereview-realgrade-"))
    owner = _drop_to(config)
    key = secrets.token_bytes(32)
    payload = json.dumps(spec).encode()
    if case.language == "python":  # the observer's line, read by it alone
        head = {"observer": case.observer or None, "key": key.hex()}
        payload = json.dumps(head).encode() + b"\n" + payload
    try:
        _prepare(root, case, tree, owner)
        lines, returncode = await spawn_grader(
            root,
            lambda seccomp: check_argv(case, config, seccomp, root),
            payload,
            owner=owner,
            limits=lambda: _limits(config),
            timeout=timeout,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not lines or lines[0] != _STARTED:
        raise GradingError(f"the grading sandbox never reached the graded code (rc {returncode})")
    answer = parse_answer(lines)
    if answer is not None and case.observer:
        answer = {**answer, "observed": observed_record(lines, key)}
    return answer


def observed_record(lines: list[str], key: bytes) -> Any:
    """The observer's record: the one line signed with ``key`` (None if none or several)."""
    records = []
    for line in lines:
        if not line.startswith(_OBSERVER):
            continue
        mac, _, record = line.removeprefix(_OBSERVER).partition(" ")
        expected = hmac.new(key, record.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(mac.encode(), expected.encode()):
            records.append(record)
    if len(records) != 1:
        return None
    return json.loads(records[0])


def probes_of(case: Case, group: str) -> list[Probe]:
    """The case's functional (``group == "functional"``) or exploit probes, in order."""
    if not case.probes:
        raise GradingError(f"{case.id} has no patch probes")
    return [p for p in case.probes if p.exploit == (group == "exploit")]


def every_check(case: Case) -> list[tuple[str, int]]:
    """Every check of a case, functional ones first."""
    functional = [("functional", i) for i in range(len(probes_of(case, "functional")))]
    return functional + [("exploit", i) for i in range(len(probes_of(case, "exploit")))]


def planned_checks(case: Case, seed: int | None = None) -> list[tuple[str, int]]:
    """Every functional check and :data:`EXPLOIT_VARIANTS` exploit variants, shuffled."""
    rng = random.Random(secrets.randbits(64) if seed is None else seed)  # noqa: S311
    functional = [("functional", i) for i in range(len(probes_of(case, "functional")))]
    exploits = list(range(len(probes_of(case, "exploit"))))
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
    hidden probes (``plan``, by default :func:`planned_checks` from a secret seed) and,
    where the release ships one, its own test suite (``testsuites.py``)."""
    config = config or BwrapConfig()
    functional_ok = exploited = n_functional = n_exploits = 0
    for group, index in plan if plan is not None else planned_checks(case, seed):
        probe = probes_of(case, group)[index]
        token = "t" + secrets.token_hex(8)
        answer = await run_probe(case, tree, probe_spec(case, probe, token, config), config)
        if probe.exploit:
            n_exploits += 1
            exploited += judged(probe, token, answer)
        else:
            n_functional += 1
            functional_ok += judged(probe, token, answer)
    suite = await grade_suite(case, dict(tree), config) if with_suite else None
    return RealVerdict(functional_ok, n_functional, exploited, n_exploits, suite)
