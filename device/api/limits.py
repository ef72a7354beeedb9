"""Request body size limit, enforced while the body streams in."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from device.api.problems import MEDIA_TYPE, PROBLEM_BASE


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 for a declared or actual body larger than ``max_bytes``."""

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
                    await self._refuse(send, "Content-Length is not a number", 400)
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, self._detail(), 413)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, self._detail(), 413)

    def _detail(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    async def _refuse(self, send: Send, detail: str, status: int) -> None:
        code = "body-too-large" if status == 413 else "invalid-request"
        body = json.dumps({"type": PROBLEM_BASE + code, "title": "Request refused",
                           "status": status, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
