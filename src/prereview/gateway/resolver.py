"""The database-backed :class:`~prereview.gateway.engine.interfaces.GrantResolver`.

Every model call asks it who holds the presented key and whether that key may reach the model
*now*. It must answer in microseconds, yet the very next call after a release, withdrawal,
expiry or revocation must be refused. Three mechanisms together give both:

1. **Per call, with the clock.** A cached :class:`~prereview.gateway.snapshots.KeySnapshot` holds
   the submission's dates; the window is recomputed from them and the injected clock on every
   call, so expiry (and a planned release date passing) needs no database read at all.
2. **In this process, at once.** The use cases that change access (of a submission, grant,
   nomination, gateway key, limit, upstream or data key) raise the explicit "access changed"
   signal (:mod:`prereview.authz.events`); on hearing it after their commit
   (:func:`watch_commits`) the resolver moves :data:`GENERATION` on. A cache entry from an
   older generation is re-read before it is used, so a release through the API is seen by
   the next gateway call.
3. **Across replicas.** With ``PREREVIEW_REDIS_URL`` set, each access-changing commit is
   also published on a Redis channel and every replica moves its generation on hearing it
   (:class:`RedisInvalidation`). Whatever happens to those messages, an entry older than
   ``ttl`` (250 ms) is re-read, which bounds how long any other process (a replica, or a CLI
   run against the same database) can be behind. Streams re-read the database at every
   liveness check (every 2 s).

Concurrent misses for one key share one database read, so the re-read costs one query per key
per ``ttl`` whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
import redis
import redis.asyncio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from prereview.authz import events
from prereview.core.clock import Clock
from prereview.gateway.engine.interfaces import GrantContext, LivenessCheck, SecretHeaders
from prereview.gateway.engine.memory import CLOSED_DETAIL
from prereview.gateway.errors import (
    GatewayAccessClosed,
    GatewayKeyUnknown,
    GatewayNotConfigured,
    GatewayUnavailable,
)
from prereview.gateway.snapshots import (
    KeySnapshot,
    hash_key,
    key_snapshot,
    refusal,
    upstream_secret,
)
from prereview.vault.errors import VaultError
from prereview.vault.service import Vault

log = logging.getLogger(__name__)


class AccessGeneration:
    """A process-wide counter that moves whenever a commit changed who may reach a model."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def bump(self) -> None:
        with self._lock:
            self._value += 1


GENERATION = AccessGeneration()


def _on_access_changed() -> None:
    # Heard only after the commit: a resolver that re-read before it would see the old rows
    # and cache them under the new generation.
    GENERATION.bump()
    for publish in tuple(_PUBLISHERS):
        publish()


#: Called after every access-changing commit, to tell other replicas (see RedisInvalidation).
_PUBLISHERS: list[Callable[[], None]] = []


def watch_commits() -> None:
    """Move :data:`GENERATION` on every "access changed" signal (idempotent)."""
    events.subscribe(_on_access_changed)


@dataclass(frozen=True, slots=True)
class _Entry:
    snapshot: KeySnapshot | None
    context: GrantContext | None
    loaded: float
    generation: int


class DbGrantResolver:
    """Resolves gateway keys from the database, through a short-lived cache (see the module)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: Callable[[], Vault],
        clock: Clock,
        *,
        ttl: float = 0.25,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: dict[str, _Entry] = {}
        self._loading: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[_Entry]] = {}
        # submission id -> (upstream version, base URL, headers): decrypted once per version.
        self._upstreams: dict[str, tuple[int, str, SecretHeaders]] = {}
        watch_commits()

    async def resolve(self, presented_key: str) -> GrantContext:
        """The grant behind ``presented_key`` if it may reach the model now; else 401/403."""
        key_hash = hash_key(presented_key)
        entry = self._cache.get(key_hash)
        if (
            entry is None
            or entry.generation != GENERATION.value
            or time.monotonic() - entry.loaded > self._ttl
        ):
            entry = await self._load(key_hash)
        snapshot = entry.snapshot
        if snapshot is None:
            raise GatewayKeyUnknown("This gateway key is not known.")
        reason = refusal(snapshot, self._clock.now())
        if reason is not None:
            raise _closed(reason, snapshot)
        if entry.context is None:
            raise GatewayNotConfigured(
                "The developer has not registered the model's endpoint for this submission yet."
            )
        return entry.context

    def forget(self) -> None:
        """Drop every cached entry and decrypted credential (for shutdown and tests)."""
        self._cache.clear()
        self._upstreams.clear()

    async def _load(self, key_hash: str) -> _Entry:
        loop = asyncio.get_running_loop()
        # Per event loop: a future can only be awaited on the loop that made it (the same app
        # may be served by more than one server in tests).
        slot = (loop, key_hash)
        pending = self._loading.get(slot)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Entry] = loop.create_future()
        self._loading[slot] = future
        try:
            try:
                entry = await anyio.to_thread.run_sync(self._read, key_hash)
            except SQLAlchemyError as exc:
                # The type only: a database error's text may quote parameters.
                log.error("gateway access check failed: %s", type(exc).__name__)
                raise GatewayUnavailable(
                    "Access to the model cannot be checked right now; try again shortly."
                ) from None
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody may be waiting on it
            raise
        finally:
            del self._loading[slot]
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        self._cache[key_hash] = entry
        future.set_result(entry)
        return entry

    def _read(self, key_hash: str) -> _Entry:
        """Runs in a worker thread: one short read transaction."""
        # Taken before the read, so a commit that lands during it makes the entry stale.
        generation = GENERATION.value
        loaded = time.monotonic()
        now = self._clock.now()
        with self._sessions() as db:
            snapshot = key_snapshot(db, key_hash)
            if snapshot is None:
                return _Entry(None, None, loaded, generation)
            if snapshot.dates.withdrawn_at is not None:
                # Withdrawn: the sealed credentials are shredded; drop our copy as well.
                self._upstreams.pop(snapshot.submission_id, None)
            context = None
            if snapshot.upstream is not None and refusal(snapshot, now) is None:
                context = self._context(db, snapshot, now, key_hash)
            return _Entry(snapshot, context, loaded, generation)

    def _context(
        self, db: Session, snapshot: KeySnapshot, now: datetime, key_hash: str
    ) -> GrantContext | None:
        upstream = snapshot.upstream
        assert upstream is not None
        cached = self._upstreams.get(snapshot.submission_id)
        if cached is None or cached[0] != upstream.version:
            try:
                base_url, headers = upstream_secret(db, self._vault(), snapshot.submission_id, now)
            except VaultError as exc:
                log.warning(
                    "gateway upstream of submission %s is unreadable: %s",
                    snapshot.submission_id,
                    type(exc).__name__,
                )
                return None
            cached = (upstream.version, base_url, SecretHeaders(headers))
            self._upstreams[snapshot.submission_id] = cached
        _, base_url, credential_headers = cached
        return GrantContext(
            access_id=snapshot.access_id,
            org_id=snapshot.org_id,
            submission_id=snapshot.submission_id,
            key_id=snapshot.key_id,
            public_model=upstream.public_model,
            upstream_model=upstream.upstream_model,
            upstream_base_url=base_url,
            credential_headers=credential_headers,
            recheck=self._liveness(key_hash),
            limits=snapshot.limits,
            keep_transcripts=upstream.keep_transcripts,
        )

    def _liveness(self, key_hash: str) -> LivenessCheck:
        """A check that re-reads the database: streams end on release, withdrawal, expiry or
        revocation, whichever process made the change."""

        def read() -> KeySnapshot | None:
            with self._sessions() as db:
                return key_snapshot(db, key_hash)

        async def recheck() -> None:
            snapshot = await anyio.to_thread.run_sync(read)
            if snapshot is None:
                raise GatewayAccessClosed(CLOSED_DETAIL["revoked"], reason="revoked")
            reason = refusal(snapshot, self._clock.now())
            if reason is not None:
                raise _closed(reason, snapshot)

        return recheck


def _closed(reason: str, snapshot: KeySnapshot) -> GatewayAccessClosed:
    return GatewayAccessClosed(
        CLOSED_DETAIL[reason],
        reason=reason,
        access_id=snapshot.access_id,
        org_id=snapshot.org_id,
        submission_id=snapshot.submission_id,
        key_id=snapshot.key_id,
    )


INVALIDATION_CHANNEL = "prereview:gateway:access"


class RedisInvalidation:
    """Carries access changes between replicas: after an access-changing commit this process
    publishes on a Redis channel, and every replica that hears it moves its :data:`GENERATION`,
    so its next call re-reads the database, as this process's does.

    A lost message (Redis restarting) costs at most the resolver's ``ttl`` of staleness, which
    holds whether or not Redis is there.
    """

    def __init__(self, url: str, channel: str = INVALIDATION_CHANNEL) -> None:
        self._url = url
        self._channel = channel
        # Tells our own messages apart: this process has bumped already.
        self._origin = uuid.uuid4().hex.encode()
        # Synchronous: commits happen in worker threads and in the CLI, without an event loop.
        self._publisher = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._task: asyncio.Task[None] | None = None

    def publish(self) -> None:
        """Tell the other replicas; never fails the commit that triggered it."""
        try:
            self._publisher.publish(self._channel, self._origin)
        except redis.RedisError as exc:
            log.warning("gateway invalidation not published: %s", type(exc).__name__)

    async def start(self) -> None:
        """Publish on access changes and listen for other replicas' (in the running loop)."""
        if self.publish not in _PUBLISHERS:
            _PUBLISHERS.append(self.publish)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(self._url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and message["data"] != self._origin:
                            GENERATION.bump()
            except redis.RedisError as exc:
                log.warning("gateway invalidation channel lost: %s", type(exc).__name__)
                # Anything missed meanwhile could be stale: re-read everything.
                GENERATION.bump()
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    async def aclose(self) -> None:
        """Stop listening and publishing."""
        if self.publish in _PUBLISHERS:
            _PUBLISHERS.remove(self.publish)
        task, self._task = self._task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._publisher.close()
