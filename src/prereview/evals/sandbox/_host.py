"""What the sandbox needs from the host: settings checked at start-up, a per-sample
memory cgroup, and the sweep of what a crashed evaluation left behind.

Relied upon (start-up fails with a :class:`HostError` naming the setting if absent):

- ``/usr/bin/bwrap`` and unprivileged user namespaces (``user.max_user_namespaces`` > 0,
  ``kernel.unprivileged_userns_clone`` = 1 where that Debian/Ubuntu switch exists,
  ``kernel.apparmor_restrict_unprivileged_userns`` = 0 where it exists), nested once:
  the agent's sandbox is created inside the services' sandbox;
- seccomp filters (``Seccomp:`` in ``/proc/self/status``), on x86-64.

Used when available (reported by :func:`check_host`, the sandbox still starts without):

- a writable memory cgroup (v1 ``/sys/fs/cgroup/memory`` or a v2 hierarchy with the
  ``memory`` controller), for the whole-sample memory bound; without one, memory is
  bounded per process (``RLIMIT_AS``) and by the sizes of the sandbox's tmpfs mounts;
- the ``pids`` controller, for a whole-sample process bound (``RLIMIT_NPROC`` otherwise).

Not relied upon: ``kernel.yama.ptrace_scope``. The agent cannot see the supervisor or
the services (another PID namespace), they are not dumpable, and its seccomp filter
refuses ``ptrace`` and ``process_vm_readv`` whatever the scope.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from prereview.evals.sandbox._seccomp import UnsupportedArchitecture, program

log = logging.getLogger(__name__)

PREFIX = "prereview-sbx-"
OWNER_FILE = "owner"
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_GRACE_SECONDS = 60


class HostError(RuntimeError):
    """The host lacks a setting that the sandbox's isolation relies on."""


@dataclass(frozen=True)
class HostReport:
    """What :func:`check_host` found: relied-upon settings and optional features."""

    settings: dict[str, str]
    memory_cgroup: bool
    pids_cgroup: bool
    missing: tuple[str, ...] = field(default=())


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def check_host(bwrap: str = "/usr/bin/bwrap") -> HostReport:
    """Check the host settings the sandbox relies on; raise :class:`HostError` if one is off."""
    settings: dict[str, str] = {}
    missing: list[str] = []
    if not os.access(bwrap, os.X_OK):
        missing.append(f"{bwrap} (install bubblewrap)")
    userns = _read("/proc/sys/user/max_user_namespaces")
    settings["user.max_user_namespaces"] = userns or "absent"
    if userns is not None and int(userns) < 2:
        missing.append("user.max_user_namespaces >= 2 (the agent's sandbox is nested)")
    for name, wanted in (
        ("kernel/unprivileged_userns_clone", "1"),
        ("kernel/apparmor_restrict_unprivileged_userns", "0"),
    ):
        value = _read(f"/proc/sys/{name}")
        if value is not None:
            settings[name.replace("/", ".")] = value
            if value != wanted:
                missing.append(f"{name.replace('/', '.')} = {wanted}")
    status = _read("/proc/self/status") or ""
    if "Seccomp:" not in status:
        missing.append("seccomp filters (CONFIG_SECCOMP_FILTER)")
    try:
        program()
    except UnsupportedArchitecture as exc:
        missing.append(str(exc))
    scope = _read("/proc/sys/kernel/yama/ptrace_scope")
    settings["kernel.yama.ptrace_scope"] = scope if scope is not None else "absent (not needed)"
    memory = _cgroup_parent("memory") is not None
    pids = _cgroup_parent("pids") is not None
    settings["memory cgroup"] = "writable" if memory else "unavailable (per-process limits only)"
    settings["pids cgroup"] = "writable" if pids else "unavailable (RLIMIT_NPROC only)"
    if missing:
        raise HostError("the bwrap sandbox cannot isolate samples here: " + "; ".join(missing))
    return HostReport(settings=settings, memory_cgroup=memory, pids_cgroup=pids)


# ---- cgroups ------------------------------------------------------------------------


def _own_cgroup(controller: str) -> tuple[Path, bool] | None:
    """Where this process's cgroup for ``controller`` is, and whether it is v2."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    unified: str | None = None
    for line in lines:
        _num, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            mount = _CGROUP_ROOT / controller
            if mount.is_dir():
                return mount / path.lstrip("/"), False
        if controllers == "":
            unified = path
    if unified is not None:
        base = _CGROUP_ROOT if (_CGROUP_ROOT / "cgroup.controllers").exists() else None
        if base is not None:
            return base / unified.lstrip("/"), True
    return None


def _cgroup_parent(controller: str) -> tuple[Path, bool] | None:
    found = _own_cgroup(controller)
    if found is None:
        return None
    parent, v2 = found
    if v2:
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            return None
        if controller not in enabled:
            return None
    return (parent, v2) if os.access(parent, os.W_OK) else None


@dataclass
class SampleCgroup:
    """The cgroups (memory, pids) that bound one sample as a whole."""

    dirs: list[Path]
    procs: list[int]  # open cgroup.procs of each, written by the child before exec

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_processes: int) -> SampleCgroup | None:
        """Make the sample's cgroups, or None if this host lets us make none."""
        dirs: list[Path] = []
        limits = {
            "memory": {
                "memory.limit_in_bytes": memory_bytes,
                "memory.memsw.limit_in_bytes": memory_bytes,
                "memory.max": memory_bytes,
                "memory.swap.max": 0,
            },
            "pids": {"pids.max": max_processes},
        }
        seen: set[Path] = set()
        for controller, files in limits.items():
            found = _cgroup_parent(controller)
            if found is None:
                continue
            path = found[0] / name
            if path not in seen:  # v2: one directory for both controllers
                try:
                    path.mkdir()
                except OSError:
                    continue
                seen.add(path)
                dirs.append(path)
            for file, value in files.items():
                if (path / file).exists():
                    with contextlib.suppress(OSError):
                        (path / file).write_text(str(value))
        if not dirs:
            return None
        procs = [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in dirs]
        return cls(dirs, procs)

    def enter(self) -> None:
        """Move the calling process into the cgroups (runs in the child, before exec)."""
        for fd in self.procs:
            os.write(fd, b"0")

    def close(self) -> None:
        """Close the parent's handles (after the child has started)."""
        for fd in self.procs:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.procs = []

    @property
    def memory_dir(self) -> Path | None:
        """The memory cgroup's directory, if one was made."""
        for d in self.dirs:
            if (d / "memory.limit_in_bytes").exists() or (d / "memory.max").exists():
                return d
        return None

    def remove(self) -> bool:
        """Delete the cgroups once their processes are gone; True if all went."""
        self.close()
        left = []
        for d in self.dirs:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                left.append(d)
        self.dirs = left
        return not left


# ---- leftovers ----------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, after the command name


def owner_stamp() -> str:
    """This process's pid and start time, as written into each sandbox directory."""
    pid = os.getpid()
    return f"{pid} {_start_time(pid)}\n"


def _owner_alive(stamp: str | None) -> bool:
    if not stamp:
        return False
    parts = stamp.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    return _start_time(int(parts[0])) == parts[1]  # a reused pid has another start time


def _referenced(path: Path) -> bool:
    """Whether a live process names ``path`` on its command line (a running bwrap)."""
    needle = str(path).encode()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in Path(entry.path, "cmdline").read_bytes():
                    return True
    return False


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < _GRACE_SECONDS
    except OSError:
        return True


def sweep(tmp: str | None = None) -> list[Path]:
    """Remove sandbox directories (and cgroups) whose owning process is dead.

    A directory's owner is the pid and start time written into it when it was made;
    one without that file (an older version, or a crash before it was written) is
    removed only if it is older than a minute and no live process names it on its
    command line. Returns what was removed.
    """
    base = Path(tmp or tempfile.gettempdir())
    removed: list[Path] = []
    for path in sorted(base.glob(PREFIX + "*")):
        if not path.is_dir() or path.is_symlink():
            continue
        stamp = _read(str(path / OWNER_FILE))
        if _owner_alive(stamp):
            continue
        if stamp is None and (_young(path) or _referenced(path)):
            continue  # being made right now (the stamp comes next), or an older run's
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    for controller in ("memory", "pids"):
        found = _cgroup_parent(controller)
        if found is None:
            continue
        for group in found[0].glob(PREFIX + "*"):
            parts = group.name.removeprefix(PREFIX).split("-", 2)
            if len(parts) >= 2 and _owner_alive(f"{parts[0]} {parts[1]}"):
                continue
            try:
                group.rmdir()  # fails while any process is still inside
                removed.append(group)
            except OSError:
                continue
    if removed:
        log.info("removed %d leftover sandbox directories and cgroups", len(removed))
    return removed


def cgroup_name() -> str:
    """A fresh cgroup name carrying this process's pid and start time."""
    pid = os.getpid()
    return f"{PREFIX}{pid}-{_start_time(pid)}-{os.urandom(6).hex()}"
