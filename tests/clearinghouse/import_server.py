"""The platform in a process of its own, for the test that kills a bulk import with SIGKILL.

Settings come from the ``PREREVIEW_*`` environment, the clock is fixed at ``CH_TEST_NOW``,
intake stores ``CH_TEST_CHUNK`` reports per transaction (so that a kill falls between chunks),
and the port, once the server serves, is printed on stdout.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime

import uvicorn

from prereview.api import create_app
from prereview.clearinghouse.intake import store
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.settings import load_settings


async def _serve() -> None:
    store._STORE_CHUNK = int(os.environ["CH_TEST_CHUNK"])
    context = AppContext.create(
        load_settings(), FixedClock(datetime.fromisoformat(os.environ["CH_TEST_NOW"]))
    )
    app = create_app(context=context)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    print(sock.getsockname()[1], flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(_serve())
