"""Inspect sandbox provider built on bubblewrap, for hosts without Docker.

Each sample gets one long-lived ``bwrap`` process (its "container"): new user, PID,
network, IPC and UTS namespaces; no network but loopback; the system directories
(``/usr`` and a handful of ``/etc`` files) mounted read-only; a private writable
``/work`` (the sample's directory on the host) and a private ``/tmp``. PID 1 inside
is a small supervisor (``_inner.py``) that runs each command in its own session
under CPU-time, address-space, process-count and file-size limits. Nothing else of
the host is mounted, so the platform's database, key files and other samples'
directories do not exist inside; paths given as ``hide`` are masked as well, in case
an extra bind would expose them. Cleanup kills every process in the sandbox and
removes the sample's directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Literal, overload

from inspect_ai.util import ExecResult, SandboxEnvironment, SandboxEnvironmentConfigType, sandboxenv
from inspect_ai.util._sandbox.environment import SandboxUserUnsupportedError
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import override

BWRAP = "/usr/bin/bwrap"
PYTHON = "/usr/bin/python3"
SANDBOX_UID = 1000
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


class SandboxError(RuntimeError):
    """The sandbox could not be started or stopped answering."""


class BwrapConfig(BaseModel):
    """Limits and isolation settings of the bubblewrap sandbox (one per task)."""

    model_config = ConfigDict(frozen=True)

    cpu_seconds: int = Field(default=60, ge=1, description="CPU time per command")
    memory_mb: int = Field(default=1024, ge=16, description="address space per process")
    max_processes: int = Field(default=128, ge=4, description="processes in the sandbox")
    max_file_mb: int = Field(default=64, ge=1, description="largest file a command may write")
    start_timeout: float = Field(default=15.0, gt=0)
    hide: tuple[str, ...] = Field(default=(), description="host paths masked inside")
    ro_binds: tuple[str, ...] = Field(default=(), description="extra host paths, read-only")
    host_uid: int = Field(
        default=65534,
        description="unprivileged host uid that runs bwrap when the platform runs as root",
    )


def bwrap_argv(config: BwrapConfig, root: Path) -> list[str]:
    """Build the bubblewrap command line for a sandbox rooted at ``root`` on the host."""
    argv = [
        BWRAP,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/local/bin:/usr/bin:/bin",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{link}"]
    for name in _ETC_FILES:
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for name in ("passwd", "group", "hosts"):
        argv += ["--ro-bind", str(root / "etc" / name), f"/etc/{name}"]
    argv += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",  # noqa: S108 - a private tmpfs inside the sandbox
        "--bind",
        str(root / "work"),
        "/work",
        "--bind",
        str(root / "ctl"),
        "/run/sandbox",
        "--ro-bind",
        str(root / "supervisor.py"),
        "/run/supervisor.py",
    ]
    for path in config.ro_binds:  # after /tmp, so a bind under /tmp is not shadowed
        argv += ["--ro-bind", path, path]
    for path in config.hide:
        if Path(path).is_dir():
            argv += ["--tmpfs", path]
        else:
            argv += ["--ro-bind", "/dev/null", path]
    argv += ["--remount-ro", "/", "--chdir", "/work"]
    return argv


def resolve_config(config: SandboxEnvironmentConfigType | None) -> BwrapConfig:
    """The sandbox settings from what Inspect hands over (model, dict or nothing)."""
    if config is None:
        return BwrapConfig()
    if isinstance(config, BwrapConfig):
        return config
    if isinstance(config, BaseModel):
        return BwrapConfig.model_validate(config.model_dump())
    raise ValueError(f"the bwrap sandbox takes a BwrapConfig, not a config file: {config!r}")


def _limits(config: BwrapConfig) -> str:
    return json.dumps(
        {
            "cpu_seconds": config.cpu_seconds,
            "memory_bytes": config.memory_mb * 1024 * 1024,
            "max_processes": config.max_processes,
            "max_file_bytes": config.max_file_mb * 1024 * 1024,
        }
    )


def _drop_to(config: BwrapConfig) -> int | None:
    # As root, the sandbox user would map to host root, which is exempt from
    # RLIMIT_NPROC and owns every root file; run bwrap as an unprivileged uid instead.
    return config.host_uid if os.geteuid() == 0 else None


def _prepare_root(root: Path, owner: int | None) -> None:
    for name in ("work", "ctl", "etc"):
        (root / name).mkdir()
        if owner is not None:
            os.chown(root / name, owner, owner)
    if owner is not None:
        os.chown(root, owner, owner)
    # a copy, so the unprivileged host user need not reach the installed package
    shutil.copyfile(_INNER, root / "supervisor.py")
    (root / "etc" / "passwd").write_text(
        f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:/work:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text(f"sandbox:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")


@sandboxenv(name="bwrap")
class BwrapSandboxEnvironment(SandboxEnvironment):
    """One sample's bubblewrap sandbox; see the module docstring for the isolation."""

    def __init__(
        self, root: Path, process: asyncio.subprocess.Process, config: BwrapConfig
    ) -> None:
        super().__init__()
        self.config = config
        self.root = root
        self.process = process
        self.socket = str(root / "ctl" / "supervisor.sock")

    @classmethod
    async def start(cls, config: BwrapConfig | None = None) -> BwrapSandboxEnvironment:
        """Start a sandbox outside of an evaluation (tests, benchmarks)."""
        config = config or BwrapConfig()
        root = Path(tempfile.mkdtemp(prefix="prereview-sbx-"))
        owner = _drop_to(config)
        _prepare_root(root, owner)
        argv = [
            *bwrap_argv(config, root),
            PYTHON,
            "-I",
            "/run/supervisor.py",
            "/run/sandbox/supervisor.sock",
            _limits(config),
        ]
        drop: dict[str, Any] = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            **drop,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), config.start_timeout)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            _kill(process)
            err = b""
            with contextlib.suppress(TimeoutError):
                _out, err = await asyncio.wait_for(process.communicate(), 5)
            shutil.rmtree(root, ignore_errors=True)
            raise SandboxError(f"bubblewrap sandbox did not start: {err.decode(errors='replace')}")
        return cls(root, process, config)

    async def stop(self) -> None:
        """Kill every process in the sandbox and delete its directory."""
        if self.process.returncode is None:
            with contextlib.suppress(OSError, SandboxError, TimeoutError):
                await asyncio.wait_for(self._call({"op": "shutdown"}), 5)
            _kill(self.process)
        # drain the pipes too, so the transport closes inside this event loop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.communicate(), 5)
        shutil.rmtree(self.root, ignore_errors=True)

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
        return {"default": await cls.start(resolve_config(config))}

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

    async def _call(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket, limit=2**28)
        except OSError as exc:
            raise SandboxError(f"sandbox is not running: {exc}") from exc
        try:
            writer.write(json.dumps(request).encode() + b"\n")
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
        if user is not None and user not in _USERS:
            raise SandboxUserUnsupportedError(
                f"the bwrap sandbox runs only as 'sandbox', not {user}"
            )
        data = input.encode() if isinstance(input, str) else input
        request = {
            "op": "exec",
            "cmd": cmd,
            "cwd": cwd,
            "env": env or {},
            "timeout": timeout,
            "input": base64.b64encode(data).decode() if data is not None else None,
        }
        answer = await self._call(request, None if timeout is None else timeout + 10)
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

    async def write_executable(self, file: str, contents: str | bytes) -> None:
        """Write a file and mark it executable (mode 0755)."""
        data = contents.encode() if isinstance(contents, str) else contents
        request = {"op": "write", "path": file, "data": base64.b64encode(data).decode()}
        await self._call({**request, "mode": 0o755})

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    @override
    async def read_file(self, file: str, text: bool = True) -> str | bytes:
        answer = await self._call({"op": "read", "path": file})
        data = base64.b64decode(answer["data"])
        return data.decode() if text else data


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
