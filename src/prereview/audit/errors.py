"""Errors of the audit log.

Each one says what was checked and what was found, so that the person running
``prereview audit verify`` (or reading the problem document) knows what failed without reading
code. None of them carries secret material: hashes, sizes and key names only.
"""

from __future__ import annotations

from prereview.core.errors import PrereviewError


class AuditError(PrereviewError):
    """Base of the audit log's errors."""

    slug = "audit-error"
    status = 400
    title = "Audit log error"


class ProofInvalid(AuditError):
    """An inclusion or consistency proof did not verify (RFC 9162 2.1.3.2 / 2.1.4.2)."""

    slug = "audit-proof-invalid"
    status = 422
    title = "The Merkle proof does not verify"


class TreeRangeInvalid(AuditError):
    """A proof or root was asked for sizes or indices the tree cannot have.

    For example an inclusion proof for index 7 in a tree of 5 leaves, or a consistency proof
    from a larger tree to a smaller one.
    """

    slug = "audit-range-invalid"
    status = 422
    title = "No such position in the audit log"


class NodeMissing(AuditError):
    """The node store lacks a perfect-subtree hash that a complete tree must have.

    This is a fault of the server's storage (an append that was not completed, or a deleted
    row), never of the request.
    """

    slug = "audit-node-missing"
    status = 500
    title = "The audit log's stored tree is incomplete"


class LogMismatch(AuditError):
    """The stored log does not reproduce a signed checkpoint, or an entry its stored hash.

    ``extra["position"]``, when present, is the 0-based index of the first leaf found bad.
    """

    slug = "audit-log-mismatch"
    status = 409
    title = "The audit log does not match its checkpoint"


class CheckpointInvalid(AuditError):
    """A signed note or checkpoint was rejected. Subclasses say why."""

    slug = "audit-checkpoint-invalid"
    status = 422
    title = "The checkpoint is not valid"


class CheckpointMalformed(CheckpointInvalid):
    """The text is not a well-formed C2SP signed note or tlog checkpoint."""

    slug = "audit-checkpoint-malformed"
    title = "The checkpoint is malformed"


class CheckpointSignatureInvalid(CheckpointInvalid):
    """A signature from the trusted key is present but does not verify over the note text."""

    slug = "audit-checkpoint-signature-invalid"
    title = "The checkpoint's signature does not verify"


class CheckpointUnverified(CheckpointInvalid):
    """The note carries no signature from the trusted key (only unknown keys, or none)."""

    slug = "audit-checkpoint-unverified"
    title = "The checkpoint is not signed by the expected key"


class KeyInvalid(AuditError):
    """A signer or verifier key (string, PEM or file) could not be used."""

    slug = "audit-key-invalid"
    status = 422
    title = "The audit log key is not valid"


# --- A client's trust in the log (raised on the client's machine, never served) ---------------


class TrustKeyChanged(CheckpointInvalid):
    """The log is signed, or said to be signed, by another key than the one the client pinned."""

    slug = "audit-key-changed"
    title = "The audit log's signing key changed"


class LogRolledBack(CheckpointInvalid):
    """The log's new checkpoint is smaller than one the client saw before: history was cut."""

    slug = "audit-log-rolled-back"
    title = "The audit log is smaller than when last seen"


class LogInconsistent(CheckpointInvalid):
    """The log's new checkpoint does not extend the one the client saw before: history changed."""

    slug = "audit-log-inconsistent"
    title = "The audit log does not extend the checkpoint last seen"


class TrustStateInvalid(AuditError):
    """The client's saved trust state (pinned key, checkpoints) or a witness file is unusable."""

    slug = "audit-trust-state-invalid"
    status = 422
    title = "The saved audit trust state is not valid"


# --- Witness cosignatures (C2SP tlog-cosignature) ---------------------------------------------


class CosignatureInvalid(CheckpointInvalid):
    """A cosignature line names a trusted witness key but does not verify over the checkpoint.

    ``extra["witness"]`` is the witness key's ``<name>+<key ID>``.
    """

    slug = "audit-cosignature-invalid"
    title = "A witness cosignature does not verify"


class WitnessQuorumUnmet(CheckpointInvalid):
    """The checkpoint carries fewer valid cosignatures from trusted witnesses than required."""

    slug = "audit-witnesses-missing"
    title = "Not enough witnesses cosigned the checkpoint"
