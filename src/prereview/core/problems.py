"""Turning errors into RFC 9457 ``application/problem+json`` answers, at the edge only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prereview.core.errors import PROBLEM_BASE, PrereviewError

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


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The exception may carry secrets in its message; log the type and where, answer nothing.
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return problem_response(
        {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal error",
            "status": 500,
            "detail": "the server failed to handle this request; it has been logged",
            "instance": request.url.path,
        }
    )


def install(app: FastAPI) -> None:
    """Make every error an ``application/problem+json`` answer."""
    app.add_exception_handler(PrereviewError, _on_prereview_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
