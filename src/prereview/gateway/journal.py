"""Durable audit of gateway calls: a write-ahead journal in the database, group-committed.

Every call that concerns a submission is committed to ``gateway_call_journal`` *before* its
answer is released: a plain answer (or a refusal) after its record is committed, a stream
after an ``open`` record is (the record is completed when the stream ends). A background mover
then takes journal rows into the audit log and deletes them in the same transaction, so each
call is audited exactly once, by whichever gateway process gets to it first. Nothing is kept
only in memory: a process killed with ``kill -9`` loses no answered call, because the next
gateway process to start moves what it left behind before it serves (and an ``open`` stream
of a dead process is moved as interrupted once older than ``stale_after``).

Writes are group-committed: calls that finish while a write is running share the next
transaction, so the cost per call falls as concurrency rises. If the database cannot take
them, the calls waiting are answered 503 ``gateway-audit-unavailable`` instead of their answer;
if more than ``max_pending`` records are waiting, new calls are refused at once with 503 and
``Retry-After``, before anything is forwarded. Nothing is ever dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from prereview.core.clock import Clock
from prereview.core.db import transaction
from prereview.gateway import service
from prereview.gateway.engine.calls import JournalState
from prereview.gateway.engine.interfaces import CallRecord
from prereview.gateway.errors import GatewayAuditBehind
from prereview.gateway.models import GatewayCallJournal

log = logging.getLogger(__name__)

#: The error of a stream whose process died before it ended.
INTERRUPTED = "gateway-interrupted"


def record_to_json(call: CallRecord) -> dict[str, Any]:
    """``call`` as the JSON kept in the journal."""
    data = asdict(call)
    data["started_at"] = call.started_at.isoformat()
    return data


def record_from_json(data: dict[str, Any]) -> CallRecord:
    """The :class:`CallRecord` kept by :func:`record_to_json`."""
    fields = dict(data)
    fields["started_at"] = datetime.fromisoformat(fields["started_at"])
    if "grant_id" in fields:
        # Written before the field was renamed (it always held a grant or a nomination id):
        # a journal row left by an older process is still moved into the audit log.
        fields["access_id"] = fields.pop("grant_id")
    return CallRecord(**fields)


def write_journal(
    db: Session, ops: Sequence[tuple[JournalState, CallRecord]], now: datetime
) -> None:
    """Apply a batch of journal writes in the caller's transaction.

    ``open`` and ``final`` insert a row; ``close`` completes a stream's ``open`` row, or
    inserts a final one if that row was already moved as interrupted.
    """
    rows: dict[str, dict[str, Any]] = {}
    closes: list[CallRecord] = []
    for state, call in ops:
        assert call.submission_id is not None
        if state == "close" and call.call_id not in rows:
            closes.append(call)
            continue
        rows[call.call_id] = {
            "call_id": call.call_id,
            "submission_id": call.submission_id,
            "state": "open" if state == "open" else "final",
            "recorded_at": now,
            "record": record_to_json(call),
        }
    for call in closes:
        done = db.execute(
            update(GatewayCallJournal)
            .where(GatewayCallJournal.call_id == call.call_id)
            .values(state="final", recorded_at=now, record=record_to_json(call))
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0) == 0:
            rows[call.call_id] = {
                "call_id": call.call_id,
                "submission_id": call.submission_id,
                "state": "final",
                "recorded_at": now,
                "record": record_to_json(call),
            }
    if rows:
        db.execute(insert(GatewayCallJournal), list(rows.values()))


def move_journal(db: Session, now: datetime, *, stale_before: datetime, limit: int = 512) -> int:
    """Move up to ``limit`` journal rows into the audit log, oldest first, in the caller's
    transaction: finished calls, and ``open`` streams recorded before ``stale_before`` (as
    interrupted). Returns how many rows were moved.

    The rows are deleted with ``RETURNING``: of two processes moving at once, each row is
    returned to one of them only, so no call is audited twice.
    """
    chosen = (
        select(GatewayCallJournal.seq)
        .where(
            or_(
                GatewayCallJournal.state == "final",
                GatewayCallJournal.recorded_at < stale_before,
            )
        )
        .order_by(GatewayCallJournal.seq)
        .limit(limit)
    )
    taken = db.execute(
        delete(GatewayCallJournal)
        .where(GatewayCallJournal.seq.in_(chosen.scalar_subquery()))
        .returning(GatewayCallJournal.seq, GatewayCallJournal.state, GatewayCallJournal.record)
        .execution_options(synchronize_session=False)
    ).all()
    calls: list[CallRecord] = []
    for _, state, data in sorted(taken, key=lambda row: int(row[0])):
        call = record_from_json(data)
        if state == "open":
            call = replace(call, error=INTERRUPTED)
        calls.append(call)
    service.record_calls(db, calls, now)
    return len(taken)


def journal_size(db: Session) -> int:
    """How many rows wait in the journal (for tests and monitoring)."""
    return int(db.scalar(select(func.count()).select_from(GatewayCallJournal)) or 0)


_Pending = tuple[JournalState, CallRecord, "asyncio.Future[None]"]


class _LoopState:
    """The writer and mover of one event loop (futures and events belong to their loop)."""

    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self.write_wakeup = asyncio.Event()
        self.move_wakeup = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.mover: asyncio.Task[None] | None = None
        self.closing = False
        self.moving = False


class DbCallJournal:
    """The engine's :class:`~prereview.gateway.engine.interfaces.CallJournal` over the database.

    :meth:`start` (awaited before the gateway serves) moves what earlier processes left and
    starts the writer and the mover; :meth:`aclose` finishes both. Each event loop that serves
    the engine gets its own writer and mover.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        max_pending: int = 10_000,
        max_batch: int = 512,
        stale_after: timedelta = timedelta(hours=1),
        retry_delay: float = 1.0,
        move_delay: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._stale_after = stale_after
        self._retry_delay = retry_delay
        self._move_delay = move_delay
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self.moved = 0

    # -- the engine's side ------------------------------------------------------------------

    def check_capacity(self) -> None:
        """Refuse a new call (503, ``Retry-After``) while too many records wait."""
        state = self._loops.get(asyncio.get_running_loop())
        if state is not None and len(state.pending) >= self._max_pending:
            raise GatewayAuditBehind(
                "The gateway's audit log is behind; the call was not forwarded. Try again in a "
                "moment.",
                retry_after=1,
            )

    async def write(self, call: CallRecord, *, state: JournalState) -> None:
        """Return once ``call`` is committed to the journal; raise :class:`GatewayAuditBehind`
        if it cannot be (the caller then withholds the answer)."""
        loop_state = self._state()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop_state.pending.append((state, call, future))
        loop_state.write_wakeup.set()
        # Shielded: a client that leaves does not take its record out of the batch.
        await asyncio.shield(future)

    # -- background -------------------------------------------------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None or state.writer is None or state.writer.done():
            state = _LoopState()
            self._loops = {k: v for k, v in self._loops.items() if not k.is_closed()}
            self._loops[loop] = state
            state.writer = loop.create_task(self._write_loop(state))
            state.mover = loop.create_task(self._move_loop(state))
        return state

    async def start(self) -> None:
        """Move what earlier (perhaps killed) processes left, then start the background tasks."""
        while await anyio.to_thread.run_sync(self._move_once) == self._max_batch:
            pass
        self._state()

    def _write(self, ops: list[tuple[JournalState, CallRecord]]) -> None:
        with transaction(self._sessions) as db:
            write_journal(db, ops, self._clock.now())

    def _move_once(self) -> int:
        now = self._clock.now()
        with transaction(self._sessions) as db:
            stale_before = now - self._stale_after
            moved = move_journal(db, now, stale_before=stale_before, limit=self._max_batch)
        self.moved += moved
        return moved

    async def _write_loop(self, state: _LoopState) -> None:
        while True:
            if not state.pending:
                if state.closing:
                    return
                state.write_wakeup.clear()
                await state.write_wakeup.wait()
                continue
            # Group commit: everything that arrived while the last write ran goes in this one.
            batch = state.pending[: self._max_batch]
            del state.pending[: len(batch)]
            try:
                await anyio.to_thread.run_sync(self._write, [(s, c) for s, c, _ in batch])
            except Exception as exc:
                # The type only: a database error's text may quote parameters.
                log.error("gateway call journal write failed: %s", type(exc).__name__)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(
                            GatewayAuditBehind(
                                "The gateway could not audit this call, so its answer is "
                                "withheld. Try again in a moment.",
                                retry_after=1,
                            )
                        )
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)
            state.move_wakeup.set()

    async def _move_loop(self, state: _LoopState) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # Woken by each write; the timeout also catches stale streams of dead processes.
                await asyncio.wait_for(state.move_wakeup.wait(), 60.0)
            state.move_wakeup.clear()
            state.moving = True
            try:
                # Let records gather: one audit transaction then carries many, and the moves
                # take the database's write lock less often from the journal's writes.
                await asyncio.sleep(self._move_delay)
                while await anyio.to_thread.run_sync(self._move_once) == self._max_batch:
                    pass
            except Exception as exc:
                log.error("gateway call journal move failed: %s", type(exc).__name__)
                await asyncio.sleep(self._retry_delay)
                state.move_wakeup.set()
            finally:
                state.moving = False

    async def drain(self) -> None:
        """Wait until every record written so far in this loop is in the audit log."""
        state = self._loops.get(asyncio.get_running_loop())
        while state is not None and (state.pending or state.moving or state.move_wakeup.is_set()):
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        """Finish this loop's pending writes, move what is journaled, stop its tasks."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is None:
            return
        state.closing = True
        state.write_wakeup.set()
        if state.writer is not None:
            await state.writer
        if state.mover is not None:
            state.mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.mover
        try:
            while await anyio.to_thread.run_sync(self._move_once) == self._max_batch:
                pass
        except Exception as exc:
            # What is left stays journaled; the next process to start moves it.
            log.error("gateway call journal move at shutdown failed: %s", type(exc).__name__)
