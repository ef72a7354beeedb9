"""An example consumer of central's webhooks, in plain Python (standard library only).

It checks each request's signature, keeps every event once (by ``event_id``) in a SQLite
inbox, answers 2xx only after the event is stored, and hands events over in order of
``sequence``. Run it beside the HR system's import job::

    WEBHOOK_SECRET=whsec_… python3 webhook_consumer.py --port 8085 --inbox inbox.db

then add the endpoint in central (``POST /v1/admin/webhooks`` with
``{"url": "https://hr-bridge.example.com:8085/kiosk"}``). Put it behind HTTPS.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300  # refuse requests signed more than 5 minutes from this clock
MAX_BODY = 1 << 20


def verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """``Kiosk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamp = fields.get("t", [""])[0]
    if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_S:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


class Inbox:
    """Events kept once each, by ``event_id``, in a SQLite file."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS inbox (event_id TEXT PRIMARY KEY,"
                         " sequence INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,"
                         " received REAL NOT NULL)")

    def keep(self, event: dict[str, Any]) -> bool:
        """Store an event; False when it was kept before (a resend)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO inbox VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (event["event_id"], event["sequence"], event["type"], json.dumps(event),
                 time.time()))
            return cur.rowcount == 1

    def events(self) -> list[dict[str, Any]]:
        """Everything kept, in central's order."""
        with self._lock:
            found = self._db.execute("SELECT body FROM inbox ORDER BY sequence").fetchall()
        return [json.loads(body) for (body,) in found]


def handler(secret: str, inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, "too large")
                return
            body = self.rfile.read(length)
            if not verify(secret, self.headers.get("Kiosk-Signature", ""), body, time.time()):
                self._answer(401, "bad signature")
                return
            event = json.loads(body)
            new = inbox.keep(event)
            self._answer(200, "stored" if new else "already stored")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve(port: int, secret: str, inbox_path: str, host: str = "127.0.0.1"
          ) -> ThreadingHTTPServer:
    """A server ready to ``serve_forever()`` (its port: ``server.server_address[1]``)."""
    return ThreadingHTTPServer((host, port), handler(secret, Inbox(inbox_path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--inbox", default="inbox.db")
    args = parser.parse_args()
    serve(args.port, os.environ["WEBHOOK_SECRET"], args.inbox, args.host).serve_forever()


if __name__ == "__main__":
    main()
