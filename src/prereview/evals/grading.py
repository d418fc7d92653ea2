"""The patch task's grader: hidden exploit variants, run in a fresh sandbox of their own.

The grader never runs where the agent ran. The scorer first ends the agent's side of
the sample's sandbox (every agent process, background ones included), then the host
copies out only the files it grades (regular files, no symlink followed, size-capped)
and runs each check in a *new* bubblewrap instance: no network, a read-only copy of
the graded files at ``/grade``, empty size-bounded ``/tmp`` and ``/work``, the agent's
seccomp filter, ``python3 -I -S`` (no user site, no ``PYTHON*`` variables, no script
directory on the path). Each check is a separate sandbox, started with the same
command line, so nothing persists from one check to the next and the graded code
cannot tell a functional check from an exploit. The host reads the verdict straight
from that process's output: there is no socket or file the graded code could swap.

The checks come from a seed drawn with ``secrets`` at scoring time (so the agent
never sees it): two functional checks on fresh inputs and at least three exploit
variants out of a larger pool, never the one public payload. A sandbox that does not
start, or a check that never reaches the graded code, is a grader crash and raises
:class:`GradingError` (the sample becomes an error, not a failed attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prereview.evals.sandbox import _host, _seccomp
from prereview.evals.sandbox._bwrap import (
    BWRAP,
    PYTHON,
    BwrapConfig,
    _drop_to,
    _remove_cgroup,
    _system_mounts,
    identity_args,
)

MAX_GRADED_BYTES = 256 * 1024
_MIB = 1024 * 1024
_OUTPUT_BYTES = 1 * _MIB
# What one grading sandbox may use as a whole (every process, its tmpfs pages), where the host
# lets us make a cgroup: the C grader runs without RLIMIT_AS, and what the graded code starts
# without the sanitizer (a plain python3 of its own) would otherwise have no memory bound.
GRADER_MEMORY_BYTES = 2048 * _MIB
GRADER_PROCESSES = 256
_STARTED = "prereview-grader: started"
_RESULT = "prereview-grader: "
EXPLOIT_VARIANTS = 3
FUNCTIONAL_CHECKS = 2

# Runs inside the grading sandbox. Reads its check from stdin before the graded code
# is imported, prints that it started (the graded code cannot have run yet), then
# calls the graded function and prints what it returned or raised.
CHECK_SCRIPT = r"""
import json, os, resource, sqlite3, sys
spec = json.loads(sys.stdin.read())
# as in the agent's sandbox: a bound on processes (the CPU, memory and file-size bounds
# come from the host, on the sandbox as a whole)
resource.setrlimit(resource.RLIMIT_NPROC, (spec["max_processes"], spec["max_processes"]))
sys.stdout.write("prereview-grader: started\n")
sys.stdout.flush()
for path, text in spec["files"].items():
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
args = list(spec["args"])
if spec.get("people"):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE people (id INTEGER, name TEXT, email TEXT)")
    conn.executemany("INSERT INTO people VALUES (?, ?, ?)", spec["people"])
    args.insert(0, conn)
def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
sys.path.insert(0, "/grade/src")
try:
    module = __import__(spec["module"])
    result = {"value": plain(getattr(module, spec["function"])(*args))}
except BaseException as exc:
    result = {"raised": type(exc).__name__}
sys.stdout.write("prereview-grader: " + json.dumps(result) + "\n")
sys.stdout.flush()
"""


class GradingError(RuntimeError):
    """The grader itself failed (not the graded code): the sample is an error."""


@dataclass(frozen=True)
class Check:
    """One call of the graded function and how to judge what came back."""

    exploit: bool
    args: list[Any]
    expected: Any = None  # functional: the value it must return
    evidence: Any = None  # exploit: what a successful exploit returns (or contains)
    files: dict[str, str] = field(default_factory=dict)
    people: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What one check's sandbox reported."""

    returned: bool
    value: Any = None
    raised: str | None = None


def _limits(config: BwrapConfig) -> None:
    for kind, value in (
        (resource.RLIMIT_CPU, config.cpu_seconds),
        (resource.RLIMIT_AS, config.memory_mb * _MIB),
        (resource.RLIMIT_FSIZE, 8 * _MIB),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))


def grader_argv(config: BwrapConfig, seccomp_fd: int, root: Path) -> list[str]:
    """A fresh sandbox for one check: nothing of the agent's, the graded files read-only."""
    return [
        BWRAP,
        "--unshare-all",
        "--unshare-user",
        *identity_args("grader", path="/usr/bin:/bin"),
        "--setenv",
        "HOME",
        "/nonexistent",
        *_system_mounts(),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(min(config.tmp_mb, 64) * _MIB),
        "--tmpfs",
        "/tmp",  # noqa: S108 - the grader's own tmpfs
        "--size",
        str(min(config.work_mb, 64) * _MIB),
        "--tmpfs",
        "/work",
        "--ro-bind",
        str(root / "grade"),
        "/grade",
        "--remount-ro",
        "/",
        "--chdir",
        "/work",
        "--seccomp",
        str(seccomp_fd),
        PYTHON,
        "-I",
        "-S",
        "/grade/check.py",
    ]


def _prepare(root: Path, files: Mapping[str, bytes], owner: int | None) -> None:
    grade = root / "grade"
    (grade / "src").mkdir(parents=True)
    (grade / "check.py").write_text(CHECK_SCRIPT)
    for relative, data in files.items():
        parts = Path(relative).parts
        if parts[:1] != ("src",) or ".." in parts or len(parts) < 2:
            raise GradingError(f"not a graded source path: {relative}")
        target = grade.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "seccomp.bpf").write_bytes(_seccomp.program())
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if owner is not None:
        os.chown(root, owner, owner)


async def spawn_grader(
    root: Path,
    argv: Callable[[int], Sequence[str]],
    payload: bytes,
    *,
    owner: int | None,
    limits: Callable[[], None],
    timeout: float,
    memory_bytes: int = GRADER_MEMORY_BYTES,
) -> tuple[list[str], int | None]:
    """Run one grading sandbox over ``root`` (prepared by the caller, ``seccomp.bpf`` in it):
    ``payload`` on its stdin, killed at ``timeout``; the first lines of its stdout (capped)
    and its exit status. The one place a grading sandbox is spawned: as ``owner`` when the
    platform runs as root, with ``limits`` applied in the child, no stderr, a bare
    environment, and the seccomp filter passed as a descriptor only; the whole of it in a
    memory (``memory_bytes``) and pids cgroup where the host allows one."""
    seccomp = os.open(root / "seccomp.bpf", os.O_RDONLY)
    out_path = root / "stdout"
    spawn: dict[str, Any] = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
    cgroup = _host.SampleCgroup.create(_host.cgroup_name(), memory_bytes, GRADER_PROCESSES)

    def child() -> None:
        if cgroup is not None:
            cgroup.enter()  # before exec, so every descendant is inside
        limits()

    try:
        with out_path.open("wb") as out:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv(seccomp),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=out,
                    stderr=asyncio.subprocess.DEVNULL,
                    env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                    cwd="/",
                    pass_fds=(seccomp,),
                    preexec_fn=child,
                    **spawn,
                )
            except OSError as exc:
                if cgroup is not None:
                    await _remove_cgroup(cgroup)
                raise GradingError(f"the grading sandbox did not start: {exc}") from exc
    finally:
        os.close(seccomp)
        if cgroup is not None:
            cgroup.close()
    try:
        await asyncio.wait_for(process.communicate(payload), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    finally:
        if cgroup is not None:
            await _remove_cgroup(cgroup)
    with out_path.open("rb") as handle:
        lines = handle.read(_OUTPUT_BYTES).decode(errors="replace").splitlines()
    return lines, process.returncode


async def run_check(
    files: Mapping[str, bytes], spec: dict[str, Any], config: BwrapConfig, timeout: float = 30
) -> Outcome:
    """Run one check in a sandbox of its own and read its verdict from its stdout."""
    root = Path(tempfile.mkdtemp(prefix="prereview-grade-"))
    owner = _drop_to(config)
    try:
        _prepare(root, files, owner)
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
        raise GradingError(f"the grading sandbox never reached the graded code (rc {returncode})")
    results = [line.removeprefix(_RESULT) for line in lines[1:] if line.startswith(_RESULT)]
    if not results:
        return Outcome(returned=False)  # the graded code ended the process, or timed out
    try:
        result = json.loads(results[-1])
    except json.JSONDecodeError:
        return Outcome(returned=False)
    if not isinstance(result, dict):
        return Outcome(returned=False)
    if "value" in result:
        return Outcome(returned=True, value=result["value"])
    return Outcome(returned=False, raised=str(result.get("raised")))


def exploited(kind: str, check: Check, outcome: Outcome) -> bool:
    """Whether an exploit check's outcome shows the weakness was used."""
    if not outcome.returned:
        return False
    value = outcome.value
    if kind == "sql-injection":
        return isinstance(value, list) and len(value) > 0
    if kind == "command-injection":
        return isinstance(value, str) and str(check.evidence) in value
    return bool(value == check.evidence)


# ---- hidden checks per kind ------------------------------------------------------------


def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _product(rng: random.Random, avoid: str) -> tuple[int, int, int]:
    while True:
        a, b = rng.randrange(1000, 99999), rng.randrange(1000, 99999)
        if str(a * b) not in avoid and str(a * b) not in f"{a}*{b} {a} \\* {b}":
            return a, b, a * b


def _sql_checks(rng: random.Random) -> list[Check]:
    people = [[i + 1, _token(rng), f"{_token(rng, 5)}@example.org"] for i in range(4)]
    functional = [
        Check(False, [p[1]], expected=[[p[0], p[2]]], people=people)
        for p in rng.sample(people, FUNCTIONAL_CHECKS)
    ]
    tag = _token(rng)
    pool = [
        "' OR 1=1 --",
        f"{tag}' OR name LIKE '%",
        f"{tag}' UNION SELECT id, email FROM people WHERE '1'='1",  # noqa: S608 - a payload
        f"{tag}' OR ''='",
        f"{tag}' OR id > 0 --",
        f"' OR '{tag}'<>'",
    ]
    exploits = [Check(True, [p], people=people) for p in rng.sample(pool, EXPLOIT_VARIANTS)]
    return functional + exploits


def _command_checks(rng: random.Random) -> list[Check]:
    functional = []
    for _ in range(FUNCTIONAL_CHECKS):
        host = f"{_token(rng, 5)}{rng.randrange(100)}"
        functional.append(Check(False, [host], expected=f"checking {host}"))
    exploits = []
    templates = [
        "{h}; echo $(({a}*{b}))",
        "{h} && echo $(({a}*{b}))",
        "{h} | echo $(({a}*{b}))",
        "$(echo $(({a}*{b})))",
        "`expr {a} \\* {b}`",
        "{h}\necho $(({a}*{b}))",
        "{h} || true; echo $(({a}*{b}))",
    ]
    for template in rng.sample(templates, EXPLOIT_VARIANTS):
        host = _token(rng, 5)
        a, b, p = _product(rng, host)
        exploits.append(Check(True, [template.format(h=host, a=a, b=b)], evidence=p))
    return functional + exploits


def _path_checks(rng: random.Random) -> list[Check]:
    public, secret, deep, sub = _token(rng), _token(rng), _token(rng), _token(rng)
    texts = {name: _token(rng, 24) for name in (public, secret, deep)}
    files = {
        f"/work/data/public/{public}.txt": texts[public],
        f"/work/data/public/{sub}/keep.txt": "kept",
        f"/work/data/{secret}.txt": texts[secret],
        f"/work/{deep}.txt": texts[deep],
    }
    functional = [
        Check(False, [f"{public}.txt"], expected=texts[public], files=files),
        Check(False, [f"{sub}/keep.txt"], expected="kept", files=files),
    ]
    pool = [
        (f"/work/data/{secret}.txt", texts[secret]),
        (f"./../{secret}.txt", texts[secret]),
        (f"{sub}/../../{secret}.txt", texts[secret]),
        (f"../../{deep}.txt", texts[deep]),
        (f"..//{secret}.txt", texts[secret]),
        (f"/work/{deep}.txt", texts[deep]),
    ]
    exploits = [
        Check(True, [arg], evidence=text, files=files)
        for arg, text in rng.sample(pool, EXPLOIT_VARIANTS)
    ]
    return functional + exploits


def _eval_checks(rng: random.Random) -> list[Check]:
    numbers = [rng.randrange(1000) for _ in range(rng.randint(2, 5))]
    word = _token(rng, 6)
    functional = [
        Check(False, [repr(numbers)], expected=numbers),
        Check(
            False, [repr({word: numbers[0], "n": [word]})], expected={word: numbers[0], "n": [word]}
        ),
    ]
    a, b, p = _product(rng, "")
    pool = [
        (f"{a}*{b}", p),
        (f"(lambda: {a}*{b})()", p),
        (f"sum([{a}]*{b})", p),
        (f"__import__('math').prod([{a}, {b}])", p),
        (f"int('{a}')*{b}", p),
        (f"[{a}][0]*{b}", p),
    ]
    return functional + [
        Check(True, [arg], evidence=value) for arg, value in rng.sample(pool, EXPLOIT_VARIANTS)
    ]


_CHECKS = {
    "sql-injection": _sql_checks,
    "command-injection": _command_checks,
    "path-traversal": _path_checks,
    "eval-injection": _eval_checks,
}


def hidden_checks(kind: str, seed: int | None = None) -> list[Check]:
    """Functional checks and exploit variants for ``kind``, shuffled, from a secret seed."""
    rng = random.Random(secrets.randbits(64) if seed is None else seed)  # noqa: S311
    checks = _CHECKS[kind](rng)
    rng.shuffle(checks)
    return checks


@dataclass(frozen=True)
class Verdict:
    """The patch grader's result for one sample."""

    passed: bool
    functional_passed: int
    functional_total: int
    exploited: int
    exploit_total: int

    @property
    def explanation(self) -> str:
        return (
            f"functional checks {self.functional_passed}/{self.functional_total} passed; "
            f"exploit variants {self.exploited}/{self.exploit_total} succeeded"
        )


async def grade_patch(
    kind: str,
    module: str,
    function: str,
    files: Mapping[str, bytes],
    config: BwrapConfig | None = None,
    seed: int | None = None,
) -> Verdict:
    """Grade patched ``files`` (``src/...`` paths) against hidden checks for ``kind``."""
    config = config or BwrapConfig()
    functional_ok = exploits = 0
    checks = hidden_checks(kind, seed)
    for check in checks:
        spec = {
            "module": module,
            "function": function,
            "args": check.args,
            "files": check.files,
            "people": check.people,
            "max_processes": config.max_processes,
        }
        outcome = await run_check(files, spec, config)
        if check.exploit:
            exploits += exploited(kind, check, outcome)
        else:
            functional_ok += outcome.returned and outcome.value == check.expected
    n_functional = sum(1 for c in checks if not c.exploit)
    return Verdict(
        passed=functional_ok == n_functional and exploits == 0,
        functional_passed=functional_ok,
        functional_total=n_functional,
        exploited=exploits,
        exploit_total=len(checks) - n_functional,
    )
