"""Signing checkpoints (:mod:`prereview.audit.signing`): concurrent first checkpoints store
one signing key row, and none of them fails with a 500.

Every test runs on SQLite and on PostgreSQL (the ``context`` fixture's ``db_url``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from prereview.audit import service, signing
from prereview.audit.models import AuditCheckpoint, AuditKey, AuditPublishedCheckpoint
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.context import AppContext

# --- Concurrent first checkpoints: one key row, no 500 ---------------------------------------

READER = Actor("usr_agency", "org_agency", OrgKind.AGENCY, Role.MEMBER)


def read_checkpoint_in_own_session(context: AppContext) -> tuple[int, str]:
    with context.sessions() as db:
        checkpoint, verifier = service.read_checkpoint(
            db, READER, context.settings, context.clock.now()
        )
        return checkpoint.size, verifier


def test_a_first_checkpoint_signed_meanwhile_by_another_request_is_used(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request A is about to store the signing key when request B stores it, signs and commits
    (the interleaving that made A fail with IntegrityError, a 500): A succeeds with B's key."""
    labels = signing._key_label
    other: list[tuple[int, str]] = []

    def label_then_let_b_in(signer: Any) -> str:
        if not other and threading.current_thread() is threading.main_thread():
            b = threading.Thread(
                target=lambda: other.append(read_checkpoint_in_own_session(context))
            )
            b.start()
            b.join(timeout=60)
            assert other, "request B did not finish while A was between its check and insert"
        return labels(signer)

    monkeypatch.setattr(signing, "_key_label", label_then_let_b_in)
    mine = read_checkpoint_in_own_session(context)
    assert mine == other[0]
    with context.sessions() as db:
        assert db.scalar(select(func.count()).select_from(AuditKey)) == 1
        assert db.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
        assert db.scalar(select(func.count()).select_from(AuditPublishedCheckpoint)) == 1
    assert len(context.settings.audit_journal_path.read_text().splitlines()) == 1


def test_concurrent_first_checkpoints_all_succeed_with_the_same_key(context: AppContext) -> None:
    threads = 8
    barrier = threading.Barrier(threads)

    def first_call() -> tuple[int, str]:
        barrier.wait(timeout=60)
        return read_checkpoint_in_own_session(context)

    with ThreadPoolExecutor(threads) as pool:
        answers = [f.result(timeout=120) for f in [pool.submit(first_call) for _ in range(threads)]]
    assert len(set(answers)) == 1, answers
    with context.sessions() as db:
        assert db.scalar(select(func.count()).select_from(AuditKey)) == 1
        assert db.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
