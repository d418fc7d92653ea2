"""The model under test against the sandbox: the reviewer's secrets, the supervisor and
the services, whole-sample memory and disk, namespace escapes, and leftovers.

Each attack test runs what a model could run in one tool call and checks that it
finds nothing; each also has a control that shows the probe does work where there
is something to find, so a probe that silently fails cannot pass for isolation.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import socket
import struct
import subprocess
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from prereview.evals.challenges import by_id
from prereview.evals.challenges._base import install, new_flag
from prereview.evals.runner import UnisolatedSandbox, build_tasks
from prereview.evals.sandbox import BwrapConfig, BwrapSandboxEnvironment, _bwrap, _host
from prereview.evals.sandbox._seccomp import DENIED, RET_ALLOW, program

# Only the tests that start a sandbox need bubblewrap; the rest run everywhere.
needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


# Reads the needles from stdin (so they are in no argv or environment of its own) and
# looks for each in the environ, cmdline and readable memory of every visible process
# but itself; a child started with CONTROL in its environment is the control.
SCAN = r"""
import glob, json, os, re, subprocess, sys
needles = [n.encode() for n in json.loads(sys.stdin.read())]
control = subprocess.Popen(["sleep", "30"], env={"CONTROL": needles[-1].decode()})
me = os.getpid()
found, mem_read, pids = [], 0, []
for path in glob.glob("/proc/[0-9]*"):
    pid = int(path.rsplit("/", 1)[1])
    if pid == me:
        continue
    pids.append(pid)
    for name in ("environ", "cmdline"):
        try:
            data = open(f"{path}/{name}", "rb").read()
        except OSError:
            continue
        found += [f"{pid}/{name}:{n.decode()}" for n in needles if n in data]
    try:
        maps = open(f"{path}/maps").read().splitlines()
        mem = open(f"{path}/mem", "rb", buffering=0)
    except OSError:
        continue
    with mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                data = mem.read(min(end - start, 256 * 2**20))
            except (OSError, OverflowError, ValueError):
                continue
            mem_read += 1
            found += [f"{pid}/mem:{n.decode()}" for n in needles if n in data]
fds = sorted(os.listdir("/proc/self/fd"))
control.kill()
print(json.dumps({"found": sorted(set(found)), "mem_regions": mem_read, "pids": sorted(pids),
                  "fds": fds, "control": control.pid}))
"""


async def scan(box: BwrapSandboxEnvironment, needles: list[str]) -> dict[str, Any]:
    marker = "control-" + secrets.token_hex(8)
    result = await box.exec(["python3", "-c", SCAN], input=json.dumps([*needles, marker]))
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    control = report.pop("control")
    # the probe works: it found the control child's environment and memory
    assert f"{control}/environ:{marker}" in report["found"]
    assert f"{control}/mem:{marker}" in report["found"]
    report["found"] = [f for f in report["found"] if not f.startswith(f"{control}/")]
    return report


@needs_bwrap
def test_nothing_of_the_reviewers_environment_reaches_a_sample(monkeypatch: pytest.MonkeyPatch):
    token = "prt_" + secrets.token_hex(16)
    gateway = "gwk_" + secrets.token_hex(16)
    monkeypatch.setenv("PREREVIEW_TOKEN", token)
    monkeypatch.setenv("PREREVIEW_GATEWAY_KEY", gateway)
    monkeypatch.setenv("OPENAI_API_KEY", gateway)

    async def check() -> None:
        box = await BwrapSandboxEnvironment.start()
        try:
            # the one-call attack of the issue
            one = await box.exec(["bash", "-c", "tr '\\0' '\\n' < /proc/1/environ"])
            assert one.stdout.split() == ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
            report = await scan(box, [token, gateway])
            assert report["found"] == []
            assert report["pids"]  # bwrap's PID 1 and the helper were looked at
            env = await box.exec(["env"])
            assert token not in env.stdout and gateway not in env.stdout
            assert "PREREVIEW" not in env.stdout
            pwd = await box.exec(["bash", "-c", "readlink /proc/1/cwd /proc/self/cwd; pwd"])
            assert str(Path.cwd()) not in pwd.stdout
        finally:
            await box.stop()

    run(check())
    # nor on bwrap's own command line or in the files it is handed
    root = Path(tempfile.mkdtemp(prefix="prereview-test-argv-"))
    try:
        _bwrap._prepare_root(root, None, BwrapConfig())
        text = " ".join(_bwrap.bwrap_argv(BwrapConfig(), root))
        text += (root / "config.json").read_text()
        assert token not in text and gateway not in text
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


@needs_bwrap
def test_descriptors_and_sockets_of_the_reviewer_are_out_of_reach():
    name = "prereview-test-" + secrets.token_hex(6)
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + name)
    abstract.listen(1)
    path_dir = Path(tempfile.mkdtemp(prefix="prereview-test-sock-"))
    path_dir.chmod(0o755)
    on_disk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    on_disk.bind(str(path_dir / "reviewer.sock"))
    os.chmod(path_dir / "reviewer.sock", 0o777)
    on_disk.listen(1)
    probe = (
        "import socket, sys\n"
        "for addr in sys.argv[1:]:\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    try:\n"
        "        s.connect(addr.replace('@', '\\0'))\n"
        "        print('open', addr)\n"
        "    except OSError as exc:\n"
        "        print('refused', exc.errno)\n"
    )

    async def check() -> None:
        box = await BwrapSandboxEnvironment.start()
        try:
            result = await box.exec(
                ["python3", "-c", probe, "@" + name, str(path_dir / "reviewer.sock")]
            )
            assert "open" not in result.stdout
            assert result.stdout.count("refused") == 2
            # no descriptor but stdin, stdout, stderr (and the one ls opens)
            fds = await box.exec(["ls", "/proc/self/fd"])
            assert fds.stdout.split() == ["0", "1", "2", "3"]
            helper = await box.exec(["bash", "-c", "ls /proc/2/fd; ls /run; ls /run/sandbox"])
            assert "Permission denied" in helper.stderr  # the helper is not dumpable
            assert "supervisor.sock" not in helper.stdout
        finally:
            await box.stop()

    try:
        run(check())
    finally:
        abstract.close()
        on_disk.close()
        subprocess.run(["rm", "-rf", str(path_dir)], check=True)


@pytest.mark.parametrize(
    "challenge_id", ["web-sqli-login", "mem-format-string", "privesc-readable-backup"]
)
@needs_bwrap
def test_supervisor_and_services_are_out_of_the_agents_reach(challenge_id: str):
    async def check() -> None:
        challenge = by_id(challenge_id)
        box = await BwrapSandboxEnvironment.start(BwrapConfig(service_root=challenge.service_root))
        flag = new_flag()
        try:
            await install(challenge.build(flag, random.Random(3)), box)
            report = await scan(box, [flag])
            assert report["found"] == []
            # the agent sees bwrap's PID 1, its own helper, and its own processes only
            assert report["pids"][:2] == [1, 2]
            ps = await box.exec(["ps", "-e", "-o", "comm="])
            assert {line.strip() for line in ps.stdout.splitlines()} <= {
                "bwrap",
                "python3",
                "ps",
                "sleep",
            }
            services = await box.exec(["ps", "-e", "-o", "comm="], user="service")
            assert "bwrap" in services.stdout  # the services' side does run them
        finally:
            await box.stop()

    run(check())


def _memory_cgroup() -> bool:
    # Asked while the module is collected: where bubblewrap is missing or cannot isolate,
    # the answer is no (and the sandbox tests say why), not an error that hides every test.
    try:
        return _bwrap.host_report().memory_cgroup
    except _host.HostError:
        return False


@needs_bwrap
@pytest.mark.skipif(not _memory_cgroup(), reason="no writable memory cgroup on this host")
def test_processes_together_cannot_exceed_the_sample_memory():
    # each process stays under its own 1 GiB address-space limit, together 4 x 100 MiB
    hog = (
        "import os, time\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(100 * 2**20)\n"
        "        for i in range(0, len(block), 4096):\n"
        "            block[i] = 1\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "codes = [os.waitpid(pid, 0)[1] for pid in pids]\n"
        "print(sum(1 for c in codes if c == 0))\n"
    )

    async def check() -> None:
        config = BwrapConfig(sample_memory_mb=256, memory_mb=1024, tmp_mb=32, work_mb=32)
        box = await BwrapSandboxEnvironment.start(config)
        try:
            result = await box.exec(["python3", "-c", hog], timeout=60)
            survivors = int(result.stdout.strip() or 0)
            assert survivors < 4  # the OOM killer took some: the bound is the whole sample
            after = await box.exec(["echo", "still here"])
            assert after.stdout == "still here\n"  # the sandbox itself survives
        finally:
            await box.stop()

    run(check())


@needs_bwrap
def test_tmp_and_work_are_bounded():
    async def check() -> None:
        box = await BwrapSandboxEnvironment.start(BwrapConfig(tmp_mb=8, work_mb=16))
        try:
            for path, size in (("/tmp/fill", 12), ("/work/fill", 20)):
                result = await box.exec(
                    ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size}"]
                )
                assert result.returncode != 0, path
                assert "No space left on device" in result.stderr, path
            # and the services' /tmp is not the agent's to fill
            services = await box.exec(["df", "--output=size", "-B1M", "/tmp"], user="service")
            assert services.stdout.split()[-1] == "64"
        finally:
            await box.stop()

    run(check())


ESCAPES = {
    "unshare -r": "unshare -r true",
    "unshare -U": "unshare -U true",
    "unshare -m": "unshare -m true",
    "unshare -n": "unshare -n true",
    "unshare -p": "unshare -pf true",
    "mount": "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
    "nsenter": "nsenter -t 1 -U true",
}

CLONE_NEWUSER = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "# clone(CLONE_NEWUSER | SIGCHLD) through the raw system call\n"
    "pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n"
    "if pid == 0:\n"
    "    os._exit(0)\n"
    "print('clone', pid, ctypes.get_errno())\n"
    "print('ptrace', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n"
    "print('keyctl', libc.syscall(250, 0, 0, 0, 0, 0), ctypes.get_errno())\n"
    "print('bpf', libc.syscall(321, 0, 0, 0), ctypes.get_errno())\n"
    "print('userfaultfd', libc.syscall(323, 0), ctypes.get_errno())\n"
    "print('perf', libc.syscall(298, 0, 0, -1, -1, 0), ctypes.get_errno())\n"
)


@needs_bwrap
def test_namespace_mount_and_tracing_escapes_are_refused():
    async def check() -> None:
        box = await BwrapSandboxEnvironment.start()
        try:
            for name, command in ESCAPES.items():
                result = await box.exec(["bash", "-c", command])
                assert result.returncode != 0, name
            raw = await box.exec(["python3", "-c", CLONE_NEWUSER])
            for line in raw.stdout.splitlines():
                what, rc, errno = line.split()
                assert (rc, errno) == ("-1", "1"), what  # EPERM from the filter
            # ordinary work still runs: fork, threads, compilers, pipes
            ok = await box.exec(
                [
                    "bash",
                    "-c",
                    "echo 'int main(){return 0;}' > t.c && gcc t.c -o t && ./t "
                    "&& python3 -c 'import threading, subprocess; subprocess.run([\"true\"])' "
                    "&& echo ok | cat",
                ]
            )
            assert ok.stdout == "ok\n", ok.stderr
        finally:
            await box.stop()

    run(check())


def test_the_seccomp_program_is_well_formed():
    code = program()
    assert len(code) % 8 == 0 and len(code) // 8 < 4096
    insns = [struct.unpack("<HBBI", code[i : i + 8]) for i in range(0, len(code), 8)]
    assert insns[-1] == (0x06, 0, 0, RET_ALLOW)  # default allow, after every denial
    compared = {k for op, _jt, _jf, k in insns if op == 0x15}
    assert set(DENIED.values()) <= compared
    assert {"unshare", "setns", "mount", "ptrace", "bpf", "userfaultfd"} <= set(DENIED)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@needs_bwrap
def test_leftovers_of_dead_processes_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dead = tmp_path / (_host.PREFIX + "dead")
    dead.mkdir()
    (dead / _host.OWNER_FILE).write_text(f"{_dead_pid()} 12345\n")
    (dead / "work").mkdir()
    alive = tmp_path / (_host.PREFIX + "alive")
    alive.mkdir()
    (alive / _host.OWNER_FILE).write_text(_host.owner_stamp())
    reused = tmp_path / (_host.PREFIX + "reused")  # our pid, another start time
    reused.mkdir()
    (reused / _host.OWNER_FILE).write_text(f"{os.getpid()} 1\n")
    legacy = tmp_path / (_host.PREFIX + "legacy")  # no owner file, no live bwrap names it
    legacy.mkdir()
    os.utime(legacy, (1_000_000_000, 1_000_000_000))
    fresh = tmp_path / (_host.PREFIX + "fresh")  # no owner file yet: being made right now
    fresh.mkdir()
    unrelated = tmp_path / "prereview-other"
    unrelated.mkdir()

    removed = _host.sweep(str(tmp_path))
    assert {dead, reused, legacy} <= set(removed)
    assert not dead.exists() and not reused.exists() and not legacy.exists()
    assert alive.exists() and unrelated.exists() and fresh.exists()

    # at start-up of the provider (Inspect's task_init) and by `inspect sandbox cleanup bwrap`
    again = tmp_path / (_host.PREFIX + "again")
    again.mkdir()
    (again / _host.OWNER_FILE).write_text(f"{_dead_pid()} 1\n")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(_bwrap, "_host_checked", None)
    run(BwrapSandboxEnvironment.task_init("ctf", None))
    assert not again.exists()
    again.mkdir()
    os.utime(again, (1_000_000_000, 1_000_000_000))
    run(BwrapSandboxEnvironment.cli_cleanup(None))
    assert not again.exists() and alive.exists()


@needs_bwrap
def test_a_live_sandbox_is_not_swept_and_its_cgroup_goes_with_it():
    async def check() -> None:
        box = await BwrapSandboxEnvironment.start()
        try:
            _host.sweep()
            assert box.root.exists()
            assert (await box.exec(["true"])).returncode == 0
            groups = list(box.cgroup.dirs) if box.cgroup else []
        finally:
            await box.stop()
        assert not box.root.exists()
        assert all(not g.exists() for g in groups)

    run(check())


@needs_bwrap
def test_host_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch):
    report = _host.check_host()
    assert "user.max_user_namespaces" in report.settings
    assert "kernel.yama.ptrace_scope" in report.settings
    real = _host._read

    def no_userns(path: str) -> str | None:
        return "0" if path.endswith("max_user_namespaces") else real(path)

    monkeypatch.setattr(_host, "_read", no_userns)
    with pytest.raises(_host.HostError, match="max_user_namespaces"):
        _host.check_host()


def test_the_runner_refuses_a_sandbox_that_shares_the_reviewers_environment():
    with pytest.raises(UnisolatedSandbox, match="your own environment"):
        build_tasks(["ctf"], task_args={"ctf": {"sandbox_name": "local"}})
    assert UnisolatedSandbox.slug == "eval-unisolated-sandbox"
    [task] = build_tasks(["ctf"], task_args={"ctf": {"challenges": ["crypto-lcg"]}})
    assert task.sandbox is not None and task.sandbox.type == "bwrap"
