"""Process supervisor that runs as PID 1 inside a bubblewrap sandbox.

This file is executed by the sandbox's own ``/usr/bin/python3`` (standard library
only), never imported by the platform. It listens on a Unix socket in the sandbox's
control directory and, one JSON line per request, runs commands and reads or writes
files *inside* the sandbox, so every file operation goes through the sandbox's mount
namespace and cannot follow a symlink out to the host. Each command gets its own
session and the resource limits given on the command line (CPU seconds, address
space, processes, file size).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import signal
import socketserver
import subprocess
import sys
from typing import Any

SOCKET = sys.argv[1]
LIMITS: dict[str, int] = json.loads(sys.argv[2])
MAX_OUTPUT = LIMITS.get("max_output", 10 * 1024 * 1024)
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/work",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "USER": "sandbox",
    "TMPDIR": "/tmp",  # noqa: S108 - the sandbox's private tmpfs
}


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
    try:
        out, err = proc.communicate(stdin, timeout=req.get("timeout"))
    except subprocess.TimeoutExpired:
        _killpg(proc.pid)
        proc.communicate()
        return {"timeout": True}
    _killpg(proc.pid)  # background children of a finished command do not survive it
    return {
        "rc": proc.returncode,
        "stdout": _b64(out[-MAX_OUTPUT:]),
        "stderr": _b64(err[-MAX_OUTPUT:]),
    }


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
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(req["data"]))
    if req.get("mode") is not None:
        os.chmod(path, int(req["mode"]))
    return {}


def _shutdown(_req: dict[str, Any]) -> dict[str, Any]:
    os.kill(-1, signal.SIGKILL)  # as PID 1 this ends every other process in the sandbox
    return {}


OPS = {"exec": _exec, "read": _read, "write": _write, "shutdown": _shutdown}


class Handler(socketserver.StreamRequestHandler):
    """One request, one answer, one connection."""

    def handle(self) -> None:
        try:
            req = json.loads(self.rfile.readline())
            resp = OPS[req["op"]](req)
        except OSError as exc:
            resp = {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # the host turns this into an exception
            resp = {"error": "RuntimeError", "message": f"{type(exc).__name__}: {exc}"}
        self.wfile.write(json.dumps(resp).encode() + b"\n")
        if req.get("op") == "shutdown":
            os._exit(0)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(SOCKET, Handler)
    print("ready", flush=True)
    server.serve_forever()
