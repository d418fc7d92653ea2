"""Errors the gateway answers with.

Each is a :class:`~prereview.core.errors.PrereviewError` with a stable problem slug, so the
gateway's answers read like the rest of the API (``application/problem+json``). Every answer also
carries an OpenAI-style ``error`` member, so the official ``openai`` client and Inspect AI show
the ``detail`` to the person instead of a bare status code.

None of these messages may name the upstream URL, its host or its credentials: the developer's
endpoint is confidential, and the person who reads the error is a reviewer, not the developer.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from prereview.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PrereviewError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
)


class GatewayKeyMissing(Unauthenticated):
    """The request carries no ``Authorization: Bearer`` gateway key."""

    slug = "gateway-key-missing"
    title = "A gateway key is required"


class GatewayKeyUnknown(Unauthenticated):
    """The presented key is not a gateway key this deployment issued."""

    slug = "gateway-key-unknown"
    title = "The gateway key is not valid"


class GatewayAccessClosed(Forbidden):
    """The key is known but its grant may not reach the model now.

    ``reason`` is one of :data:`CLOSED_REASONS` and is repeated in the problem document, so a
    client can tell "the window has not opened yet" from "the developer withdrew".
    """

    slug = "gateway-access-closed"
    title = "Model access through this key has ended"

    CLOSED_REASONS: ClassVar[frozenset[str]] = frozenset(
        {"not-yet-open", "expired", "released", "withdrawn", "revoked", "grant-ended"}
    )

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        access_id: str | None = None,
        org_id: str | None = None,
        submission_id: str | None = None,
        key_id: str | None = None,
        **extra: Any,
    ) -> None:
        if reason not in self.CLOSED_REASONS:
            raise ValueError(f"unknown access-closed reason {reason!r}")
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason
        # For the audit record of the refused call only; not part of the problem document.
        self.access_id = access_id
        self.org_id = org_id
        self.submission_id = submission_id
        self.key_id = key_id


class GatewayModelNotFound(NotFound):
    """The request names a model this grant does not give access to."""

    slug = "gateway-model-not-found"
    title = "The model is not available through this key"


class GatewayRouteNotFound(NotFound):
    """The path is not one of the OpenAI endpoints the gateway serves."""

    slug = "gateway-route-not-found"
    title = "No such gateway endpoint"


class GatewayMethodNotAllowed(PrereviewError):
    """The endpoint exists but not for this HTTP method."""

    slug = "gateway-method-not-allowed"
    status = 405
    title = "Method not allowed"


class GatewayBadRequest(PrereviewError):
    """The request body is not a JSON object the OpenAI API would accept."""

    slug = "gateway-bad-request"
    status = 400
    title = "The request is not valid"


class GatewayBodyTooLarge(PrereviewError):
    """The request body is larger than the gateway accepts."""

    slug = "gateway-body-too-large"
    status = 413
    title = "The request body is too large"


class GatewayRateLimited(TooManyRequests):
    """A per-grant limit is spent; ``retry_after`` (seconds) goes into ``Retry-After``."""

    slug = "gateway-rate-limited"
    title = "A limit of this grant is reached"

    def __init__(self, detail: str, *, limit: str, retry_after: float, **extra: Any) -> None:
        # Retry-After is whole seconds; round up so a client that obeys it is admitted.
        whole_seconds = max(1, math.ceil(retry_after))
        super().__init__(detail, limit=limit, retry_after=whole_seconds, **extra)
        self.limit = limit
        self.retry_after = whole_seconds


class UpstreamFailed(PrereviewError):
    """The developer's endpoint failed, refused the gateway, or answered something unreadable."""

    slug = "gateway-upstream-failed"
    status = 502
    title = "The model's endpoint failed"


class UpstreamRateLimited(PrereviewError):
    """The developer's endpoint itself said 429; passed on with its ``Retry-After``."""

    slug = "gateway-upstream-rate-limited"
    status = 429
    title = "The model's endpoint is busy"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class UpstreamTimeout(PrereviewError):
    """The developer's endpoint did not answer in time."""

    slug = "gateway-upstream-timeout"
    status = 504
    title = "The model's endpoint did not answer in time"


_OPENAI_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_member(error: PrereviewError) -> dict[str, Any]:
    """The OpenAI-style ``{"message", "type", "code"}`` object for ``error``.

    The openai client raises ``APIError(message)`` from it, both for plain answers and for an
    error event in the middle of a stream.
    """
    return {
        "message": error.detail,
        "type": _OPENAI_TYPES.get(error.status, "api_error"),
        "code": error.slug,
        "param": None,
    }


def gateway_problem(error: PrereviewError) -> dict[str, Any]:
    """``error`` as a problem document with the OpenAI ``error`` member added."""
    body = error.problem()
    body["error"] = openai_error_member(error)
    return body


# -- the platform's side: registering upstreams, keys and limits ----------------------------


class GatewayNotConfigured(PrereviewError):
    """The key is valid but the developer has not registered its endpoint yet."""

    slug = "gateway-upstream-not-configured"
    status = 503
    title = "The model's endpoint is not registered yet"


class UpstreamNotFound(NotFound):
    """No upstream is registered for the submission."""

    slug = "gateway-upstream-not-found"
    title = "No endpoint is registered for this submission"


class GatewayKeyNotFound(NotFound):
    slug = "gateway-key-not-found"
    title = "No such gateway key"


class TranscriptNotFound(NotFound):
    slug = "gateway-transcript-not-found"
    title = "No such transcript"


class GatewayAccessNotLive(Conflict):
    """A key was asked for, or limits set, on access that is not (or no longer) live."""

    slug = "gateway-access-not-live"
    title = "This access is not live"


class InvalidUpstream(InvalidInput):
    """The upstream registration is not usable (URL, header names or values)."""

    slug = "gateway-upstream-invalid"


class UpstreamAddressRefused(InvalidUpstream):
    """The base URL is (or resolves to) an address the gateway does not connect to."""

    slug = "gateway-upstream-address-refused"
    title = "The gateway does not connect to this address"


class UpstreamForbidden(PrereviewError):
    """At connection time the upstream resolved to an address the gateway refuses."""

    slug = "gateway-upstream-forbidden"
    status = 502
    title = "The model's endpoint is on an address the gateway refuses"


class GatewayTooDeeplyNested(GatewayBadRequest):
    """The request body nests JSON deeper than the gateway reads."""

    slug = "gateway-too-deeply-nested"
    title = "The request body is nested too deeply"


class GatewayAuditBehind(ServiceUnavailable):
    """The audit log cannot take the record of a call now; nothing was forwarded, or the
    answer was held back, because an unaudited answer must not be released."""

    slug = "gateway-audit-unavailable"
    title = "The gateway cannot audit calls right now"

    def __init__(self, detail: str, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class GatewayUnavailable(ServiceUnavailable):
    """Access could not be checked (the database did not answer); nothing was forwarded."""

    slug = "gateway-unavailable"
    title = "The gateway cannot check access right now"
