"""The batching sink keeps audit writes off the request path, and holds bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prereview.gateway import BatchingSink, CollectingStore


def test_record_returns_at_once_while_the_store_is_slow() -> None:
    async def scenario() -> None:
        entered = asyncio.Event()
        release = asyncio.Event()
        stored: list[int] = []

        async def slow_store(batch: Sequence[int]) -> None:
            entered.set()
            await release.wait()
            stored.extend(batch)

        sink: BatchingSink[int] = BatchingSink(slow_store, max_batch=100, max_delay=0.001)
        sink.record(0)
        # The store is busy with the first batch, and stays so until the test releases it.
        await asyncio.wait_for(entered.wait(), timeout=10)
        for i in range(1, 10_000):
            # Returns without waiting: the store cannot finish before ``release`` is set.
            sink.record(i)
        assert stored == []
        assert sink.pending == 10_000  # the first batch leaves the queue once it is stored
        release.set()
        await sink.drain()
        await sink.aclose()
        assert stored == list(range(10_000))

    asyncio.run(scenario())


def test_records_are_flushed_in_batches() -> None:
    async def scenario() -> None:
        batches: list[int] = []

        async def store(batch: Sequence[int]) -> None:
            batches.append(len(batch))

        sink: BatchingSink[int] = BatchingSink(store, max_batch=50, max_delay=0.05)
        for i in range(120):
            sink.record(i)
        await sink.aclose()
        assert sum(batches) == 120
        assert max(batches) == 50
        assert len(batches) <= 4

    asyncio.run(scenario())


def test_a_failing_store_is_retried_then_catches_up() -> None:
    async def scenario() -> None:
        attempts = 0
        collected: CollectingStore[int] = CollectingStore()

        async def flaky(batch: Sequence[int]) -> None:
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise ConnectionError("database away")
            await collected(batch)

        sink: BatchingSink[int] = BatchingSink(flaky, max_delay=0.001, retry_delay=0.01)
        for i in range(5):
            sink.record(i)
        await sink.drain()
        await sink.aclose()
        assert collected.items == [0, 1, 2, 3, 4]
        assert attempts == 3

    asyncio.run(scenario())


def test_a_dead_store_costs_bounded_memory() -> None:
    async def scenario() -> None:
        async def dead(batch: Sequence[int]) -> None:
            raise ConnectionError("gone")

        sink: BatchingSink[int] = BatchingSink(dead, max_queue=100, retry_delay=10)
        for i in range(250):
            sink.record(i)
        assert sink.pending == 100
        assert sink.dropped == 150
        task = sink._task
        assert task is not None
        task.cancel()

    asyncio.run(scenario())
