"""Running a proof of concept in the evaluation sandbox, once per package version.

The PoC is the reporter's code and is treated as the model under test is: each run gets a
fresh bubblewrap sandbox (:mod:`prereview.evals.sandbox`: no network but its own loopback, an
empty environment, nothing of the host mounted but the system's ``/usr``, CPU, memory, process
and file-size limits) holding the release's files and the script, and nothing else. The
interpreter runs isolated and without ``site`` (``python3 -I -S``), so the only third-party
code it can import is the release installed for the run, not a copy the host happens to have.
A ``node`` PoC runs as ``/tmp/poc.js`` under the system's ``node``, with the npm release in the
sandbox's ``/tmp/node_modules`` (as the realworld JavaScript tasks install it), so ``require``
finds that release and nothing else.

This module decides nothing: it returns what happened (exit status, capped stdout and stderr,
duration, the release's hash) and :mod:`.verdict` judges it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from prereview.clearinghouse.reproduction.sources import Artefact, install_tree
from prereview.evals.sandbox import BwrapConfig, BwrapSandboxEnvironment, SandboxError

PYTHON = "/usr/bin/python3"
NODE = "/usr/bin/node"
SITE = "/work/site"
SCRIPT = "/work/poc.py"
NODE_MODULES = "/tmp/node_modules"  # noqa: S108 - the sandbox's own tmpfs
NODE_SCRIPT = "/tmp/poc.js"  # noqa: S108 - beside node_modules, where require looks
MAX_LOG_BYTES = 16 * 1024
# The PoC runs as __main__ with only the stdlib and the installed release importable.
_RUNNER = (
    f"import runpy, sys; sys.path.insert(0, {SITE!r}); sys.argv = [{SCRIPT!r}]; "
    f"runpy.run_path({SCRIPT!r}, run_name='__main__')"
)


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    timeout_s: int = 60
    cpu_seconds: int = 60
    memory_mb: int = 1024
    max_processes: int = 64

    def config(self) -> BwrapConfig:
        return BwrapConfig(
            cpu_seconds=self.cpu_seconds,
            memory_mb=self.memory_mb,
            max_processes=self.max_processes,
            max_file_mb=32,
            sample_memory_mb=1536,
            tmp_mb=128,
            work_mb=256,
        )


@dataclass(frozen=True)
class RunResult:
    """One run of the PoC against one release."""

    version: str
    filename: str
    sha256: str
    origin: str
    exit_status: int | None
    timed_out: bool
    stdout: str
    stderr: str
    duration_s: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _cap(text: str) -> str:
    # The head and the tail: a PoC that floods its output before printing its marker keeps
    # the marker (the sandbox itself hands over at most the last 10 MiB of each stream).
    data = text.encode()
    if len(data) <= MAX_LOG_BYTES:
        return text
    half = MAX_LOG_BYTES // 2
    head = data[:half].decode(errors="ignore")
    return f"{head}\n[... {len(data)} bytes in all ...]\n{data[-half:].decode(errors='ignore')}"


def _layout(ecosystem: str) -> tuple[str, str, list[str], str]:
    """Where the release and the script go, and the command and folder it runs with: an npm
    release's PoC is JavaScript (the store checks the pair), anything else Python."""
    if ecosystem == "npm":
        return NODE_MODULES, NODE_SCRIPT, [NODE, NODE_SCRIPT], "/tmp"  # noqa: S108
    return SITE, SCRIPT, [PYTHON, "-I", "-S", "-c", _RUNNER], "/work"


async def _run(script: bytes, artefact: Artefact, limits: Limits) -> RunResult:
    tree = install_tree(artefact)
    site, script_path, command, cwd = _layout(artefact.ecosystem)
    started = time.monotonic()
    sandbox = await BwrapSandboxEnvironment.start(limits.config())
    try:
        for path, data in sorted(tree.items()):
            await sandbox.write_file(f"{site}/{path}", data)
        await sandbox.write_file(script_path, script)
        timed_out, exit_status, stdout, stderr = False, None, "", ""
        try:
            result = await sandbox.exec(command, cwd=cwd, timeout=limits.timeout_s)
            exit_status, stdout, stderr = result.returncode, result.stdout, result.stderr
        except TimeoutError:
            timed_out = True
    finally:
        await sandbox.stop()
    return RunResult(
        version=artefact.version,
        filename=artefact.filename,
        sha256=artefact.sha256,
        origin=artefact.origin,
        exit_status=exit_status,
        timed_out=timed_out,
        stdout=_cap(stdout),
        stderr=_cap(stderr),
        duration_s=round(time.monotonic() - started, 3),
    )


def run_poc(script: bytes, artefact: Artefact, limits: Limits | None = None) -> RunResult:
    """Run ``script`` against ``artefact`` in a fresh sandbox (blocking; its own event loop):
    under ``node`` for an npm release, else ``python3``."""
    try:
        return asyncio.run(_run(script, artefact, limits or Limits()))
    except SandboxError as exc:
        return RunResult(
            version=artefact.version,
            filename=artefact.filename,
            sha256=artefact.sha256,
            origin=artefact.origin,
            exit_status=None,
            timed_out=False,
            stdout="",
            stderr="",
            duration_s=0.0,
            error=f"the sandbox could not run it: {exc}",
        )
