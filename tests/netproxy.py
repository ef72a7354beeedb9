"""A TCP proxy on loopback that injects network faults between a client and a server.

The proxy runs an asyncio loop in its own thread; tests steer it from theirs:

- :meth:`TcpProxy.pass_through` — a healthy link (also clears delay and throttle);
- :meth:`TcpProxy.blackhole` — a dead link: connections stay open, every byte in either
  direction is silently dropped. A connection that went through a blackhole stays dead
  (its byte stream has a hole), so a client must notice and reconnect;
- :meth:`TcpProxy.reset` — every open connection is closed with a TCP RST (both sides), and
  new connections are reset as soon as they are accepted, until the mode changes;
- :meth:`TcpProxy.delay` — latency added to every chunk, each way;
- :meth:`TcpProxy.throttle` — bandwidth limit in bytes per second, each way, per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar

CHUNK = 65536
T = TypeVar("T")


class Mode(Enum):
    PASS = "pass"
    BLACKHOLE = "blackhole"
    RESET = "reset"


@dataclass(frozen=True)
class ProxyStats:
    connections: int
    """Connections accepted since the proxy started."""
    active: int
    """Connections open now."""
    resets: int
    """Connections closed with an RST by the proxy."""
    bytes_up: int
    """Bytes forwarded client -> target."""
    bytes_down: int
    """Bytes forwarded target -> client."""
    bytes_dropped: int
    """Bytes swallowed by a blackhole, either way."""


class _Link:
    """One proxied connection: the client side, and the target side once connected."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.target: asyncio.StreamWriter | None = None
        self.dead = False
        self.tasks: list[asyncio.Task[None]] = []

    def rst(self) -> None:
        for writer in (self.client, self.target):
            if writer is not None:
                _abort_with_rst(writer)
        for task in self.tasks:
            task.cancel()

    def close(self) -> None:
        for writer in (self.client, self.target):
            if writer is not None:
                writer.close()


class TcpProxy:
    """Listens on ``127.0.0.1:port`` and forwards to ``target_host:target_port``."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self._lock = threading.Lock()
        self._mode = Mode.PASS
        self._delay_s = 0.0
        self._rate: float | None = None
        self._links: set[_Link] = set()
        self._counts = {"connections": 0, "resets": 0, "bytes_up": 0, "bytes_down": 0,
                        "bytes_dropped": 0}
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy",
                                        daemon=True)
        self._thread.start()
        self._server = self._call(self._listen())
        self.port: int = int(self._server.sockets[0].getsockname()[1])
        self.closed = False

    # -- control (any thread) ---------------------------------------------------------

    @property
    def mode(self) -> Mode:
        with self._lock:
            return self._mode

    def pass_through(self) -> None:
        """A healthy link: forward everything, no delay, no throttle."""
        with self._lock:
            self._mode, self._delay_s, self._rate = Mode.PASS, 0.0, None

    def blackhole(self) -> None:
        """A dead link: keep connections open, drop every byte both ways."""
        with self._lock:
            self._mode = Mode.BLACKHOLE
            for link in self._links:
                link.dead = True

    def reset(self) -> None:
        """RST every open connection now, and every new one until the mode changes."""
        with self._lock:
            self._mode = Mode.RESET
        self._call(self._reset_all())

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency to every chunk, each way (0 to remove)."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self._delay_s = seconds

    def throttle(self, bytes_per_s: float | None) -> None:
        """Limit each connection to ``bytes_per_s`` each way (None or 0 to remove)."""
        if bytes_per_s is not None and bytes_per_s < 0:
            raise ValueError("throttle must be >= 0")
        with self._lock:
            self._rate = bytes_per_s or None

    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(active=len(self._links), **self._counts)

    def close(self) -> None:
        """Stop listening, RST every connection and stop the proxy's thread."""
        if self.closed:
            return
        self.closed = True
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- the loop's side --------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def _reset_all(self) -> None:
        with self._lock:
            links = list(self._links)
            self._links.clear()
            self._counts["resets"] += len(links)
        for link in links:
            link.rst()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()
        # Connection handlers end once their pumps are cancelled; cancelling a handler
        # itself makes asyncio's stream machinery log a spurious error.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=2)
            for task in stuck:
                task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        with self._lock:
            self._counts["connections"] += 1
            mode = self._mode
            if mode is Mode.RESET:
                self._counts["resets"] += 1
            else:
                link.dead = mode is Mode.BLACKHOLE
                self._links.add(link)
        if mode is Mode.RESET:
            link.rst()
            return
        target_reader: asyncio.StreamReader | None = None
        if not link.dead:  # a dead link never reaches the target
            try:
                target_reader, link.target = await asyncio.open_connection(
                    self.target_host, self.target_port)
            except OSError:
                self._forget(link)
                link.rst()
                return
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, link.target, "bytes_up")),
            asyncio.create_task(self._pump(link, target_reader, writer, "bytes_down")),
        ]
        _, pending = await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        if link.dead and pending:
            # Over a dead link neither side learns that the other one closed.
            await asyncio.wait(pending)
        if self._forget(link):
            for task in link.tasks:
                task.cancel()
            link.close()

    def _forget(self, link: _Link) -> bool:
        with self._lock:
            if link in self._links:
                self._links.discard(link)
                return True
            return False

    async def _pump(self, link: _Link, reader: asyncio.StreamReader | None,
                    writer: asyncio.StreamWriter | None, counter: str) -> None:
        """Copy one direction; a delay queue keeps latency from costing throughput."""
        if reader is None:  # dead from the start: nothing will ever arrive from the target
            return
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(link, queue, writer, counter))
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    data = b""
                if not data:
                    break
                with self._lock:
                    delay = self._delay_s
                queue.put_nowait((time.monotonic() + delay, data))
            queue.put_nowait((0.0, b""))
            await sender
        finally:
            sender.cancel()

    async def _send(self, link: _Link, queue: asyncio.Queue[tuple[float, bytes]],
                    writer: asyncio.StreamWriter | None, counter: str) -> None:
        next_at = time.monotonic()
        while True:
            due, data = await queue.get()
            if not data:
                if writer is not None and not link.dead and writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            view = memoryview(data)
            while view:
                with self._lock:
                    dead, rate = link.dead, self._rate
                if dead or writer is None:
                    with self._lock:
                        self._counts["bytes_dropped"] += len(view)
                    break
                piece = view if rate is None else view[:max(1, int(rate / 20))]
                if rate is not None:
                    now = time.monotonic()
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    next_at = max(now, next_at) + len(piece) / rate
                with self._lock:
                    self._counts[counter] += len(piece)
                try:
                    writer.write(bytes(piece))
                    await writer.drain()
                except OSError:
                    link.close()
                    return
                view = view[len(piece):]


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
