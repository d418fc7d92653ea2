"""The witness's HTTP interface (C2SP tlog-witness): ``POST /add-checkpoint`` and, for
monitors, ``GET /<sha256 hex of origin>/checkpoint``.

Refusals are ``application/problem+json`` with the status the specification names, except the
409, whose body the specification fixes: the latest size and a newline, ``text/x.tlog.size``.
The body is counted while it is read and refused (413) as soon as it passes the limit.
"""

from __future__ import annotations

import hashlib
import re

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from prereview.witness.errors import BodyTooLarge, OldSizeConflict, WitnessError
from prereview.witness.protocol import COSIGNATURE_CONTENT_TYPE, SIZE_CONTENT_TYPE
from prereview.witness.service import Witness

MAX_BODY_BYTES = 64 * 1024
"""An old line, 63 proof lines and a checkpoint with its signatures fit many times over."""
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


def _problem(error: WitnessError) -> Response:
    if isinstance(error, OldSizeConflict):
        return Response(f"{error.latest}\n", status_code=409, media_type=SIZE_CONTENT_TYPE)
    return JSONResponse(
        error.problem(), status_code=error.status, media_type="application/problem+json"
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The body is {declared} bytes; this witness takes at most {limit}.")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(f"The body passed {limit} bytes, this witness's limit.")
        chunks.append(chunk)
    return b"".join(chunks)


def create_witness_app(witness: Witness, *, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The ASGI app of one witness."""
    app = FastAPI(
        title="prereview witness",
        summary="A C2SP tlog-witness: cosigns checkpoints consistent with those it saw.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.witness = witness
    by_hash = {hashlib.sha256(origin.encode()).hexdigest(): origin for origin in witness.logs}

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_limited(request, max_body)
            # SQLite and Ed25519 block: off the event loop, so other origins go on meanwhile.
            cosigned = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessError as exc:
            return _problem(exc)
        return Response("".join(cosigned.lines), media_type=COSIGNATURE_CONTENT_TYPE)

    @app.get("/{origin_hash}/checkpoint")
    async def checkpoint(origin_hash: str) -> Response:
        origin = by_hash.get(origin_hash) if _ORIGIN_HASH.fullmatch(origin_hash) else None
        latest = await run_in_threadpool(witness.state.latest, origin) if origin else None
        if latest is None:
            return JSONResponse(
                {
                    "type": "urn:prereview:problem:not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "This witness has cosigned no checkpoint of that log.",
                },
                status_code=404,
                media_type="application/problem+json",
            )
        return Response(latest.note, media_type="text/plain; charset=utf-8")

    return app
