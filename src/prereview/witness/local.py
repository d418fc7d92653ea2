"""Witnesses run inside another process, on loopback: for the demo and for tests.

Each is the real server (:func:`~prereview.witness.app.create_witness_app` under uvicorn, on
an ephemeral port, in a daemon thread) with its own key file and state file, so what the demo
shows is what ``prereview witness serve`` does.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import uvicorn

from prereview.audit.checkpoint import NoteVerifier
from prereview.audit.cosignature import Cosigner
from prereview.core.settings import Settings, WitnessEndpoint
from prereview.witness.app import create_witness_app
from prereview.witness.service import Witness, read_key, write_key
from prereview.witness.state import WitnessState


class LocalWitness:
    """A witness served on ``127.0.0.1`` on a free port (or ``port``), until :meth:`stop`."""

    def __init__(
        self,
        name: str,
        folder: Path,
        logs: Mapping[str, Sequence[NoteVerifier]],
        *,
        port: int = 0,
    ) -> None:
        key_file = folder / "witness.key"
        if not key_file.exists():
            write_key(key_file, Cosigner.generate(name))
        self.witness = Witness(
            read_key(key_file), logs, WitnessState(folder / "state.db"), time.time
        )
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            create_witness_app(self.witness),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"witness:{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def verifier_key(self) -> str:
        return str(self.witness.cosigner.verifier)

    def start(self) -> LocalWitness:
        """Serve, and return once the socket accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the witness on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> LocalWitness:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_demo_witnesses(settings: Settings, folder: Path, count: int = 2) -> list[LocalWitness]:
    """Start ``count`` witnesses of the platform's log on loopback and configure the platform
    to send them its checkpoints (``settings.audit_witnesses``, read on every send).

    Each keeps its key and state under ``folder`` (one subfolder each).
    """
    from prereview.audit.signing import load_signer

    logs = {settings.audit_origin: [load_signer(settings).verifier]}
    started = [
        LocalWitness(f"witness{n}.demo.prereview.local", folder / f"witness-{n}", logs).start()
        for n in range(1, count + 1)
    ]
    settings.audit_witnesses = [
        *settings.audit_witnesses,
        *(WitnessEndpoint(url=w.url, key=w.verifier_key) for w in started),
    ]
    return started
