"""Request body size limit: a declared or streamed body over the limit gets 413.

Bodies on the local API are small (codes, consent, job packages), so the guard reads
the body up to the limit before the application sees it; an oversized one is refused
without the application ever parsing any of it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from device.api.problems import MEDIA_TYPE, PROBLEM_BASE


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, self._detail())
                    return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # client went away; let the app see the disconnect
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(send, 413, self._detail())
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _detail(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        code = "body-too-large" if status == 413 else "invalid-request"
        body = json.dumps({"type": PROBLEM_BASE + code, "code": code, "title": "Request refused",
                           "status": status, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
