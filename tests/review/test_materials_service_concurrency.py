"""No veto under concurrent use: a slow upload holds no transaction, so a release never waits.

Each test runs a real uvicorn server (tests/support/live.py) and orders what happens with
events, not timings: the upload's body pauses after its first piece, once the server is known
to be encrypting it, and the release and withdrawal must answer while it is paused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.vault import service as vault_service
from support.factories import Platform
from support.live import serve
from support.scenario import EVAL_RUN

PIECE = b"0123456789abcdef" * 4096  # 64 KiB
WAIT = 30.0  # seconds an event may take before the test gives up (never reached when green)


class PausedBody:
    """A request body that sends one piece, then waits for ``resume`` before the rest."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        self.first = first
        self.rest = rest
        self.resume = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        assert self.resume.wait(WAIT), "the test never resumed the upload"
        yield self.rest


@pytest.fixture
def encrypting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the server has started encrypting an upload's bytes into the vault."""
    started = threading.Event()
    original = vault_service.encrypt_iter

    def spy(dek: Any, chunks: Any, **kwargs: Any) -> Iterator[bytes]:
        def seen() -> Iterator[bytes]:
            for chunk in chunks:
                started.set()
                yield chunk

        yield from original(dek, seen(), **kwargs)

    monkeypatch.setattr(vault_service, "encrypt_iter", spy)
    return started


def in_thread(call: Any) -> tuple[threading.Thread, dict[str, Any], threading.Event]:
    """Run ``call`` in a thread; its answer lands in the dict, the event says it is done."""
    answer: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            answer["response"] = call()
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, answer, done


def post(url: str, platform: Platform, who: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}/api/v1{path}", headers=platform[who].headers, timeout=WAIT, **kw)


def test_release_succeeds_while_another_developers_upload_streams(
    platform: Platform, app: FastAPI, encrypting: threading.Event
) -> None:
    uploading = platform.submit()  # the developer's first material: the data key is created
    rival = platform.submit("other_developer", model_name="Rival")
    body = PausedBody(PIECE, PIECE * 3)
    with serve(app) as url:
        thread, upload, upload_done = in_thread(
            lambda: post(
                url,
                platform,
                "developer",
                f"/submissions/{uploading['id']}/materials",
                params={"filename": "weights.bin", "kind": "weights"},
                content=iter(body),
            )
        )
        assert encrypting.wait(WAIT), "the upload never reached the vault"

        released = post(url, platform, "other_developer", f"/submissions/{rival['id']}/release")
        own = post(url, platform, "developer", f"/submissions/{uploading['id']}/release")
        assert not upload_done.is_set()  # both answered while the upload was still paused
        assert released.status_code == 200, released.text
        assert released.json()["released_at"] is not None
        assert own.status_code == 200, own.text

        body.resume.set()
        thread.join(WAIT)
    assert upload["response"].status_code == 201, upload["response"].text
    assert upload["response"].json()["size"] == 4 * len(PIECE)


def test_eval_log_upload_holds_nothing_and_a_withdrawal_during_it_wins(
    platform: Platform, app: FastAPI, encrypting: threading.Event
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    run = platform.call("agency", "POST", f"/submissions/{sub['id']}/evals", 201, json=EVAL_RUN)
    result_id = run.json()["tasks"][0]["id"]
    body = PausedBody(b'{"version": 2, ' + b" " * len(PIECE), b'"status": "success"}')
    with serve(app) as url:
        thread, upload, upload_done = in_thread(
            lambda: post(
                url,
                platform,
                "agency",
                f"/eval-results/{result_id}/log",
                params={"filename": "ctf.json"},
                content=iter(body),
            )
        )
        assert encrypting.wait(WAIT), "the log upload never reached the vault"

        released = post(url, platform, "developer", f"/submissions/{sub['id']}/release")
        withdrawn = post(url, platform, "developer", f"/submissions/{sub['id']}/withdraw")
        assert not upload_done.is_set()
        assert released.status_code == 200, released.text
        assert withdrawn.status_code == 200, withdrawn.text

        body.resume.set()
        thread.join(WAIT)
    refused = upload["response"]
    # The withdrawal committed first: the log is refused (the key is shredded), not recorded.
    assert refused.status_code == 410, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert not list(Path(platform.context.settings.blob_dir).rglob(f"{result_id}.*"))
    log = platform.call("developer", "GET", f"/submissions/{sub['id']}/evals", 200).json()["items"]
    assert log[0]["tasks"][0]["log"] is None


def test_concurrent_audited_reads_and_downloads_all_succeed_with_a_contiguous_log(
    platform: Platform, app: FastAPI
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    material = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        201,
        params={"filename": "card.md", "kind": "model_card"},
        content=PIECE,
    ).json()
    paths = [f"/materials/{material['id']}/content", f"/submissions/{sub['id']}"]
    with serve(app) as url, httpx.Client(base_url=f"{url}/api/v1", timeout=WAIT) as http:

        def read(n: int) -> tuple[int, int]:
            response = http.get(paths[n % 2], headers=platform["agency"].headers)
            return response.status_code, len(response.content)

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(read, range(64)))
    assert [status for status, _ in answers] == [200] * 64
    assert all(size == len(PIECE) for n, (_, size) in enumerate(answers) if n % 2 == 0)
    with platform.context.sessions() as db:
        seqs = db.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        downloads = db.scalars(
            select(AuditEntry.seq).where(AuditEntry.action == "review:material:download")
        ).all()
    assert seqs == list(range(len(seqs)))
    assert len(downloads) == 32
