"""The witness itself: checks an ``add-checkpoint`` request and cosigns, or refuses.

The checks, in the order C2SP tlog-witness gives them (https://c2sp.org/tlog-witness):

1. the body parses (else 400); the origin is a log this witness follows (else 404);
2. a key trusted for that origin signed the checkpoint, and no signature by such a key fails
   (else 403); signatures by other keys are ignored;
3. the old size is not larger than the checkpoint's (else 400);
4. a checkpoint of size 0 has the empty tree's root (else 422);
5. inside the origin's transaction: the old size is the size of the latest checkpoint cosigned
   for the origin, or 0 if none (else 409 with that size); the proof is empty from size 0, and
   otherwise proves the new tree extends the latest one (else 422); equal sizes need equal
   roots (else 422);
6. the new checkpoint is recorded, durably, and only then its cosignature returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prereview.audit import merkle
from prereview.audit.checkpoint import Checkpoint, NoteVerifier, open_note
from prereview.audit.cosignature import Cosigner
from prereview.audit.errors import (
    CheckpointInvalid,
    CheckpointMalformed,
    CheckpointSignatureInvalid,
    CheckpointUnverified,
    KeyInvalid,
    ProofInvalid,
)
from prereview.core.files import private_dir, write_new_private
from prereview.witness.errors import (
    Inconsistent,
    OldSizeConflict,
    RequestMalformed,
    SignatureRejected,
    UnknownLog,
)
from prereview.witness.protocol import AddCheckpoint, parse_request
from prereview.witness.state import Latest, WitnessState

log = logging.getLogger("prereview.witness")


# --- The witness's key file -------------------------------------------------------------------


def write_key(path: Path, cosigner: Cosigner) -> None:
    """Write the witness key to a new file only its owner can read (0600); never overwrite."""
    private_dir(path.parent)
    try:
        write_new_private(path, (cosigner.to_string() + "\n").encode("ascii"))
    except FileExistsError:
        raise KeyInvalid(f"{path} already exists; refusing to overwrite a witness key.") from None


def read_key(path: Path) -> Cosigner:
    """Load a witness key file; refuse one that others can read, as ssh does."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
        raise KeyInvalid(f"Cannot read the witness key {path}: {reason}.") from None
    if os.name == "posix" and mode & 0o077:
        raise KeyInvalid(
            f"The witness key {path} is accessible to other users (mode {mode & 0o777:04o}); "
            f"run 'chmod 600 {path}'."
        )
    return Cosigner.from_string(text)


# --- The logs a witness follows ---------------------------------------------------------------


def parse_log(spec: str) -> tuple[str, NoteVerifier]:
    """``<origin>=<verifier key>`` (the ``--log`` option) -> origin, key."""
    origin, sep, vkey = spec.partition("=")
    if not sep or not origin or "\n" in origin:
        raise KeyInvalid(f"A log is given as <origin>=<verifier key>, not {spec!r}.")
    return origin, NoteVerifier.from_string(vkey)


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A checkpoint just cosigned: its size and the cosignature line(s) to return."""

    origin: str
    size: int
    lines: tuple[str, ...]


class Witness:
    """A witness: its key, the logs it follows (origin -> trusted keys) and its state."""

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        state: WitnessState,
        clock: Callable[[], float],
    ) -> None:
        self.cosigner = cosigner
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.state = state
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> Cosigned:
        """Check one request and cosign its checkpoint; raise a ``WitnessError`` to refuse."""
        request = parse_request(body)
        checkpoint = self._verified(request.note)
        if request.old > checkpoint.size:
            raise RequestMalformed(
                f"The old size {request.old} is larger than the checkpoint's size "
                f"{checkpoint.size}."
            )
        if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
            raise self._refuse(
                checkpoint,
                request,
                "a checkpoint of size 0 must have the empty tree's root (SHA-256 of nothing)",
            )
        now = int(self._clock())
        with self.state.transaction(checkpoint.origin) as tx:
            latest = tx.latest()
            reason = self._inconsistency(checkpoint, request, latest)
            if reason is None:
                line = self.cosigner.cosign(checkpoint.body(), max(now, 1))
                tx.record(checkpoint.size, checkpoint.root, request.note + line, now)
        if reason is not None:  # kept as evidence once the origin's transaction has ended
            raise self._refuse(checkpoint, request, reason)
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
        return Cosigned(checkpoint.origin, checkpoint.size, (line,))

    def _verified(self, note: str) -> Checkpoint:
        """The checkpoint of ``note``, signed by a key trusted for its origin."""
        origin = note.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            raise UnknownLog(f"This witness does not follow the log {origin!r}.")
        text: str | None = None
        for key in keys:
            try:
                text = open_note(note, key)
            except CheckpointSignatureInvalid as exc:
                raise SignatureRejected(exc.detail) from None
            except CheckpointUnverified:
                continue
            except CheckpointMalformed as exc:
                raise RequestMalformed(f"The checkpoint note is malformed: {exc.detail}") from None
        if text is None:
            raise SignatureRejected(
                f"The checkpoint carries no signature by a key this witness trusts for {origin!r}."
            )
        try:
            checkpoint = Checkpoint.from_body(text)
        except CheckpointInvalid as exc:
            raise RequestMalformed(f"The checkpoint is malformed: {exc.detail}") from None
        return checkpoint

    def _inconsistency(
        self, checkpoint: Checkpoint, request: AddCheckpoint, latest: Latest | None
    ) -> str | None:
        """Why the checkpoint cannot follow ``latest`` (``None`` if it can); a 409 if the old
        size is not the latest's."""
        known = latest.size if latest is not None else 0
        if request.old != known:
            raise OldSizeConflict(known)
        if request.old == 0:
            return "a proof from size 0 must be empty" if request.proof else None
        assert latest is not None  # old == known > 0
        try:
            merkle.verify_consistency(
                latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
            )
        except ProofInvalid as exc:
            return (
                f"it is not consistent with the checkpoint of size {latest.size} cosigned "
                f"before: {exc.detail}"
            )
        return None

    def _refuse(self, checkpoint: Checkpoint, request: AddCheckpoint, reason: str) -> Inconsistent:
        """The 422 answer; the validly signed checkpoint is kept as evidence of a fork."""
        log.warning(
            "refused a checkpoint of %s at size %d: %s", checkpoint.origin, checkpoint.size, reason
        )
        self.state.log_refusal(checkpoint.origin, int(self._clock()), reason, request.note)
        return Inconsistent(f"The checkpoint of size {checkpoint.size} was refused: {reason}.")
