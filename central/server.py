"""Serving the receiver's app with uvicorn: plain HTTP, TLS, or mutual TLS."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from central.identity import PeerCertificateH11


@dataclass(frozen=True)
class TlsSettings:
    """Server certificate and key; with ``client_ca``, clients must present a certificate
    signed by it (mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}
        if self.client_ca is not None:
            options.update(ssl_ca_certs=str(self.client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
        return options


def uvicorn_config(app: FastAPI, host: str, port: int, tls: TlsSettings | None = None,
                   **extra: Any) -> uvicorn.Config:
    """Uvicorn's settings; its HTTP/1.1 protocol hands the client certificate to the app."""
    options = tls.uvicorn_options() if tls is not None else {}
    return uvicorn.Config(app, host=host, port=port, http=PeerCertificateH11, **options,
                          **extra)


class ServerThread:
    """An app served by uvicorn in a background thread (the receiver in tests, the demo)::

        with ServerThread(receiver.app, port=port) as server:
            httpx.get(server.url + "/healthz")
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0,
                 tls: TlsSettings | None = None, start_timeout_s: float = 15.0,
                 name: str = "the receiver's HTTP server") -> None:
        self.host = host
        self.name = name
        self.start_timeout_s = start_timeout_s
        self.server = uvicorn.Server(uvicorn_config(app, host, port, tls, log_level="warning"))
        self.scheme = "https" if tls is not None else "http"
        self.port = port
        self._thread = threading.Thread(target=self.server.run, name="http-server",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        if self.port == 0:
            self.port = int(self.server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
