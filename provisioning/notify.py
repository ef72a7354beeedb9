"""systemd's notification protocol (``sd_notify``), without a library.

``READY=1`` once the API listens, ``WATCHDOG=1`` every half ``WATCHDOG_USEC`` while the store
answers (a hung store stops the pings, and systemd restarts the unit), ``STOPPING=1`` when
the server shuts down. Without ``$NOTIFY_SOCKET`` (not under systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to systemd; False when there is nowhere to send it."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("cannot notify systemd (%s): %s", env.get("NOTIFY_SOCKET"), exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None when off."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


class Watchdog:
    """Pings systemd's watchdog from a thread, each time only after ``healthy()`` answers
    True; a check that hangs or fails means no ping."""

    def __init__(self, healthy: Callable[[], bool], interval_s: float) -> None:
        self.healthy = healthy
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                ok = self.healthy()
            except Exception as exc:  # the check's failure is the answer: no ping
                log.warning("watchdog check failed, systemd is not pinged: %s", exc)
                continue
            if ok:
                notify("WATCHDOG=1")


def store_answers(store: Any) -> Callable[[], bool]:
    """A check that the store answers a query (it blocks while the store is hung)."""
    def check() -> bool:
        return store.one("SELECT 1 AS ok") is not None

    return check


def run_server(app: Any, store: Any, **options: Any) -> None:
    """Run ``app`` with uvicorn (``options`` as for ``uvicorn.Config``), telling systemd
    when it listens, pinging the watchdog while ``store`` answers, and when it stops."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **options))
    done = threading.Event()

    def follow() -> None:
        while not server.started:
            if done.wait(0.05):
                return
        notify("READY=1")
        interval = watchdog_interval()
        dog = Watchdog(store_answers(store), interval).start() if interval else None
        while not (server.should_exit or done.wait(0.1)):
            pass
        if dog is not None:
            dog.stop()
        notify("STOPPING=1")

    watcher = threading.Thread(target=follow, name="sd-notify", daemon=True)
    watcher.start()
    try:
        server.run()
    finally:
        done.set()
        watcher.join(timeout=2)
