"""Getting the log's checkpoints cosigned by witnesses (C2SP tlog-witness, the log's side).

For each witness configured in ``audit_witnesses``, :class:`WitnessPublisher` sends the latest
checkpoint with a consistency proof from the size that witness last cosigned (the largest
size it has a row for in ``audit_cosignatures``, or 0), and on a 409 retries from the size the
witness says it has. The cosignature it returns is checked against the witness's key before it
is stored. No database transaction is open while a witness is being talked to: the checkpoint
and the proof are read, the session closed, the request made, and the answer stored in a
transaction of its own.

A witness that is down or refuses does not make the checkpoint less valid: the failure is
logged, the checkpoint is served without that cosignature, and the witness is tried again
``audit_witness_retry_s`` later by a background thread (and by the next checkpoint read after
that), until it cosigns.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from prereview.audit.cosignature import CosignatureVerifier, cosignatures_of
from prereview.audit.errors import AuditError, CheckpointInvalid
from prereview.audit.models import AuditCheckpoint, AuditCosignature
from prereview.audit.service import consistency_proof
from prereview.audit.signing import _insert_ignoring_duplicates, latest_stored_checkpoint
from prereview.core.clock import Clock
from prereview.core.settings import Settings

log = logging.getLogger("prereview.audit.witnessing")

MAX_CONFLICT_RETRIES = 3
"""409 answers followed per attempt: one is normal (the witness knows a size we did not)."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_MAX_ANSWER_BYTES = 64 * 1024
_SIZE_RE = re.compile(r"(0|[1-9][0-9]*)\n")


class WitnessFailed(AuditError):
    """A witness did not cosign: unreachable, a refusal, or an answer that does not verify."""

    slug = "audit-witness-failed"
    status = 502
    title = "A witness did not cosign the checkpoint"


@dataclass(frozen=True, slots=True)
class ConfiguredWitness:
    """A witness the log sends its checkpoints to."""

    url: str
    verifier: CosignatureVerifier

    @property
    def label(self) -> str:
        return self.verifier.label


def configured_witnesses(settings: Settings) -> list[ConfiguredWitness]:
    """The witnesses of ``settings.audit_witnesses``, their keys parsed."""
    return [
        ConfiguredWitness(item.url.rstrip("/"), CosignatureVerifier.from_string(item.key))
        for item in settings.audit_witnesses
    ]


# --- Reading and storing cosignatures ---------------------------------------------------------


def last_cosigned(db: Session, witness: str) -> int:
    """The largest checkpoint size ``witness`` (``<name>+<key ID>``) cosigned; 0 if none."""
    found = db.scalar(
        select(func.max(AuditCosignature.size)).where(AuditCosignature.witness == witness)
    )
    return int(found) if found is not None else 0


def cosignature_lines(db: Session, size: int) -> list[str]:
    """The stored cosignature lines of the checkpoint of ``size``, in witness order."""
    return list(
        db.scalars(
            select(AuditCosignature.line)
            .where(AuditCosignature.size == size)
            .order_by(AuditCosignature.witness)
        )
    )


def _store(
    sessions: sessionmaker[Session], size: int, witness: str, line: str, stamp: int, at: datetime
) -> None:
    with sessions() as db:
        _insert_ignoring_duplicates(
            db,
            AuditCosignature,
            {"size": size, "witness": witness, "line": line, "timestamp": stamp, "received_at": at},
        )
        db.commit()


# --- Talking to one witness -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pending:
    size: int
    note: str
    body: str
    old: int
    proof: tuple[bytes, ...]


def _pending(sessions: sessionmaker[Session], witness: str, old: int | None) -> _Pending | None:
    """What to send ``witness``: the latest checkpoint and the proof from ``old`` (default: the
    size it last cosigned), or ``None`` if it has cosigned the latest already. Reads only, and
    the session is closed when this returns."""
    with sessions() as db:
        checkpoint = latest_stored_checkpoint(db)
        if checkpoint is None:
            return None
        start = last_cosigned(db, witness) if old is None else old
        if old is None and start >= checkpoint.size:
            return None
        if start > checkpoint.size:
            return None  # the witness has a newer checkpoint than ours: nothing to ask
        proof = consistency_proof(db, start, checkpoint.size).path if start else []
        body = checkpoint.note[: checkpoint.note.rfind("\n\n") + 1]
        pending = _Pending(checkpoint.size, checkpoint.note, body, start, tuple(proof))
        db.rollback()
    return pending


def request_body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """An ``add-checkpoint`` body: ``old <size>``, one base64 proof hash a line, a blank line,
    then the signed checkpoint."""
    lines = [f"old {old}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode("utf-8")


def parse_size(body: bytes) -> int | None:
    """The size in a ``text/x.tlog.size`` body (decimal and a newline), or ``None``."""
    try:
        matched = _SIZE_RE.fullmatch(body.decode("ascii"))
    except UnicodeDecodeError:
        return None
    return int(matched.group(1)) if matched else None


def cosign_with(
    sessions: sessionmaker[Session],
    witness: ConfiguredWitness,
    http: httpx.Client,
    now: datetime,
) -> int | None:
    """Have ``witness`` cosign the latest checkpoint and store its cosignature.

    Returns the size cosigned, or ``None`` if it had cosigned the latest already. Raises
    :class:`WitnessFailed` naming the witness and what went wrong.
    """
    pending = _pending(sessions, witness.label, None)
    for _ in range(MAX_CONFLICT_RETRIES + 1):
        if pending is None:
            return None
        answer = _post(witness, http, pending)
        if answer.status_code == 409:
            size = _conflict_size(witness, answer)
            log.info("witness %s has size %d; sending the proof from there", witness.label, size)
            pending = _pending(sessions, witness.label, size)
            continue
        if answer.status_code != 200:
            raise WitnessFailed(
                f"The witness {witness.label} refused the checkpoint of size {pending.size}: "
                f"HTTP {answer.status_code} {_detail(answer)}."
            )
        cosignature = _verified_answer(witness, pending, answer.text)
        _store(sessions, pending.size, witness.label, cosignature[0], cosignature[1], now)
        return pending.size
    raise WitnessFailed(
        f"The witness {witness.label} kept answering 409 Conflict: another log is writing it."
    )


def _post(witness: ConfiguredWitness, http: httpx.Client, pending: _Pending) -> httpx.Response:
    try:
        return http.post(
            f"{witness.url}/add-checkpoint",
            content=request_body(pending.old, pending.proof, pending.note),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    except httpx.HTTPError as exc:
        raise WitnessFailed(
            f"The witness {witness.label} at {witness.url} is unreachable: "
            f"{exc.__class__.__name__}."
        ) from None


def _conflict_size(witness: ConfiguredWitness, answer: httpx.Response) -> int:
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    size = parse_size(answer.content) if media == SIZE_CONTENT_TYPE else None
    if size is None:
        raise WitnessFailed(
            f"The witness {witness.label} answered 409 without a {SIZE_CONTENT_TYPE} size."
        )
    return size


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", ""))[:300]
    except ValueError:
        return answer.text[:300]


def _verified_answer(witness: ConfiguredWitness, pending: _Pending, text: str) -> tuple[str, int]:
    """The witness's cosignature line among its answer's lines, checked; and its timestamp."""
    if len(text) > _MAX_ANSWER_BYTES or not text.endswith("\n"):
        raise WitnessFailed(f"The witness {witness.label} sent an answer that is not lines.")
    lines = [line + "\n" for line in text[:-1].split("\n")]
    try:
        found = cosignatures_of(pending.body, lines, [witness.verifier])
    except CheckpointInvalid as exc:
        raise WitnessFailed(f"The witness {witness.label}'s answer: {exc.detail}") from None
    if not found:
        raise WitnessFailed(
            f"The witness {witness.label} answered without a cosignature by its key "
            f"{witness.verifier}."
        )
    return found[0].line, found[0].timestamp


# --- Sending every checkpoint, retrying the witnesses that failed -----------------------------


class WitnessPublisher:
    """Sends the latest checkpoint to every configured witness, and retries those that fail.

    One per running app (``app.state``). :meth:`cosign_now` is called after a checkpoint is
    signed; it talks to the witnesses in parallel, skipping those that failed less than
    ``audit_witness_retry_s`` ago, which a background thread retries instead.
    """

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._clients: dict[str, httpx.Client] = {}
        self._failed_at: dict[str, float] = {}
        self._guard = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._retrier: threading.Thread | None = None

    def witnesses(self) -> list[ConfiguredWitness]:
        # Read on every call: the demo adds its witnesses to the settings after start-up.
        return configured_witnesses(self._settings)

    def _client(self, witness: ConfiguredWitness) -> httpx.Client:
        with self._guard:
            client = self._clients.get(witness.url)
            if client is None:
                client = httpx.Client(timeout=self._settings.audit_witness_timeout_s)
                self._clients[witness.url] = client
            return client

    def _one(self, witness: ConfiguredWitness) -> int | None:
        try:
            size = cosign_with(self._sessions, witness, self._client(witness), self._clock.now())
        except WitnessFailed as exc:
            log.warning("%s; the checkpoint stays valid and will be sent again", exc.detail)
            with self._guard:
                self._failed_at[witness.label] = time.monotonic()
            self._start_retrier()
            return None
        with self._guard:
            self._failed_at.pop(witness.label, None)
        return size

    def cosign_now(self, *, include_failed: bool = False) -> None:
        """Send the latest checkpoint to each witness that lacks it; wait for the answers."""
        retry = self._settings.audit_witness_retry_s
        now = time.monotonic()
        with self._guard:
            due = [
                w
                for w in self.witnesses()
                if include_failed or now - self._failed_at.get(w.label, -retry) >= retry
            ]
            if due and self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="witness")
            pool = self._pool
        if not due or pool is None:
            return
        list(pool.map(self._one, due))

    def missing(self, db: Session, size: int) -> Sequence[ConfiguredWitness]:
        """The configured witnesses with no cosignature stored for the checkpoint of ``size``."""
        configured = self.witnesses()
        if not configured:
            return []
        have = set(
            db.scalars(select(AuditCosignature.witness).where(AuditCosignature.size == size))
        )
        return [w for w in configured if w.label not in have]

    def _start_retrier(self) -> None:
        with self._guard:
            if self._retrier is not None and self._retrier.is_alive():
                return
            self._retrier = threading.Thread(
                target=self._retry_loop, name="witness-retry", daemon=True
            )
            self._retrier.start()

    def _retry_loop(self) -> None:
        while True:
            time.sleep(self._settings.audit_witness_retry_s)
            with self._guard:
                failing = bool(self._failed_at)
            if not failing:
                return
            try:
                self.cosign_now(include_failed=True)
            except Exception:  # a database outage: log it, keep retrying
                log.exception("retrying the witnesses failed")

    def close(self) -> None:
        with self._guard:
            clients, self._clients = list(self._clients.values()), {}
            pool, self._pool = self._pool, None
        for client in clients:
            client.close()
        if pool is not None:
            pool.shutdown(wait=False)


def served_note(
    db: Session, checkpoint: AuditCheckpoint, publisher: WitnessPublisher | None
) -> str:
    """The checkpoint's note as served: with every stored cosignature, after asking the
    witnesses that lack one (outside any transaction; bounded by their timeout)."""
    size, note = checkpoint.size, checkpoint.note
    if publisher is not None and publisher.missing(db, size):
        db.rollback()  # no transaction stays open while witnesses are asked
        publisher.cosign_now()
    return note + "".join(cosignature_lines(db, size))
