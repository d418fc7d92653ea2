"""Two writers of one case at once, on a real server: vendors setting cells and statuses and
posting while a coordinator writes too. No 5xx, and nothing lost: a cell is last-writer-wins
(by design: its history is the audit log), so each change's audit must name the value it
really replaced; a vendor status keeps every change in its history table.

The race is ordered with events, not timings: the first writer is held just after it has looked
for the row (at the moment it makes a new row's id), the second writer is let run, then the
first is released.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.clearinghouse import cases, cells, messages
from support.factories import Platform
from support.factories.clearinghouse import count
from support.live import serve

from .test_case_threads_cells import PRODUCTS, _case

WAIT = 30.0
# How long the second writer is given to finish while the first is held: enough for it to
# commit when nothing makes it wait (the defect), not a figure the test depends on otherwise.
LET_RUN = 1.0


@dataclass(frozen=True)
class Hold:
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def held_at_new_id(monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[Hold]:
    """Hold the first request that makes an id with ``prefix`` until ``release`` is set."""
    hold = Hold()
    reached, release = hold.reached, hold.release
    lock = threading.Lock()
    state = {"held": False}

    def patched(original: Callable[[str], str]) -> Callable[[str], str]:
        def new_id(kind: str) -> str:
            with lock:
                first = kind == prefix and not state["held"]
                state["held"] = state["held"] or first
            if first:
                reached.set()
                assert release.wait(WAIT), "the test never released the first writer"
            return original(kind)

        return new_id

    # Wherever the row is made (the modules that import ``new_id``).
    for module in (cases, cells):
        if hasattr(module, "new_id"):
            monkeypatch.setattr(module, "new_id", patched(module.new_id))
    try:
        yield hold
    finally:
        release.set()


def _put(url: str, platform: Platform, who: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(f"{url}/api/v1{path}", headers=platform[who].headers, json=body, timeout=WAIT)


def _race(
    url: str,
    platform: Platform,
    hold: Hold,
    first: tuple[str, str, dict[str, Any]],
    second: tuple[str, str, dict[str, Any]],
) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(_put, url, platform, *first)
        assert hold.reached.wait(WAIT), "the first writer never reached the row"
        two = pool.submit(_put, url, platform, *second)
        # It may wait for the first writer: what a serialised change does.
        with suppress(TimeoutError):
            two.result(LET_RUN)
        hold.release.set()
        return [one.result(WAIT), two.result(WAIT)]


def _audits(platform: Platform, case_id: str, action: str) -> list[dict[str, Any]]:
    with platform.context.sessions() as db:
        leaves = db.scalars(
            select(AuditEntry.leaf)
            .where(AuditEntry.object_id == case_id, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
    return [json.loads(leaf)["detail"] for leaf in leaves]


def test_two_first_writes_of_one_cell_both_succeed_and_the_audit_chains(
    platform: Platform, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _case(platform)
    dev = platform["developer"].org_id
    cell = f"/clearinghouse/cases/{case_id}/vendors/{dev}/cells"
    with held_at_new_id(monkeypatch, "cell") as hold, serve(app) as url:
        answers = _race(
            url,
            platform,
            hold,
            ("developer", cell, {"product": PRODUCTS[0], "status": "affected"}),
            ("clearinghouse", cell, {"product": PRODUCTS[0], "status": "fixed"}),
        )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert count(platform, "ch_case_cells") == 1
    changes = [
        d
        for d in _audits(platform, case_id, "clearinghouse:vendor-status:update")
        if d.get("product") == PRODUCTS[0]
    ]
    # Last writer wins, and each change names the value it replaced: no change is lost.
    assert [c["previous"] for c in changes] == ["unknown", changes[0]["status"]]
    table = platform.call("clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors")
    mine = next(r for r in table.json()["items"] if r["vendor_org_id"] == dev)
    assert mine["cells"][PRODUCTS[0]]["status"] == changes[-1]["status"]


def test_two_first_writes_of_one_vendor_status_both_succeed_and_both_are_kept(
    platform: Platform, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _case(platform)
    dev = platform["developer"].org_id
    (report_id,) = platform.call(
        "clearinghouse", "GET", f"/clearinghouse/cases/{case_id}", 200
    ).json()["report_ids"]
    status = f"/clearinghouse/cases/{case_id}/vendors/{dev}/statuses/{report_id}"
    with held_at_new_id(monkeypatch, "vs") as hold, serve(app) as url:
        answers = _race(
            url,
            platform,
            hold,
            ("developer", status, {"status": "affected"}),
            ("clearinghouse", status, {"status": "under_investigation"}),
        )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert count(platform, "ch_vendor_statuses") == 1
    assert count(platform, "ch_vendor_status_history") == 2
    changes = _audits(platform, case_id, "clearinghouse:vendor-status:update")
    assert [c["previous"] for c in changes] == ["not_contacted", changes[0]["status"]]


def test_two_vendors_set_cells_and_post_at_once_with_no_5xx_and_nothing_lost(
    platform: Platform, app: FastAPI
) -> None:
    case_id = _case(platform)
    base = f"/clearinghouse/cases/{case_id}"
    vendors = ("developer", "other_developer")
    work: list[tuple[str, str, str, dict[str, Any]]] = []
    for n in range(6):
        for who in vendors:
            org = platform[who].org_id
            state = ("affected", "fixed")[n % 2]
            work.append(
                (
                    who,
                    "PUT",
                    f"{base}/vendors/{org}/cells",
                    {"product": PRODUCTS[n % 2], "status": state},
                )
            )
            work.append((who, "POST", f"{base}/vendors/{org}/messages", {"text": f"{who} {n}"}))
            work.append((who, "POST", f"{base}/messages", {"text": f"shared {who} {n}"}))
    with serve(app) as url, httpx.Client(base_url=f"{url}/api/v1", timeout=WAIT) as http:

        def send(item: tuple[str, str, str, dict[str, Any]]) -> int:
            who, method, path, body = item
            return http.request(method, path, headers=platform[who].headers, json=body).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(send, work))
    assert sorted(set(codes)) == [200, 201], codes
    assert count(platform, "ch_case_cells") == 4
    assert count(platform, "ch_case_messages") == 24
    for who in vendors:
        org = platform[who].org_id
        own = platform.call(who, "GET", f"{base}/vendors/{org}/messages", 200).json()
        assert sorted(m["text"] for m in own["items"]) == [f"{who} {n}" for n in range(6)]
    # Every change of a cell names the value it replaced, in the order they were written.
    last: dict[tuple[str, str], str] = {}
    for change in _audits(platform, case_id, "clearinghouse:vendor-status:update"):
        key = (change["vendor"], change["product"])
        assert change["previous"] == last.get(key, "unknown"), change
        last[key] = change["status"]
    table = platform.call("clearinghouse", "GET", f"{base}/vendors").json()
    for row in table["items"]:
        for product, got in row["cells"].items():
            assert got["status"] == last[(row["vendor_org_id"], product)]


def test_a_vendor_removed_while_it_posts_privately_is_removed_after_the_message_or_refused(
    platform: Platform, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vendor is held after its membership was checked, as its message is made; its
    removal then runs. Without a lock the removal commits first and the message of a vendor
    no longer on the case is stored after it (a former vendor writing into the case)."""
    case_id = _case(platform)
    dev = platform["developer"].org_id
    hold = Hold()
    original = messages.new_id
    state = {"held": False}

    def new_id(kind: str) -> str:
        if kind == "msg" and not state["held"]:
            state["held"] = True
            hold.reached.set()
            assert hold.release.wait(WAIT), "the test never released the poster"
        return original(kind)

    monkeypatch.setattr(messages, "new_id", new_id)
    base = f"/clearinghouse/cases/{case_id}"
    with serve(app) as url, ThreadPoolExecutor(max_workers=2) as pool:
        post = pool.submit(
            httpx.post,
            f"{url}/api/v1{base}/vendors/{dev}/messages",
            headers=platform["developer"].headers,
            json={"text": "our fix ships Monday"},
            timeout=WAIT,
        )
        assert hold.reached.wait(WAIT), "the post never reached its message"
        removal = pool.submit(
            httpx.delete,
            f"{url}/api/v1{base}/vendors/{dev}",
            headers=platform["clearinghouse"].headers,
            timeout=WAIT,
        )
        with suppress(TimeoutError):
            removal.result(LET_RUN)
        hold.release.set()
        posted, removed = post.result(WAIT), removal.result(WAIT)
    assert removed.status_code in (200, 204), removed.text
    assert posted.status_code in (201, 404, 409), posted.text
    with platform.context.sessions() as db:
        order = [
            (entry.action, json.loads(entry.leaf)["detail"])
            for entry in db.scalars(
                select(AuditEntry).where(AuditEntry.object_id == case_id).order_by(AuditEntry.seq)
            )
        ]
    writes = [
        action
        for action, detail in order
        if action == "clearinghouse:case-message:create"
        or (action == "clearinghouse:case:update" and detail.get("removed_vendor") == dev)
    ]
    if posted.status_code == 201:
        # stored while the vendor was on the case, then removed
        assert writes == ["clearinghouse:case-message:create", "clearinghouse:case:update"]
    else:
        assert writes == ["clearinghouse:case:update"]
        assert count(platform, "ch_case_messages") == 0
