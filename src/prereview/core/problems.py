"""Turning errors into RFC 9457 ``application/problem+json`` answers, at the edge only."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from prereview.core.db import WriteLockTimeout
from prereview.core.errors import PROBLEM_BASE, PrereviewError
from prereview.core.ids import new_id
from prereview.core.parsing import LimitParsedBodies

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("prereview.api")

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "rate-limited",
}


class Problem(BaseModel):
    """An RFC 9457 problem document, as every 4xx (and the rare 5xx) answer carries it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable, `urn:prereview:problem:<slug>`")
    title: str
    status: int
    detail: str
    instance: str | None = None


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}

# Declared on the API's routers, so on every operation of the OpenAPI document: any 4xx answer
# (401, 403, 404, 409, 413, 415, 422, 429...) is a problem+json document with a stable `type`.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "The request was refused: a problem document",
        "content": _PROBLEM_CONTENT,
    }
}
UNAVAILABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "A dependency does not answer", "content": _PROBLEM_CONTENT}
}


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body, status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Every problem in the request, by location; input values are left out (may be secret)."""
    listed = []
    for error in exc.errors():
        listed.append(
            {
                "location": [str(part) for part in error.get("loc", ())],
                "message": str(error.get("msg", "")),
                "code": str(error.get("type", "")),
            }
        )
    return listed


async def _on_prereview_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PrereviewError)
    return problem_response(exc.problem(instance=request.url.path), exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    first = errors[0] if errors else {"location": [], "message": "invalid request"}
    where = ".".join(str(part) for part in first["location"])
    detail = f"{where}: {first['message']}" if where else str(first["message"])
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return problem_response(
        {
            "type": PROBLEM_BASE + "invalid-input",
            "title": "The request is not valid",
            "status": 422,
            "detail": detail,
            "instance": request.url.path,
            "errors": errors,
        }
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
    return problem_response(
        {
            "type": PROBLEM_BASE + slug,
            "title": slug.replace("-", " ").capitalize(),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        },
        dict(exc.headers) if exc.headers else None,
    )


def error_summary(exc: BaseException) -> str:
    """An exception for the log: its class, its cause chain's classes, and where it was raised
    (file, line, function of each frame). Never its message, arguments, SQL parameters or local
    variables: those carry what users sent (a finding's text, a TLP:RED description, an
    upstream's host)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        frames = traceback.extract_tb(current.__traceback__)
        where = " < ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames[-8:]))
        parts.append(f"{kind.__module__}.{kind.__qualname__}" + (f" at {where}" if where else ""))
        current = current.__cause__ or current.__context__
    return "; caused by ".join(parts)


def _database_busy(exc: BaseException) -> bool:
    """SQLite's write lock stayed taken past the busy timeout: the request may simply be retried."""
    if isinstance(exc, WriteLockTimeout):
        return True
    orig = getattr(exc, "orig", None)
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _database_busy(exc):
        log.warning("database busy on %s %s: answered 503", request.method, request.url.path)
        return problem_response(
            {
                "type": PROBLEM_BASE + "database-busy",
                "title": "The database is busy",
                "status": 503,
                "detail": "another change held the database longer than the wait allows; nothing "
                "was changed by this request: retry it",
                "instance": request.url.path,
            },
            {"Retry-After": "1"},
        )
    # The exception's message may carry secrets (SQL parameters, bodies): the log gets its class,
    # its frames and a correlation id that the answer carries too, so an operator can find it.
    correlation_id = new_id("err")
    log.error(
        "unhandled error %s on %s %s: %s",
        correlation_id,
        request.method,
        request.url.path,
        error_summary(exc),
    )
    return problem_response(
        {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal error",
            "status": 500,
            "detail": "the server failed to handle this request; it has been logged under "
            f"correlation id {correlation_id}",
            "instance": request.url.path,
            "correlation_id": correlation_id,
        },
        {"X-Correlation-Id": correlation_id},
    )


class _ContainErrors:
    """Outermost ASGI wrapper: Starlette answers an unexpected error with the handler above and
    then re-raises it "so that servers can log it", and uvicorn would log it with its full
    traceback and message. It was logged already, safely; here it stops."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with contextlib.suppress(Exception):  # answered and logged by _on_unexpected
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Make every error an ``application/problem+json`` answer."""
    app.add_exception_handler(PrereviewError, _on_prereview_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    # JSON and form bodies are read whole by the framework: cap them while they arrive.
    app.add_middleware(LimitParsedBodies)
    build_stack = app.build_middleware_stack

    def contained_stack() -> ASGIApp:
        return _ContainErrors(build_stack())

    app.build_middleware_stack = contained_stack  # type: ignore[method-assign]
