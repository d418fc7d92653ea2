"""The project's error base.

Every error a person may see derives from :class:`PrereviewError`. Each subclass names a stable
problem ``type`` (RFC 9457) and an HTTP status; the API turns them into ``application/problem+json``
answers at the edge, and the CLI prints their ``detail``. Capabilities define their own errors in
their own ``errors.py`` on top of the generic ones here.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "urn:prereview:problem:"


class PrereviewError(Exception):
    """Base of every error that explains itself to a person.

    ``slug`` becomes the problem type ``urn:prereview:problem:<slug>``; ``status`` is the HTTP
    status; ``detail`` is the human message. ``extra`` holds further problem members (for
    example the list of validation errors); ``headers`` go on the HTTP answer (``Retry-After``).
    Never put a secret in any of them.
    """

    slug: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """This error as an RFC 9457 problem document."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        body.update(self.extra)
        return body


class InvalidInput(PrereviewError):
    slug = "invalid-input"
    status = 422
    title = "The request is not valid"


class Unauthenticated(PrereviewError):
    slug = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(PrereviewError):
    slug = "forbidden"
    status = 403
    title = "Not allowed"


class NotFound(PrereviewError):
    slug = "not-found"
    status = 404
    title = "Not found"


class Conflict(PrereviewError):
    slug = "conflict"
    status = 409
    title = "Conflicts with the current state"


class TooManyRequests(PrereviewError):
    slug = "rate-limited"
    status = 429
    title = "Too many requests"


class ServiceUnavailable(PrereviewError):
    slug = "unavailable"
    status = 503
    title = "Service unavailable"


class PayloadTooLarge(PrereviewError):
    """A body over the server's limit, refused as soon as the limit is passed."""

    slug = "payload-too-large"
    status = 413
    title = "The request body is too large"


class InvalidEncoding(InvalidInput):
    """Bytes that should be UTF-8 text and are not (or text with lone surrogates)."""

    slug = "invalid-encoding"
    title = "The text is not valid UTF-8"


class MalformedJson(InvalidInput):
    """A body or document that is not JSON."""

    slug = "malformed-json"
    title = "The JSON cannot be parsed"


class TooDeeplyNested(InvalidInput):
    """JSON, YAML or TOML nested deeper than the server accepts."""

    slug = "too-deeply-nested"
    title = "The document is nested too deeply"


class RefusedYamlFeature(InvalidInput):
    """YAML anchors and aliases (and so alias bombs) are refused in untrusted input."""

    slug = "yaml-alias-refused"
    title = "YAML anchors and aliases are not accepted"


class NulInText(InvalidInput):
    """A text value holds U+0000, which PostgreSQL cannot store in a text column."""

    slug = "nul-in-text"
    title = "Text may not hold a NUL character"
