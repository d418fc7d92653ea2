"""The analyst's queue page walks an index in its own order and stops after the page (SQLite's
EXPLAIN QUERY PLAN sorts nothing, reads no TLP index), and keyset pages in severity order, ties
included, concatenate to the whole queue in order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from prereview.clearinghouse import triage
from prereview.core.db import transaction
from support.factories import Platform
from support.factories.clearinghouse import report

QUEUE = "/clearinghouse/triage/queue"
# Scores with ties (and unscored reports), so that pages split inside a severity.
VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
    None,
]


@contextmanager
def _statements(platform: Platform) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "queue_row" in statement:
            seen.append((statement, parameters))

    engine = platform.context.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def _plan(platform: Platform, statement: str, parameters: Any) -> str:
    engine = platform.context.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(str(row[0]) for row in rows)


def test_keyset_pages_in_severity_order_are_the_queue_in_order(platform: Platform) -> None:
    for n in range(9):
        vector = VECTORS[n % 3]
        body = report(f"Q-{n}") | ({"cvss_v3": vector} if vector else {})
        platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    whole = platform.call(
        "clearinghouse", "GET", QUEUE, 200, params={"order": "severity", "limit": 200}
    ).json()["items"]
    paged: list[str] = []
    after = None
    while True:
        params = {"order": "severity", "limit": 2} | ({"after": after} if after else {})
        page = platform.call("clearinghouse", "GET", QUEUE, 200, params=params).json()
        paged += [item["id"] for item in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert paged == [item["id"] for item in whole] and len(paged) == 9
    # Most severe first; within a score, newest first (Q-6, Q-3, Q-0 share the highest).
    assert paged[:3] == ["Q-6", "Q-3", "Q-0"] and paged[-3:] == ["Q-8", "Q-5", "Q-2"]


def test_the_page_walks_an_index_and_sorts_nothing(platform: Platform) -> None:
    for n in range(3):
        platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report(f"P-{n}"))
    with _statements(platform) as seen:
        first = platform.call("clearinghouse", "GET", QUEUE, 200, params={"limit": 1}).json()
        platform.call(
            "clearinghouse", "GET", QUEUE, 200, params={"limit": 1, "after": first["next_cursor"]}
        )
        platform.call("clearinghouse", "GET", QUEUE, 200, params={"limit": 1, "order": "severity"})
    # The unknown rank's query (no reproduction: every report here): the one that meets the
    # whole queue. The reproduced ranks read the few reports with a reproduction only.
    unknown = [(s, p) for s, p in seen if "queue_row.id IN" not in s]
    assert len(unknown) == 3
    sqlite = platform.context.engine.dialect.name == "sqlite"
    for (statement, parameters), index in zip(
        unknown, [None, None, "ix_ch_reports_severity_seq"], strict=True
    ):
        plan = _plan(platform, statement, parameters)
        # PostgreSQL plans by its statistics (a table of three rows is read whole, sorted):
        # its plan at 100,000 reports is in the README (benchmarks/triage.py --explain).
        if sqlite:
            assert "TEMP B-TREE" not in plan, plan
            assert "ix_ch_reports_tlp" not in plan, plan
            assert index is None or index in plan, plan
    assert triage.MAX_QUEUE_PAGE == 200


def test_migration_0024_made_the_index(platform: Platform) -> None:
    with transaction(platform.context.sessions) as db:
        if db.get_bind().dialect.name == "sqlite":
            names = db.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
        else:
            names = db.scalars(text("SELECT indexname FROM pg_indexes"))
        assert {"ix_ch_reports_severity_seq", "ix_ch_notifications_org_notified"} <= set(names)
