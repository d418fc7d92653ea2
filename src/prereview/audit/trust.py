"""A client's trust in a server's audit log: the pinned key and the checkpoints it has seen.

A server can rewrite its log, rebuild the hashes and sign the result with a new key; a client
that checks each checkpoint with the key served beside it would accept that. So the client keeps
a small state file per server (``<audit_trust_dir>/<server>.json``, mode 0600) holding:

* the pinned verifier key: the one given in ``PREREVIEW_AUDIT_PUBLIC_KEY`` (a key, or a file
  holding one), or else the first one served (trust on first use);
* the log's origin, and the checkpoints seen, the latest last.

Each new checkpoint must be signed by the pinned key (a key change fails), must not be smaller
than the last one seen (a rollback fails), and must extend it: the server's consistency proof
from the saved size to the new one is checked against the saved root and the new root, so a
log rebuilt to another history fails. Only then is the new checkpoint saved. The saved
checkpoints are exported as a witness file for ``prereview audit verify --witness`` on the
server's machine (:func:`load_witness`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prereview.audit import merkle
from prereview.audit.checkpoint import Checkpoint, NoteVerifier, parse_and_verify_checkpoint
from prereview.audit.cosignature import Cosignature, CosignatureVerifier, note_cosignatures
from prereview.audit.errors import (
    CheckpointInvalid,
    KeyInvalid,
    LogInconsistent,
    LogRolledBack,
    ProofInvalid,
    TrustKeyChanged,
    TrustStateInvalid,
    WitnessQuorumUnmet,
)
from prereview.audit.journal import PublishedCheckpoint
from prereview.core.files import replace_private
from prereview.core.settings import Settings

STATE_VERSION = 1
MAX_SAVED = 1000
"""Checkpoints kept per server; the oldest go first (the latest alone is enough to detect a
fork, the others make a richer witness)."""
MAX_STATE_BYTES = 10_000_000

ConsistencyFetcher = Callable[[int, int], Mapping[str, Any]]
"""Asks the server for ``/audit/proof/consistency?first=&second=`` and returns its JSON."""


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """A checkpoint the client verified: its size, root and the signed note itself."""

    size: int
    root: bytes
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "note": self.note,
        }


@dataclass(slots=True)
class TrustState:
    """What a client trusts about one server's log."""

    server: str
    origin: str
    verifier_key: str
    checkpoints: list[SavedCheckpoint] = field(default_factory=list)

    @property
    def latest(self) -> SavedCheckpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "server": self.server,
            "origin": self.origin,
            "verifier_key": self.verifier_key,
            "checkpoints": [cp.to_json() for cp in self.checkpoints],
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> TrustState:
        """Parse and check a state (or witness) document; raise ``TrustStateInvalid``."""
        try:
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise TypeError
            key = str(data["verifier_key"])
            verifier = NoteVerifier.from_string(key)
            saved = [_saved(item, verifier) for item in data["checkpoints"]]
            state = cls(str(data["server"]), str(data["origin"]), key, saved)
        except KeyInvalid as exc:
            raise TrustStateInvalid(f"{where} holds an invalid key: {exc.detail}") from None
        except CheckpointInvalid as exc:
            raise TrustStateInvalid(f"{where} holds a bad checkpoint: {exc.detail}") from None
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise TrustStateInvalid(
                f"{where} is not a prereview audit trust file (version {STATE_VERSION})."
            ) from None
        sizes = [cp.size for cp in saved]
        if sizes != sorted(set(sizes)):
            raise TrustStateInvalid(f"{where} lists its checkpoints out of order.")
        if any(_origin(cp) != state.origin for cp in saved):
            raise TrustStateInvalid(f"{where} holds a checkpoint of another log.")
        return state


def _saved(item: Any, verifier: NoteVerifier) -> SavedCheckpoint:
    """A saved checkpoint, checked again against the pinned key: the file is not trusted more
    than the server it came from."""
    note = str(item["note"])
    stated = parse_and_verify_checkpoint(note, verifier)
    root = base64.b64decode(str(item["root"]), validate=True)
    if stated.size != int(item["size"]) or stated.root != root:
        raise CheckpointInvalid(
            f"The saved size or root of the checkpoint at size {stated.size} differs from its "
            "signed note."
        )
    return SavedCheckpoint(stated.size, stated.root, note)


def _origin(saved: SavedCheckpoint) -> str:
    return saved.note.split("\n", 1)[0]


def trust_file(directory: Path, server: str) -> Path:
    """The state file for ``server``: a readable name plus a hash of the normalised URL."""
    normalised = server.strip().rstrip("/").lower()
    parts = urlsplit(normalised)
    readable = re.sub(r"[^a-z0-9.-]+", "_", parts.netloc or normalised)[:60] or "server"
    digest = hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]
    return directory.expanduser() / f"{readable}-{digest}.json"


def load_state(path: Path) -> TrustState | None:
    """The saved state at ``path``, or ``None`` if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TrustStateInvalid(f"Cannot read {path}: {exc.strerror}.") from None
    if len(data) > MAX_STATE_BYTES:
        raise TrustStateInvalid(f"{path} is too large to be a trust file.")
    try:
        document = json.loads(data)
    except ValueError:
        raise TrustStateInvalid(f"{path} is not JSON.") from None
    return TrustState.from_json(document, str(path))


def save_state(path: Path, state: TrustState) -> None:
    """Write ``state`` to ``path`` atomically, readable by its owner only (0600, folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n").encode("utf-8")
    replace_private(path, data)


def configured_key(settings: Settings) -> str | None:
    """``PREREVIEW_AUDIT_PUBLIC_KEY``: a verifier key, or the path of a file holding one."""
    value = settings.audit_public_key
    if value is None or not value.strip():
        return None
    value = value.strip()
    candidate = Path(value).expanduser()
    if "+" not in value or candidate.is_file():
        try:
            value = candidate.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise KeyInvalid(
                f"PREREVIEW_AUDIT_PUBLIC_KEY is neither a verifier key nor a readable key file "
                f"({candidate})."
            ) from None
    return str(NoteVerifier.from_string(value))


def _b64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise LogInconsistent(f"The server sent a {what} that is not base64.") from None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A checkpoint the client now trusts, and whether its key was pinned just now."""

    checkpoint: Checkpoint
    pinned_now: bool
    previous_size: int | None


class LogTrust:
    """The client's trust in one server's log, backed by its state file."""

    def __init__(
        self,
        path: Path,
        server: str,
        expected_key: str | None = None,
        *,
        witnesses: Sequence[CosignatureVerifier] = (),
        min_witnesses: int = 0,
    ) -> None:
        self.path = path
        self.server = server
        self.expected_key = expected_key
        self.witnesses = tuple(witnesses)
        self.min_witnesses = min_witnesses

    @classmethod
    def for_server(
        cls,
        settings: Settings,
        server: str,
        key: str | None = None,
        *,
        witness_keys: Sequence[str] = (),
        min_witnesses: int | None = None,
    ) -> LogTrust:
        """The trust in ``server``'s log; ``key``, ``witness_keys`` and ``min_witnesses``
        (command-line options) beat the settings."""
        expected = str(NoteVerifier.from_string(key)) if key else configured_key(settings)
        keys = (
            list(witness_keys)
            or settings.audit_witness_keys
            or [item.key for item in settings.audit_witnesses]
        )
        return cls(
            trust_file(settings.audit_trust_dir, server),
            server,
            expected,
            witnesses=[CosignatureVerifier.from_string(k) for k in keys],
            min_witnesses=settings.audit_min_witnesses if min_witnesses is None else min_witnesses,
        )

    def state(self) -> TrustState | None:
        return load_state(self.path)

    def _pinned_key(self, state: TrustState | None) -> str | None:
        if state is None:
            return self.expected_key
        if self.expected_key is not None and self.expected_key != state.verifier_key:
            raise TrustKeyChanged(
                f"The key configured for this log ({self.expected_key}) is not the key pinned in "
                f"{self.path} ({state.verifier_key}). If the log's key was rotated, check the "
                "new key with the operator, then run 'prereview audit trust forget'."
            )
        return state.verifier_key

    def accept(self, served: Mapping[str, Any], consistency: ConsistencyFetcher) -> Accepted:
        """Check a served checkpoint (``note`` and ``verifier_key``) and save it.

        Raises ``TrustKeyChanged`` (another key), ``LogRolledBack`` (a smaller tree),
        ``LogInconsistent`` (a tree that does not extend the saved one), ``WitnessQuorumUnmet``
        or ``CosignatureInvalid`` (fewer than ``min_witnesses`` valid witness cosignatures, see
        :func:`require_witnesses`) or another ``CheckpointInvalid`` (a bad signature); nothing
        is saved then.
        """
        state = self.state()
        pinned = self._pinned_key(state)
        served_key = str(served.get("verifier_key", ""))
        if pinned is not None and served_key != pinned:
            raise TrustKeyChanged(
                f"The server now names the key {served_key!r}, but the key pinned for this log "
                f"is {pinned}: the log's signing key changed. If the operator rotated it, check "
                "the new key out of band, then run 'prereview audit trust forget'."
            )
        key = pinned or str(NoteVerifier.from_string(served_key))
        note = str(served.get("note", ""))
        stated = parse_and_verify_checkpoint(
            note, key, origin=state.origin if state is not None else None
        )
        require_witnesses(note, stated, self.witnesses, self.min_witnesses)
        latest = state.latest if state is not None else None
        if latest is not None:
            self._check_extends(latest, stated, consistency)
        if state is None:
            state = TrustState(self.server, stated.origin, key)
        if latest is None or stated.size > latest.size:
            state.checkpoints.append(SavedCheckpoint(stated.size, stated.root, note))
            del state.checkpoints[:-MAX_SAVED]
            save_state(self.path, state)
        return Accepted(
            stated, pinned_now=pinned is None, previous_size=latest.size if latest else None
        )

    def _check_extends(
        self, latest: SavedCheckpoint, stated: Checkpoint, consistency: ConsistencyFetcher
    ) -> None:
        if stated.size < latest.size:
            raise LogRolledBack(
                f"The log's checkpoint has {stated.size} entries, but this client saw one of "
                f"{latest.size} before: the log was truncated or replaced."
            )
        if stated.size == latest.size:
            if stated.root != latest.root:
                raise LogInconsistent(
                    f"The log's checkpoint of size {stated.size} has another root than the one "
                    "this client saw before: the log was rewritten."
                )
            return
        self.check_consistent(latest.size, latest.root, stated.size, stated.root, consistency)

    @staticmethod
    def check_consistent(
        first: int,
        first_root: bytes,
        second: int,
        second_root: bytes,
        consistency: ConsistencyFetcher,
    ) -> None:
        """The server's consistency proof from ``first`` to ``second``, checked against roots
        the client already trusts (never the roots served with the proof)."""
        proof = consistency(first, second)
        path = [_b64(item, "consistency proof hash") for item in proof.get("proof", [])]
        try:
            merkle.verify_consistency(first, second, first_root, second_root, path)
        except ProofInvalid as exc:
            raise LogInconsistent(
                f"The log of {second} entries does not extend the log of {first} entries this "
                f"client saw before: {exc.detail}"
            ) from None

    def anchor(self, size: int, root: bytes, consistency: ConsistencyFetcher) -> None:
        """Check that the tree (``size``, ``root``) served with a proof is the trusted log's.

        Raises ``TrustStateInvalid`` when no checkpoint was accepted yet.
        """
        state = self.state()
        latest = state.latest if state is not None else None
        if latest is None:
            raise TrustStateInvalid("No checkpoint of this log has been accepted yet.")
        if size <= latest.size:
            self.check_consistent(size, root, latest.size, latest.root, consistency)
        else:
            self.check_consistent(latest.size, latest.root, size, root, consistency)

    def forget(self) -> bool:
        """Drop the pinned key and the saved checkpoints; whether there was anything."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def require_witnesses(
    note: str,
    stated: Checkpoint,
    witnesses: Sequence[CosignatureVerifier],
    required: int,
) -> list[Cosignature]:
    """The valid cosignatures on ``note`` by ``witnesses``; at least ``required`` of them.

    Raises :class:`CosignatureInvalid` for a line of a trusted witness that does not verify
    (the checkpoint is not the one that witness saw), and :class:`WitnessQuorumUnmet` naming
    the witnesses whose cosignatures are missing.
    """
    if required == 0:
        return note_cosignatures(note, witnesses) if witnesses else []
    if len(witnesses) < required:
        raise WitnessQuorumUnmet(
            f"{required} witness cosignatures are required, but only {len(witnesses)} witness "
            "keys are configured: give them with --witness-key or PREREVIEW_AUDIT_WITNESS_KEYS."
        )
    found = note_cosignatures(note, witnesses)
    if len(found) < required:
        signed = {(c.witness, c.key_id) for c in found}
        missing = [w.label for w in witnesses if (w.name, w.key_id) not in signed]
        raise WitnessQuorumUnmet(
            f"The checkpoint of size {stated.size} has {len(found)} valid witness "
            f"cosignatures, {required} are required; missing: {', '.join(missing)}. The log "
            "has not had it cosigned yet (try again shortly), or the witnesses refused it as "
            "inconsistent with what they saw before (a fork)."
        )
    return found


def load_witness(path: Path, origin: str | None = None) -> list[PublishedCheckpoint]:
    """The checkpoints in a witness file (an exported trust state), each signature checked
    against the key the client pinned; with ``origin``, they must be of that log."""
    state = load_state(path)
    if state is None:
        raise TrustStateInvalid(f"The witness file {path} does not exist.")
    if origin is not None and state.origin != origin:
        raise TrustStateInvalid(
            f"The witness file {path} is for the log {state.origin!r}, not {origin!r}."
        )
    return [
        PublishedCheckpoint(cp.size, cp.root, cp.note, f"witness {path.name}")
        for cp in state.checkpoints
    ]
