"""Witnesses on loopback (real uvicorn servers on ephemeral ports) and a small in-memory log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prereview.audit.checkpoint import NoteSigner
from prereview.witness.local import LocalWitness
from support.witnesses import ORIGIN, MemoryLog


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def memory_log(log_signer: NoteSigner) -> MemoryLog:
    return MemoryLog(log_signer)


@pytest.fixture
def witness(tmp_path: Path, log_signer: NoteSigner) -> Iterator[LocalWitness]:
    """One witness following :data:`ORIGIN`, signed by ``log_signer``."""
    with LocalWitness("witness.example/w1", tmp_path / "w1", {ORIGIN: [log_signer.verifier]}) as w:
        yield w
