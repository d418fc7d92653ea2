"""The witness's refusals, each with the HTTP status that C2SP tlog-witness requires.

https://c2sp.org/tlog-witness names the status of every refusal of ``add-checkpoint``; the
problem ``type`` under it says which check failed, for a person reading the answer.
"""

from __future__ import annotations

from prereview.core.errors import PrereviewError


class WitnessError(PrereviewError):
    """Base of the witness's errors."""

    slug = "witness-error"
    status = 400
    title = "Witness error"


class RequestMalformed(WitnessError):
    """The body is not ``old <size>``, proof lines, a blank line and a checkpoint; or the old
    size is larger than the checkpoint's (400 Bad Request)."""

    slug = "witness-request-malformed"
    status = 400
    title = "The add-checkpoint request is malformed"


class UnknownLog(WitnessError):
    """The checkpoint's origin is not a log this witness follows (404 Not Found)."""

    slug = "witness-unknown-log"
    status = 404
    title = "This witness does not follow that log"


class SignatureRejected(WitnessError):
    """No valid signature by a key the witness trusts for the origin, or a signature by such a
    key that fails (403 Forbidden)."""

    slug = "witness-signature-rejected"
    status = 403
    title = "The checkpoint is not signed by the log's key"


class OldSizeConflict(WitnessError):
    """The old size is not the size of the latest checkpoint cosigned for that log (409).

    The answer's body is that size and a newline, as ``text/x.tlog.size``.
    """

    slug = "witness-old-size-conflict"
    status = 409
    title = "The old size is not the witness's latest"

    def __init__(self, latest: int) -> None:
        super().__init__(f"The latest checkpoint this witness cosigned has size {latest}.")
        self.latest = latest


class Inconsistent(WitnessError):
    """The consistency proof does not verify, the roots of one size differ, or the empty tree
    has the wrong root (422 Unprocessable Entity): the log forked, or the request is wrong."""

    slug = "witness-inconsistent"
    status = 422
    title = "The checkpoint is not consistent with the one cosigned before"


class BodyTooLarge(WitnessError):
    """The request body passed the witness's limit (413), refused while reading."""

    slug = "witness-body-too-large"
    status = 413
    title = "The request body is too large"
