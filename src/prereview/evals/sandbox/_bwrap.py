"""Inspect sandbox provider built on bubblewrap, for hosts without Docker.

Each sample gets two nested sandboxes. The outer one (one long-lived ``bwrap``
process, the sample's "container") has new user, PID, network, IPC, UTS and cgroup
namespaces, no network but loopback, the system directories (``/usr`` and a handful
of ``/etc`` files) read-only, and size-bounded tmpfs mounts for ``/work`` and its own
``/tmp``. Its PID 2 is the supervisor (``_inner.py``), which runs the challenge's
set-up and services and, at start-up, the agent's sandbox: a second ``bwrap`` inside
the first, with its own user, PID, IPC and UTS namespaces, its own size-bounded
``/tmp``, the shared ``/work`` and the shared loopback (the challenge's socket), and a
seccomp filter (``_seccomp.py``) that refuses namespaces, mounts, tracing and the other
escape primitives. The agent therefore sees only its own processes; the supervisor and
the services, in the outer PID namespace, are invisible to it and non-dumpable.

Nothing of the reviewer reaches a sample: ``bwrap`` is started with an empty
environment but ``PATH`` and ``LANG``, from ``/`` as its working directory, with no
inherited descriptor but its pipes, and with no secret on its command line; nothing of
the host is mounted, so the platform's database, key files and other samples'
directories do not exist inside; paths given as ``hide`` are masked as well, in case
an extra bind would expose them. Where the host allows it (root, or a delegated
cgroup) the whole sample (every process, and the tmpfs pages) is bounded by a memory
and a pids cgroup; otherwise by the per-process limits and the tmpfs sizes. Cleanup
kills every process in the sandbox and removes the sample's directory and cgroups;
the directories and cgroups of a crashed run are swept at the next start-up and by
``inspect sandbox cleanup bwrap``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Literal, Self, overload

from inspect_ai.util import ExecResult, SandboxEnvironment, SandboxEnvironmentConfigType, sandboxenv
from inspect_ai.util._sandbox.environment import SandboxUserUnsupportedError
from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import override

from prereview.evals.sandbox import _host, _seccomp

log = logging.getLogger(__name__)

BWRAP = "/usr/bin/bwrap"
PYTHON = "/usr/bin/python3"
SANDBOX_UID = 1000
SERVICE_USER = "service"
# the sample metadata that asks for the services to run as the sandbox's root
SERVICE_ROOT_KEY = "sandbox_users"
SERVICE_ROOT = "service-root"
# what the services' root may do inside the sample's own user namespace (which maps two
# unprivileged host uids and nothing else): set up the challenge's files and owners
_SERVICE_ROOT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
)
_INNER = Path(__file__).with_name("_inner.py")
_ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "profile",
    "profile.d",
    "bash.bashrc",
    "localtime",
    "nsswitch.conf",
    "protocols",
    "services",
    "magic",
    "magic.mime",
    "inputrc",
)
_USERS = {"sandbox", str(SANDBOX_UID)}
_SERVICE_TMP_MB = 64
_MIB = 1024 * 1024
# what bwrap, and the command it starts, get from the platform's environment: nothing
# else, so /proc/1/environ inside holds nothing of the reviewer
_SPAWN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class SandboxError(RuntimeError):
    """The sandbox could not be started or stopped answering."""


class BwrapConfig(BaseModel):
    """Limits and isolation settings of the bubblewrap sandbox (one per task)."""

    model_config = ConfigDict(frozen=True)

    cpu_seconds: int = Field(default=60, ge=1, description="CPU time per command")
    memory_mb: int = Field(default=1024, ge=16, description="address space per process")
    max_processes: int = Field(default=128, ge=4, description="processes in the sandbox")
    max_file_mb: int = Field(default=64, ge=1, description="largest file a command may write")
    sample_memory_mb: int = Field(
        default=2048,
        ge=64,
        description="memory of the whole sample, tmpfs included (where a cgroup can be made)",
    )
    tmp_mb: int = Field(default=256, ge=1, description="size of the agent's /tmp (tmpfs)")
    work_mb: int = Field(default=512, ge=1, description="size of /work (tmpfs)")
    start_timeout: float = Field(default=15.0, gt=0)
    hide: tuple[str, ...] = Field(default=(), description="host paths masked inside")
    ro_binds: tuple[str, ...] = Field(default=(), description="extra host paths, read-only")
    host_uid: int = Field(
        default=65534,
        description="unprivileged host uid that runs bwrap when the platform runs as root",
    )
    service_root: bool = Field(
        default=False,
        description="run the services as the sandbox's root, a second unprivileged host uid "
        "(service_host_uid), and the agent as uid 1000 (host_uid): privilege escalation "
        "tasks; needs the platform to run as root",
    )
    service_host_uid: int = Field(
        default=65533,
        ge=1,
        description="unprivileged host uid of the services' root when service_root is set",
    )

    @model_validator(mode="after")
    def _disks_fit_in_memory(self) -> Self:
        disks = self.tmp_mb + self.work_mb + _SERVICE_TMP_MB
        if disks >= self.sample_memory_mb:
            raise ValueError(
                f"tmp_mb + work_mb + {_SERVICE_TMP_MB} (the services' /tmp) = {disks} MiB "
                f"must stay below sample_memory_mb ({self.sample_memory_mb}): the tmpfs "
                "mounts live in the sample's memory"
            )
        if self.service_root and self.service_host_uid == self.host_uid:
            raise ValueError("service_host_uid must differ from host_uid (the agent's)")
        return self


def second_uid_available() -> bool:
    """Whether this host can give a sample's services a uid of their own (``service_root``):
    the user namespace's map of two uids is written by the platform, which needs root."""
    return os.geteuid() == 0


def _system_mounts() -> list[str]:
    argv = ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{link}"]
    for name in _ETC_FILES:
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return argv


def _extra_mounts(config: BwrapConfig) -> list[str]:
    argv: list[str] = []
    for path in config.ro_binds:  # after /tmp, so a bind under /tmp is not shadowed
        argv += ["--ro-bind", path, path]
    for path in config.hide:
        if Path(path).is_dir():
            argv += ["--tmpfs", path]
        else:
            argv += ["--ro-bind", "/dev/null", path]
    return argv


def identity_args(
    hostname: str, path: str = _SPAWN_ENV["PATH"], uid: int = SANDBOX_UID
) -> list[str]:
    """Who a sandbox's processes are and what they inherit: the sandbox uid, a fixed host name,
    death with the parent, a session of their own and an environment holding only ``PATH``."""
    return [
        "--uid",
        str(uid),
        "--gid",
        str(uid),
        "--hostname",
        hostname,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        path,
    ]


def bwrap_argv(
    config: BwrapConfig, root: Path, userns_fds: tuple[int, int] = (-1, -1)
) -> list[str]:
    """Build the outer (services') bubblewrap command line for a sandbox rooted at ``root``.

    With ``service_root``, ``userns_fds`` are the descriptors (block, info) through which
    bwrap waits while the platform writes its user namespace's map of two uids."""
    argv = [BWRAP, "--unshare-all", "--unshare-user"]
    if config.service_root:
        block, info = userns_fds
        argv += ["--userns-block-fd", str(block), "--info-fd", str(info)]
        argv += [arg for cap in _SERVICE_ROOT_CAPS for arg in ("--cap-add", cap)]
    argv += [*identity_args("sandbox", uid=0 if config.service_root else SANDBOX_UID)]
    if config.service_root:  # bwrap makes a bind's parents 0700, its root's: the agent's way
        argv += [arg for d in ("/etc", "/run") for arg in ("--perms", "0755", "--dir", d)]
    argv += _system_mounts()
    for name in ("passwd", "group", "hosts"):
        argv += ["--ro-bind", str(root / "etc" / name), f"/etc/{name}"]
    argv += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(_SERVICE_TMP_MB * _MIB),
        "--tmpfs",
        "/tmp",  # noqa: S108 - a private tmpfs inside the sandbox
        "--size",
        str(config.work_mb * _MIB),
        "--tmpfs",
        "/work",
        *(["--chmod", "1777", "/work"] if config.service_root else []),
        "--bind",
        str(root / "ctl"),
        "/run/sandbox",
        "--ro-bind",
        str(root / "supervisor.py"),
        "/run/supervisor.py",
        "--ro-bind",
        str(root / "config.json"),
        "/run/config.json",
        "--ro-bind",
        str(root / "seccomp.bpf"),
        "/run/seccomp.bpf",
        *_extra_mounts(config),
        "--remount-ro",
        "/",
        "--chdir",
        "/work",
    ]
    return argv


def agent_argv(config: BwrapConfig) -> list[str]:
    """The nested (agent's) bubblewrap options, with paths as the outer sandbox sees them."""
    return [
        BWRAP,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *identity_args("sandbox"),
        *_system_mounts(),
        *(
            arg
            for name in ("passwd", "group", "hosts")
            for arg in ("--ro-bind", f"/etc/{name}", f"/etc/{name}")
        ),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(config.tmp_mb * _MIB),
        "--tmpfs",
        "/tmp",  # noqa: S108 - the agent's own tmpfs
        "--bind",
        "/work",
        "/work",
        "--ro-bind",
        "/run/supervisor.py",
        "/run/supervisor.py",
        "--ro-bind",
        "/run/config.json",
        "/run/config.json",
        *_extra_mounts(config),
        "--remount-ro",
        "/",
        "--chdir",
        "/work",
    ]


def resolve_config(config: SandboxEnvironmentConfigType | None) -> BwrapConfig:
    """The sandbox settings from what Inspect hands over (model, dict or nothing)."""
    if config is None:
        return BwrapConfig()
    if isinstance(config, BwrapConfig):
        return config
    if isinstance(config, BaseModel):
        return BwrapConfig.model_validate(config.model_dump())
    raise ValueError(f"the bwrap sandbox takes a BwrapConfig, not a config file: {config!r}")


def _config_file(config: BwrapConfig) -> str:
    """What the supervisor and the agent helper read at start-up (no secret in it)."""
    limits = {
        "cpu_seconds": config.cpu_seconds,
        "memory_bytes": config.memory_mb * _MIB,
        "max_processes": config.max_processes,
        "max_file_bytes": config.max_file_mb * _MIB,
    }
    agent_command = [PYTHON, "-I", "-S", "/run/supervisor.py", "agent", "/run/config.json"]
    return json.dumps(
        {
            "limits": limits,
            "seccomp": "/run/seccomp.bpf",
            "agent_bwrap": agent_argv(config),
            "agent_command": agent_command,
            # with service_root the supervisor is the sandbox's root: the agent drops to this
            "agent_uid": SANDBOX_UID if config.service_root else None,
        }
    )


def _drop_to(config: BwrapConfig) -> int | None:
    # As root, the sandbox user would map to host root, which is exempt from
    # RLIMIT_NPROC and owns every root file; run bwrap as an unprivileged uid instead
    # (with service_root, the services' uid: the agent's is mapped in beside it).
    if os.geteuid() != 0:
        return None
    return config.service_host_uid if config.service_root else config.host_uid


def _prepare_root(root: Path, owner: int | None, config: BwrapConfig | None = None) -> None:
    (root / _host.OWNER_FILE).write_text(_host.owner_stamp())
    for name in ("ctl", "etc"):
        (root / name).mkdir()
        if owner is not None:
            os.chown(root / name, owner, owner)
    if owner is not None:
        os.chown(root, owner, owner)
    # copies, so the unprivileged host user need not reach the installed package
    shutil.copyfile(_INNER, root / "supervisor.py")
    (root / "seccomp.bpf").write_bytes(_seccomp.program())
    (root / "config.json").write_text(_config_file(config or BwrapConfig()))
    service_root = config is not None and config.service_root
    (root / "etc" / "passwd").write_text(
        ("root:x:0:0:root:/root:/usr/sbin/nologin\n" if service_root else "")
        + f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:/work:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text(
        ("root:x:0:\n" if service_root else "") + f"sandbox:x:{SANDBOX_UID}:\nnogroup:x:65534:\n"
    )
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")


_host_checked: _host.HostReport | None = None


def host_report() -> _host.HostReport:
    """Check the host once per process and sweep what crashed runs left behind."""
    global _host_checked
    if _host_checked is None:
        _host_checked = _host.check_host(BWRAP)
        _host.sweep()
        if not _host_checked.memory_cgroup:
            log.warning(
                "no writable memory cgroup: each sample is bounded per process and by its "
                "tmpfs sizes only (run as root or delegate a cgroup for a whole-sample bound)"
            )
    return _host_checked


@sandboxenv(name="bwrap")
class BwrapSandboxEnvironment(SandboxEnvironment):
    """One sample's bubblewrap sandbox; see the module docstring for the isolation."""

    def __init__(
        self,
        root: Path,
        process: asyncio.subprocess.Process,
        config: BwrapConfig,
        cgroup: _host.SampleCgroup | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.root = root
        self.process = process
        self.cgroup = cgroup
        self.socket = str(root / "ctl" / "supervisor.sock")

    @classmethod
    async def start(cls, config: BwrapConfig | None = None) -> BwrapSandboxEnvironment:
        """Start a sandbox outside of an evaluation (tests, benchmarks)."""
        config = config or BwrapConfig()
        host_report()
        if config.service_root and not second_uid_available():
            raise SandboxError(
                "this sample's services need a uid of their own (service_root): the "
                "platform must run as root to map a second uid into the sandbox"
            )
        root = Path(tempfile.mkdtemp(prefix=_host.PREFIX))
        owner = _drop_to(config)
        try:
            _prepare_root(root, owner, config)
        except _seccomp.UnsupportedArchitecture as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise SandboxError(str(exc)) from exc
        userns = _UsernsHandshake() if config.service_root else None
        argv = [
            *bwrap_argv(config, root, userns.child_fds if userns else (-1, -1)),
            PYTHON,
            "-I",
            "-S",
            "/run/supervisor.py",
            "supervisor",
            "/run/config.json",
            "/run/sandbox/supervisor.sock",
        ]
        cgroup = _host.SampleCgroup.create(
            _host.cgroup_name(), config.sample_memory_mb * _MIB, config.max_processes + 32
        )
        spawn: dict[str, Any] = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
        if cgroup is not None:
            spawn["preexec_fn"] = cgroup.enter  # before exec, so every descendant is inside
        if userns is not None:
            spawn["pass_fds"] = userns.child_fds
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=_SPAWN_ENV,
                cwd="/",
                close_fds=True,
                **spawn,
            )
        finally:
            if cgroup is not None:
                cgroup.close()
            if userns is not None:
                userns.close_child_ends()
        try:
            if userns is not None:
                await asyncio.wait_for(userns.map_two_uids(config), config.start_timeout)
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), config.start_timeout)
        except (TimeoutError, OSError, ValueError):
            line = b""
        finally:
            if userns is not None:
                userns.close()
        if line.strip() != b"ready":
            _kill(process)
            err = b""
            with contextlib.suppress(TimeoutError):
                _out, err = await asyncio.wait_for(process.communicate(), 5)
            shutil.rmtree(root, ignore_errors=True)
            if cgroup is not None:
                await _remove_cgroup(cgroup)
            raise SandboxError(f"bubblewrap sandbox did not start: {err.decode(errors='replace')}")
        return cls(root, process, config, cgroup)

    async def stop(self) -> None:
        """Kill every process in the sandbox and delete its directory and cgroups."""
        if self.process.returncode is None:
            with contextlib.suppress(OSError, SandboxError, TimeoutError):
                await asyncio.wait_for(self._call({"op": "shutdown"}, side="service"), 5)
            _kill(self.process)
        # drain the pipes too, so the transport closes inside this event loop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.communicate(), 5)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.cgroup is not None:
            await _remove_cgroup(self.cgroup)

    @override
    @classmethod
    def config_deserialize(cls, config: dict[str, Any]) -> BaseModel:
        return BwrapConfig(**config)

    @override
    @classmethod
    def default_concurrency(cls) -> int | None:
        return max(4, (os.cpu_count() or 1) * 4)

    @override
    @classmethod
    async def sample_init(
        cls,
        task_name: str,
        config: SandboxEnvironmentConfigType | None,
        metadata: dict[str, str],
    ) -> dict[str, SandboxEnvironment]:
        resolved = resolve_config(config)
        if metadata.get(SERVICE_ROOT_KEY) == SERVICE_ROOT:
            resolved = resolved.model_copy(update={"service_root": True})
        return {"default": await cls.start(resolved)}

    @override
    @classmethod
    async def sample_cleanup(
        cls,
        task_name: str,
        config: SandboxEnvironmentConfigType | None,
        environments: dict[str, SandboxEnvironment],
        interrupted: bool,
    ) -> None:
        for environment in environments.values():
            await environment.as_type(BwrapSandboxEnvironment).stop()

    @override
    @classmethod
    async def task_init(cls, task_name: str, config: SandboxEnvironmentConfigType | None) -> None:
        host_report()

    @override
    @classmethod
    async def cli_cleanup(cls, id: str | None) -> None:
        for path in _host.sweep():
            print(f"removed {path}")

    async def _call(
        self,
        request: dict[str, Any],
        timeout: float | None = None,
        side: Literal["agent", "service"] = "agent",
    ) -> dict[str, Any]:
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket, limit=2**28)
        except OSError as exc:
            raise SandboxError(f"sandbox is not running: {exc}") from exc
        try:
            writer.write(side.encode().ljust(8) + json.dumps(request).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
        finally:
            writer.close()
        if not line:
            raise SandboxError("sandbox closed the connection")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise _error(answer["error"], answer.get("message", ""))
        return answer

    @override
    async def exec(
        self,
        cmd: list[str],
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: int | None = None,
        timeout_retry: bool = True,
        concurrency: bool = True,
    ) -> ExecResult[str]:
        """Run a command as the agent (``user`` None or ``sandbox``) or, with ``user``
        ``service``, on the services' side: another PID namespace and ``/tmp``, which the
        agent cannot see, sharing ``/work`` and loopback with it."""
        if user is not None and user not in _USERS and user != SERVICE_USER:
            raise SandboxUserUnsupportedError(
                f"the bwrap sandbox runs as 'sandbox' (the agent) or '{SERVICE_USER}' "
                f"(the challenge's set-up and services, out of the agent's sight), not {user}"
            )
        side: Literal["agent", "service"] = "service" if user == SERVICE_USER else "agent"
        data = input.encode() if isinstance(input, str) else input
        request = {
            "op": "exec",
            "cmd": cmd,
            "cwd": cwd,
            "env": env or {},
            "timeout": timeout,
            "input": base64.b64encode(data).decode() if data is not None else None,
        }
        answer = await self._call(request, None if timeout is None else timeout + 10, side)
        if answer.get("timeout"):
            raise TimeoutError(f"command timed out after {timeout} seconds")
        rc = int(answer["rc"])
        return ExecResult(
            success=rc == 0,
            returncode=rc,
            stdout=base64.b64decode(answer["stdout"]).decode(errors="replace"),
            stderr=base64.b64decode(answer["stderr"]).decode(errors="replace"),
        )

    @override
    async def write_file(self, file: str, contents: str | bytes) -> None:
        data = contents.encode() if isinstance(contents, str) else contents
        await self._call({"op": "write", "path": file, "data": base64.b64encode(data).decode()})

    async def write_secret(self, file: str, contents: str) -> None:
        """Write a file (mode 0600) on the services' side, where the agent cannot see it."""
        request = {
            "op": "write",
            "path": file,
            "data": base64.b64encode(contents.encode()).decode(),
        }
        await self._call({**request, "secret": True}, side="service")

    async def write_executable(self, file: str, contents: str | bytes) -> None:
        """Write a file and mark it executable (mode 0755)."""
        data = contents.encode() if isinstance(contents, str) else contents
        request = {"op": "write", "path": file, "data": base64.b64encode(data).decode()}
        await self._call({**request, "mode": 0o755})

    async def end_agent(self) -> None:
        """Kill every process on the agent's side (its whole nested sandbox), for good.

        Graders call this before they copy anything out: nothing the agent started,
        in the background or not, runs any more, and later agent-side calls fail."""
        await self._call({"op": "end_agent"}, 30, side="service")

    async def collect(self, paths: list[str], max_bytes: int) -> dict[str, bytes | None]:
        """Copies of regular files under ``/work`` (relative paths), read on the services'
        side without following any symlink; None for a file that is absent, not a
        regular file, reached through a link, or larger than ``max_bytes``."""
        answer = await self._call(
            {"op": "collect", "paths": paths, "max_bytes": max_bytes}, 30, side="service"
        )
        return {
            path: None if data is None else base64.b64decode(data)
            for path, data in answer["files"].items()
        }

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    @override
    async def read_file(self, file: str, text: bool = True) -> str | bytes:
        answer = await self._call({"op": "read", "path": file})
        data = base64.b64decode(answer["data"])
        return data.decode() if text else data


class _UsernsHandshake:
    """The pipes through which the outer bwrap waits for its map of two uids.

    bwrap (started as the services' host uid) makes the user namespace, reports its pid
    on the info pipe and blocks on the other until the platform, as root, has written
    the map: the sandbox's root to ``service_host_uid``, uid 1000 to ``host_uid``. No
    other uid exists inside, and neither is privileged on the host."""

    def __init__(self) -> None:
        self.block_read, self.block_write = os.pipe()
        self.info_read, self.info_write = os.pipe()
        self.child_fds = (self.block_read, self.info_write)

    def close_child_ends(self) -> None:
        for fd in self.child_fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _child_pid(self) -> int:
        data = b""
        while True:
            chunk = os.read(self.info_read, 4096)
            if not chunk:
                break
            data += chunk
            with contextlib.suppress(ValueError):
                return int(json.loads(data)["child-pid"])
        raise OSError("bubblewrap exited before its user namespace was made")

    async def map_two_uids(self, config: BwrapConfig) -> None:
        pid = await asyncio.to_thread(self._child_pid)
        pairs = f"0 {config.service_host_uid} 1\n{SANDBOX_UID} {config.host_uid} 1\n"
        Path(f"/proc/{pid}/uid_map").write_text(pairs)
        Path(f"/proc/{pid}/setgroups").write_text("deny")
        Path(f"/proc/{pid}/gid_map").write_text(pairs)
        os.write(self.block_write, b"1")

    def close(self) -> None:
        for fd in (self.block_write, self.info_read):
            with contextlib.suppress(OSError):
                os.close(fd)


async def _remove_cgroup(cgroup: _host.SampleCgroup) -> None:
    # the kernel empties a cgroup a moment after its last process was killed
    for _ in range(50):
        if cgroup.remove():
            return
        await asyncio.sleep(0.02)
    log.warning("sandbox cgroups not removed yet (swept at the next start): %s", cgroup.dirs)


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)


def _error(kind: str, message: str) -> Exception:
    errors: dict[str, type[Exception]] = {
        "FileNotFoundError": FileNotFoundError,
        "PermissionError": PermissionError,
        "IsADirectoryError": IsADirectoryError,
        "NotADirectoryError": NotADirectoryError,
    }
    return errors.get(kind, SandboxError)(message)
