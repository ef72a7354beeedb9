"""The HTTPS link to central (httpx): messages, resumable media upload, document polling.

Used where MQTT is blocked, and always for media (large files never travel over MQTT)
and for polling documents. Every message is a ``POST`` whose ``Idempotency-Key`` is its
message id, so a repeat after a lost response is harmless.
"""

from __future__ import annotations

import hashlib
import json
import queue
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from device.central_link.outbox import Identity, Outgoing
from shared.contract import Ack
from sync_agent.errors import LinkError, TlsHandshakeError
from sync_agent.events import AckReceived, Event


class HttpsLink:
    name = "https"

    def __init__(self, identity: Identity, base_url: str, tls: ssl.SSLContext, *,
                 events: queue.Queue[Event], timeout_s: float = 30.0) -> None:
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.events = events
        self.epoch = 0
        self._client = httpx.Client(base_url=self.base_url, verify=tls, timeout=timeout_s,
                                    headers={"User-Agent": f"kiosk-sync/{identity.device_id}"})
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        """Check that central answers (any HTTP status counts: the server is there)."""
        self.epoch += 1
        self._request("GET", f"/v1/devices/{self.identity.device_id}/documents",
                      params={"after": "0", "limit": "1"})
        self._connected = True

    def close(self) -> None:
        self._connected = False

    def shutdown(self) -> None:
        self.close()
        self._client.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except httpx.ConnectError as exc:
            self._connected = False
            tls = _ssl_error(exc)
            if tls is not None:
                raise TlsHandshakeError(f"TLS handshake with {self.base_url} failed:"
                                        f" {_reason(exc)}",
                                        getattr(tls, "verify_code", None)) from None
            raise LinkError(f"cannot reach {self.base_url}: {_reason(exc)}") from None
        except httpx.TimeoutException:
            self._connected = False
            raise LinkError(f"{self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            self._connected = False
            raise LinkError(f"{self.base_url}: {_reason(exc)}") from None

    # -- messages -----------------------------------------------------------------------

    def publish(self, out: Outgoing) -> int:
        """POST one message; central's ack arrives as an event. Returns 0 (no packet id)."""
        response = self._request(
            "POST", "/v1/messages", content=out.payload,
            headers={"Idempotency-Key": out.message_id, "Content-Type": "application/json"})
        if response.status_code in (200, 422):
            try:
                ack = Ack.model_validate_json(response.content)
            except ValidationError:
                raise LinkError(f"central answered {response.status_code} with something that"
                                " is not an ack") from None
            self.events.put(AckReceived(ack))
            return 0
        raise LinkError(f"central refused {out.message_id}: HTTP {response.status_code}"
                        f" {_detail(response)}")

    # -- documents ----------------------------------------------------------------------

    def fetch_documents(self, after: int) -> tuple[list[bytes], int]:
        """Documents for this box published after ``after``; returns them and the new cursor."""
        response = self._request("GET", f"/v1/devices/{self.identity.device_id}/documents",
                                 params={"after": str(after), "tenant": self.identity.tenant,
                                         "site": self.identity.site})
        if response.status_code != 200:
            raise LinkError(f"document poll failed: HTTP {response.status_code}"
                            f" {_detail(response)}")
        try:
            data = response.json()
            documents = [json.dumps(d, ensure_ascii=False).encode() for d in data["documents"]]
            return documents, int(data["cursor"])
        except (ValueError, KeyError, TypeError):
            raise LinkError("document poll: central's answer is not a document list") from None

    # -- media --------------------------------------------------------------------------

    def upload(self, media_id: str, path: Path, meta: dict[str, Any], chunk_bytes: int,
               before_chunk: Callable[[int], None] = lambda n: None) -> int:
        """Upload a file in chunks, resuming where central's copy ends; returns bytes sent.

        Each chunk carries its SHA-256, and central checks the whole file's at the end.
        """
        size, digest = meta["bytes"], meta["sha256"]
        state = self._media_call("PUT", media_id, json={
            "session_id": meta["session_id"], "bytes": size, "sha256": digest,
            "content_type": meta.get("content_type", "application/octet-stream")})
        offset, sent, restarts = int(state["offset"]), 0, 0
        with path.open("rb") as f:
            while not state.get("complete"):
                f.seek(offset)
                chunk = f.read(chunk_bytes)
                if not chunk:
                    raise LinkError(f"{path}: the file is shorter than central expects"
                                    f" ({offset} of {size} bytes)")
                before_chunk(len(chunk))
                response = self._request(
                    "PATCH", f"/v1/media/{media_id}", content=chunk,
                    headers={"Upload-Offset": str(offset),
                             "Chunk-Sha256": hashlib.sha256(chunk).hexdigest(),
                             "Content-Type": "application/offset+octet-stream"})
                sent += len(chunk)
                if response.status_code == 409:  # central has a different offset: use it
                    offset = int(response.json().get("offset", 0))
                    continue
                if response.status_code == 422:
                    restarts += 1
                    if restarts > 3:
                        raise LinkError(f"media {media_id}: central rejects the upload:"
                                        f" {_detail(response)}")
                    state = self._media_call("GET", media_id)
                    offset = int(state["offset"])
                    continue
                if response.status_code != 200:
                    raise LinkError(f"media {media_id}: HTTP {response.status_code}"
                                    f" {_detail(response)}")
                state = response.json()
                offset = int(state["offset"])
        return sent

    def _media_call(self, method: str, media_id: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, f"/v1/media/{media_id}", **kwargs)
        if response.status_code != 200:
            raise LinkError(f"media {media_id}: HTTP {response.status_code} {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except ValueError:
        return response.text[:300]


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("[SSL: CERTIFICATE_VERIFY_FAILED] ", "TLS: ")[:300]


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure behind a connection error (httpx wraps it twice), if there is one."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
