"""``prereview witness key`` and ``prereview witness serve``, the latter as its own process."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from prereview.audit.checkpoint import NoteSigner
from prereview.audit.cosignature import CosignatureVerifier, note_cosignatures
from prereview.audit.witnessing import request_body
from prereview.witness import commands
from support.witnesses import ORIGIN, MemoryLog

cli = typer.Typer()
commands.register(cli)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_key_then_serve(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "witness.key"
    made = CliRunner().invoke(
        cli, ["witness", "key", "--name", "witness.example/w1", "--out", str(key_file)]
    )
    assert made.exit_code == 0, made.output
    vkey = made.stdout.strip().splitlines()[-1]
    verifier = CosignatureVerifier.from_string(vkey)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = CliRunner().invoke(
        cli, ["witness", "key", "--name", "witness.example/w1", "--out", str(key_file)]
    )
    assert again.exit_code == 2 and "refusing to overwrite" in again.output

    signer = NoteSigner.generate(ORIGIN)
    port = free_port()
    command = [
        sys.executable, "-c", "from prereview.cli import main; main()",
        "witness", "serve", "--key", str(key_file), "--log", f"{ORIGIN}={signer.verifier}",
        "--state", str(tmp_path / "state.db"), "--port", str(port),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/add-checkpoint"
        deadline = time.monotonic() + 60
        log = MemoryLog(signer).grow(6)
        while True:
            try:
                answer = httpx.post(url, content=request_body(0, [], log.checkpoint()))
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert note_cosignatures(log.checkpoint() + answer.text, [verifier])
    finally:
        server.terminate()
        server.wait(timeout=20)
