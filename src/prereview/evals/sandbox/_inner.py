"""The two processes that serve a bubblewrap sandbox from inside it.

This file is executed by the sandbox's own ``/usr/bin/python3`` (standard library
only), never imported by the platform. It runs in one of two roles.

``supervisor`` (PID 2 of the outer sandbox, where the challenge's services run)
listens on the Unix socket of the sandbox's control directory, which only the host
reaches. At start-up it makes itself non-dumpable and starts the *agent's* sandbox, a
second, nested bubblewrap with its own user, PID, IPC and UTS namespaces, its own
``/tmp``, the shared ``/work`` and loopback, and the seccomp filter; inside it runs
the same file as ``agent``. Each host connection starts with an 8-byte header naming
the side it is for: ``service`` requests (set-up commands, the flag file) are served
here; ``agent`` connections are handed, as a file descriptor over a private socket
pair (``SCM_RIGHTS``), to the agent helper, so that nothing the agent can reach
listens on a path and nothing of the services' side is visible to it.

``agent`` (PID 2 of the nested sandbox) serves those connections: it runs the agent's
commands, reads and writes files, all through the agent's own mount namespace, so a
symlink cannot lead out. Every command gets its own session and the resource limits
of the config (CPU seconds, address space, processes, file size), and is the first
the kernel's OOM killer picks when the whole sample runs out of memory.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import socketserver
import stat
import subprocess
import sys
import threading
import time
from typing import Any

ROLE = sys.argv[1]
with open(sys.argv[2]) as _config:
    CONFIG: dict[str, Any] = json.load(_config)
LIMITS: dict[str, int] = CONFIG["limits"]
MAX_OUTPUT = LIMITS.get("max_output", 10 * 1024 * 1024)
HEADER = 8
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/work",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "USER": "sandbox",
    "TMPDIR": "/tmp",  # noqa: S108 - the sandbox's private tmpfs
}


def _nondumpable() -> None:
    # PR_SET_DUMPABLE = 4: /proc/PID/{mem,environ,fd,...} become unreadable to the
    # agent, even under the same uid, and ptrace is refused
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _become(uid: int) -> None:
    # the supervisor is the sandbox's root here (service_root): the agent's sandbox is
    # started as the sandbox user, which loses every capability with the switch
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _limit() -> None:
    os.setsid()
    pairs = (
        (resource.RLIMIT_CPU, LIMITS["cpu_seconds"]),
        (resource.RLIMIT_AS, LIMITS["memory_bytes"]),
        (resource.RLIMIT_NPROC, LIMITS["max_processes"]),
        (resource.RLIMIT_FSIZE, LIMITS["max_file_bytes"]),
        (resource.RLIMIT_CORE, 0),
    )
    for kind, value in pairs:
        resource.setrlimit(kind, (value, value))


def _resolve(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join("/work", path)


def _exec(req: dict[str, Any]) -> dict[str, Any]:
    env = dict(BASE_ENV)
    env.update(req.get("env") or {})
    data = req.get("input")
    stdin = base64.b64decode(data) if data is not None else None
    cwd = _resolve(req.get("cwd") or "/work")
    try:
        proc = subprocess.Popen(  # noqa: S603 - running the caller's command is the point
            req["cmd"],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            preexec_fn=_limit,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        return {"rc": 127, "stdout": "", "stderr": _b64(str(exc).encode())}
    assert proc.stdout is not None
    assert proc.stderr is not None
    # Read as it comes, keeping only the last MAX_OUTPUT bytes of each stream: a command
    # that floods its output must not grow this helper (and the host) without bound, as
    # communicate(), which buffers everything until the command ends, would.
    readers = [_Tail(proc.stdout), _Tail(proc.stderr)]
    threading.Thread(target=_feed, args=(proc, stdin), daemon=True).start()
    timeout = req.get("timeout")
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(proc.pid)
        proc.wait()
        return {"timeout": True}
    _killpg(proc.pid)  # background children of a finished command do not survive it
    for reader in readers:
        reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    if any(reader.is_alive() for reader in readers):
        return {"timeout": True}  # a child outside the group held the output open too long
    return {
        "rc": proc.returncode,
        "stdout": _b64(readers[0].tail()),
        "stderr": _b64(readers[1].tail()),
    }


class _Tail(threading.Thread):
    """Drains one of a command's pipes, keeping only its last MAX_OUTPUT bytes."""

    def __init__(self, pipe: Any) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.kept = bytearray()
        self.start()

    def run(self) -> None:
        with self.pipe:
            while chunk := self.pipe.read1(65536):
                self.kept += chunk
                if len(self.kept) > 2 * MAX_OUTPUT:
                    del self.kept[:-MAX_OUTPUT]

    def tail(self) -> bytes:
        return bytes(self.kept[-MAX_OUTPUT:])


def _feed(proc: subprocess.Popen[bytes], data: bytes | None) -> None:
    if proc.stdin is None or data is None:
        return
    with contextlib.suppress(OSError), proc.stdin:
        proc.stdin.write(data)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _read(req: dict[str, Any]) -> dict[str, Any]:
    with open(_resolve(req["path"]), "rb") as handle:
        return {"data": _b64(handle.read(LIMITS.get("max_read", 100 * 1024 * 1024) + 1))}


def _write(req: dict[str, Any]) -> dict[str, Any]:
    path = _resolve(req["path"])
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    mode = req.get("mode")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if req.get("secret") else 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64decode(req["data"]))
    if mode is not None:
        os.chmod(path, int(mode))
    return {}


def _shutdown(_req: dict[str, Any]) -> dict[str, Any]:
    os.kill(-1, signal.SIGKILL)  # every other process of the sandbox, the agent's included
    return {}


def _pid_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _end_agent(_req: dict[str, Any]) -> dict[str, Any]:
    # Ends the agent's bwrap: its PID namespace dies with it (--die-with-parent), and
    # with it every agent process, setsid or not. Then whatever the supervisor still
    # sees in another PID namespace than its own is killed too, until none is left.
    if SUPERVISOR is not None and SUPERVISOR.agent.poll() is None:
        SUPERVISOR.agent.kill()
        SUPERVISOR.agent.wait()
    own = _pid_namespace("self")
    for _ in range(200):
        others = [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit() and _pid_namespace(pid) not in (None, own)
        ]
        if not others:
            return {"ended": True}
        for pid in others:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        threading.Event().wait(0.01)
    raise RuntimeError("agent processes survived SIGKILL")


def _open_under_work(relative: str) -> int:
    # one component at a time and never through a symlink, so a link the agent left
    # cannot point the host at the services' side of the sandbox
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise PermissionError(f"not a path under /work: {relative}")
    fd = os.open("/work", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _collect(req: dict[str, Any]) -> dict[str, Any]:
    """Copies of regular files under /work, each at most ``max_bytes`` (None if absent)."""
    limit = int(req["max_bytes"])
    files: dict[str, str | None] = {}
    for relative in req["paths"]:
        try:
            fd = _open_under_work(relative)
        except OSError:
            files[relative] = None
            continue
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                files[relative] = None
                continue
            data = handle.read(limit + 1)
        files[relative] = _b64(data) if len(data) <= limit else None
    return {"files": files}


OPS = {
    "exec": _exec,
    "read": _read,
    "write": _write,
    "shutdown": _shutdown,
    "end_agent": _end_agent,
    "collect": _collect,
}
_SERVICE_ONLY = {"shutdown", "end_agent", "collect"}
SUPERVISOR: Supervisor | None = None


def serve(conn: socket.socket) -> None:
    """Answer one request (one JSON line) on ``conn``, then close it."""
    with conn, conn.makefile("rb") as rfile, conn.makefile("wb") as wfile:
        req: dict[str, Any] = {}
        try:
            req = json.loads(rfile.readline())
            if ROLE == "agent" and req.get("op") in _SERVICE_ONLY:
                raise PermissionError("the agent's side cannot end, shut or read out the sandbox")
            resp = OPS[req["op"]](req)
        except OSError as exc:
            resp = {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # the host turns this into an exception
            resp = {"error": "RuntimeError", "message": f"{type(exc).__name__}: {exc}"}
        wfile.write(json.dumps(resp).encode() + b"\n")
        wfile.flush()
        if req.get("op") == "shutdown":
            os._exit(0)


# ---- the agent helper ------------------------------------------------------------------


def agent_main(channel_fd: int) -> None:
    """Serve the connections the supervisor hands over on ``channel_fd``."""
    channel = socket.socket(fileno=channel_fd)
    print("ready", flush=True)
    while True:
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(channel, 1, 4)
        except OSError:
            os._exit(1)
        if not _msg and not fds:
            os._exit(0)  # the supervisor is gone
        for fd in fds:
            conn = socket.socket(fileno=fd)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


# ---- the supervisor --------------------------------------------------------------------


class Supervisor:
    """The outer sandbox's PID 2: serves the services' side, hands the agent's on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.channel, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        seccomp = os.open(CONFIG["seccomp"], os.O_RDONLY)
        argv = [*CONFIG["agent_bwrap"], "--seccomp", str(seccomp), *CONFIG["agent_command"]]
        argv.append(str(child_end.fileno()))
        agent_uid = CONFIG.get("agent_uid")
        self.agent = subprocess.Popen(  # noqa: S603 - our own argv
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": BASE_ENV["PATH"], "LANG": "C.UTF-8"},
            pass_fds=(seccomp, child_end.fileno()),
            cwd="/",
            preexec_fn=None if agent_uid is None else lambda: _become(int(agent_uid)),
        )
        os.close(seccomp)
        child_end.close()
        assert self.agent.stdout is not None
        if self.agent.stdout.readline().strip() != b"ready":
            err = self.agent.stderr.read() if self.agent.stderr else b""
            sys.stderr.write("agent sandbox did not start: " + err.decode(errors="replace"))
            sys.exit(1)

    def hand_over(self, conn: socket.socket) -> None:
        """Pass an agent-side connection to the agent helper."""
        with self.lock:
            socket.send_fds(self.channel, [b"c"], [conn.fileno()])


def _recv_header(conn: socket.socket) -> bytes:
    data = b""
    while len(data) < HEADER:
        chunk = conn.recv(HEADER - len(data))
        if not chunk:
            break
        data += chunk
    return data.strip()


def supervisor_main(path: str) -> None:
    """Start the agent's sandbox, then serve the host's connections."""
    global SUPERVISOR
    supervisor = SUPERVISOR = Supervisor()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            side = _recv_header(conn)
            if side == b"agent":
                try:
                    supervisor.hand_over(conn)
                except OSError as exc:
                    resp = {"error": "RuntimeError", "message": f"agent sandbox is gone: {exc}"}
                    conn.sendall(json.dumps(resp).encode() + b"\n")
            elif side == b"service":
                serve(conn.dup())

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

        def shutdown_request(self, request: Any) -> None:
            # close only: shutdown() would end a connection handed to the agent helper
            self.close_request(request)

    server = Server(path, Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if ROLE == "agent":
        # inherited by every command: the agent's processes are the OOM killer's first pick
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    else:
        # bwrap hands its own descriptors down (the read end of the uid map's handshake,
        # with service_root): the supervisor keeps nothing it did not open itself
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    _nondumpable()
    if ROLE == "agent":
        agent_main(int(sys.argv[3]))
    else:
        supervisor_main(sys.argv[3])
