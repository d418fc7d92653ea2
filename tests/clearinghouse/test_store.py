"""A bulk import stores in short transactions: a release waits one chunk at most, not the import.

The import runs on a real uvicorn server; the order of events is recorded by a wrapper around
the storing step, never inferred from timings.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.clearinghouse.intake import store as ch_store
from prereview.clearinghouse.models import VulnReport
from prereview.core.db import transaction
from prereview.identity import service as identity
from prereview.vault.service import Vault
from support.factories import Platform
from support.live import serve
from support.scenario import ch_report

WAIT = 30.0
REPORTS = 23
CHUNK = 5


def jsonl(prefix: str, n: int = REPORTS) -> bytes:
    return "\n".join(json.dumps(ch_report(f"{prefix}-{i}")) for i in range(n)).encode()


def stored_reports(platform: Platform) -> int:
    with platform.context.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(VulnReport)) or 0)


def test_release_completes_while_a_bulk_import_is_still_storing(
    platform: Platform, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = platform.submit()
    order: list[str] = []
    first_chunk_written = threading.Event()
    release_done = threading.Event()
    original = ch_store._store

    def store(*args: Any, **kwargs: Any) -> None:
        if order.count("chunk") == 1:
            # Between chunks: the first one is committed, the release may now go.
            assert release_done.wait(WAIT), "the release did not complete between chunks"
        original(*args, **kwargs)
        order.append("chunk")
        first_chunk_written.set()

    monkeypatch.setattr(ch_store, "_STORE_CHUNK", CHUNK)
    monkeypatch.setattr(ch_store, "_store", store)
    answer: dict[str, httpx.Response] = {}
    with serve(app) as url:

        def run_import() -> None:
            answer["import"] = httpx.post(
                f"{url}/api/v1/clearinghouse/imports",
                params={"format": "jsonl"},
                content=jsonl("IMP"),
                headers=platform["clearinghouse"].headers,
                timeout=WAIT,
            )
            order.append("import answered")

        importer = threading.Thread(target=run_import, daemon=True)
        importer.start()
        assert first_chunk_written.wait(WAIT), "the import never stored a chunk"
        released = httpx.post(
            f"{url}/api/v1/submissions/{sub['id']}/release",
            headers=platform["developer"].headers,
            timeout=WAIT,
        )
        order.append("release")
        release_done.set()
        importer.join(WAIT)
    assert released.status_code == 200, released.text
    assert answer["import"].status_code == 200, answer["import"].text
    assert answer["import"].json()["counts"]["accepted"] == REPORTS
    chunks = -(-REPORTS // CHUNK)
    # The release answered after the first chunk and before the rest were stored.
    assert order.index("release") == 1
    assert order.count("chunk") == chunks and order[-1] == "import answered"
    assert stored_reports(platform) == REPORTS
    with platform.context.sessions() as db:
        seqs = db.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(len(seqs)))


def test_a_failing_chunk_keeps_earlier_items_whole_and_a_reimport_finishes(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = platform.context.settings
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    original = ch_store._store
    calls: list[int] = []

    def failing_second(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(*args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("the disk filled up")

    monkeypatch.setattr(ch_store, "_STORE_CHUNK", CHUNK)
    monkeypatch.setattr(ch_store, "_store", failing_second)
    now = platform.context.clock.now()
    with transaction(platform.context.sessions) as db:
        actor = identity.authenticate(db, platform["clearinghouse"].token, now)
    with platform.context.sessions() as db, pytest.raises(RuntimeError):
        ch_store.import_reports(db, vault, actor, jsonl("FAIL"), now)
    assert stored_reports(platform) == CHUNK  # the first chunk, whole; nothing of the second

    monkeypatch.setattr(ch_store, "_store", original)
    with platform.context.sessions() as db:
        again = ch_store.import_reports(db, vault, actor, jsonl("FAIL"), now)
    assert again.counts() == {
        "accepted": REPORTS - CHUNK,
        "updated": 0,
        "duplicate": CHUNK,
        "rejected": 0,
        "skipped": 0,
    }
    assert stored_reports(platform) == REPORTS
