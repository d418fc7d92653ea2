"""Request bodies read as they arrive, by code that runs in a worker thread.

Uploads are encrypted by synchronous code (the vault) that must not run on the event loop;
this bridges the ASGI body stream to a plain iterator consumed in a thread.
"""

from __future__ import annotations

from collections.abc import Iterator

from anyio import from_thread
from fastapi import Request


def body_pieces(request: Request) -> Iterator[bytes]:
    """An iterator over the request body, to be consumed in a worker thread
    (``anyio.to_thread.run_sync``): each step fetches the next piece from the event loop."""
    body = request.stream().__aiter__()

    async def next_piece() -> bytes | None:
        try:
            return await body.__anext__()
        except StopAsyncIteration:
            return None

    def pieces() -> Iterator[bytes]:
        while (piece := from_thread.run(next_piece)) is not None:
            if piece:
                yield piece

    return pieces()
