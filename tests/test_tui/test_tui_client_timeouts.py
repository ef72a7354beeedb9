"""The TUI's client waits as long as each call may take: a slow box is reported as slow, and
the model self-test (every model loaded and run once) is given the time it needs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tui.client import ApiClient, Unreachable

DELAY_S = 1.0


@pytest.fixture
def slow_box() -> Iterator[str]:
    """A box that answers every request with ``{}`` after DELAY_S seconds."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            time.sleep(DELAY_S)
            with contextlib.suppress(OSError):  # the client may have given up first
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_a_box_slower_than_the_timeout_is_reported_as_not_answering(slow_box: str) -> None:
    client = ApiClient(slow_box, "token", timeout_s=DELAY_S / 4)

    async def call() -> None:
        try:
            await client.microphone()
        finally:
            await client.aclose()

    with pytest.raises(Unreachable, match=r"did not answer within 0\.25 s"):
        asyncio.run(call())


def test_the_model_self_test_is_given_longer_than_other_calls(slow_box: str) -> None:
    client = ApiClient(slow_box, "token", timeout_s=DELAY_S / 4)

    async def call() -> dict[str, object]:
        try:
            return await client.check_models()
        finally:
            await client.aclose()

    assert asyncio.run(call()) == {}
