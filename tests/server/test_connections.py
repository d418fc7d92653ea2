"""The live server closes connections that never finish their headers, and refuses huge heads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from prereview.core.settings import Settings
from prereview.server.connections import server_config

GUARD_S = 10.0  # only a guard against hanging: the server closes after 0.3 s


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    settings = Settings(
        database_url="sqlite://", http_header_timeout_s=0.3, http_max_header_bytes=1024
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections wait in the backlog until the server accepts them
    host, port = listener.getsockname()
    running = uvicorn.Server(server_config(_app(), settings, host=host, port=port))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield host, port
    finally:
        running.should_exit = True
        thread.join(GUARD_S)
        listener.close()


def _connect(address: tuple[str, int]) -> socket.socket:
    connection = socket.create_connection(address, timeout=GUARD_S)
    connection.settimeout(GUARD_S)
    return connection


def _read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while piece := connection.recv(4096):  # socket.timeout here: the server held it open
        received += piece
    return received


def test_unfinished_headers_are_closed_after_the_timeout(server: tuple[str, int]) -> None:
    with _connect(server) as connection:
        connection.sendall(b"GET /ping HTTP/1.1\r\nHost: prereview\r\nX-Slow: 1")
        assert _read_until_closed(connection) == b""


def test_a_silent_connection_is_closed_after_the_timeout(server: tuple[str, int]) -> None:
    with _connect(server) as connection:
        assert _read_until_closed(connection) == b""


def test_a_complete_request_is_served_then_the_next_head_is_timed_too(
    server: tuple[str, int],
) -> None:
    with _connect(server) as connection:
        connection.sendall(b"GET /ping HTTP/1.1\r\nHost: prereview\r\n\r\n")
        first = connection.recv(4096)
        assert first.startswith(b"HTTP/1.1 200") and b"pong" in first
        connection.sendall(b"GET /ping HTTP/1.1\r\nHost: pre")  # a second head, never finished
        assert _read_until_closed(connection) == b""


def test_a_head_over_the_size_limit_is_refused(server: tuple[str, int]) -> None:
    with _connect(server) as connection:
        connection.sendall(b"GET /ping HTTP/1.1\r\nHost: prereview\r\nX-Big: " + b"a" * 8192)
        answer = _read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 4")
