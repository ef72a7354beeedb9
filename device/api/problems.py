"""Errors as ``application/problem+json`` (RFC 9457), one shape for every failure."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from device.errors import (
    KioskError,
    RateLimitedError,
    SessionStateError,
    StorageFullError,
    StoreError,
)
from device.jobs.language_gate import LanguageUnavailableError
from device.sessions.code_limiter import CodeLockedError

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://kiosk.local/problems/"
MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    # "code" is the stable, machine-readable name of the problem (the last part of "type"):
    # the touchscreen picks its words in the candidate's language by it
    body = {"type": PROBLEM_BASE + code, "code": code, "title": title, "status": status,
            "detail": detail, **extra}
    headers = {}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(int(extra["retry_after_s"]) + 1)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _title(code: str) -> str:
    return code.replace("-", " ").capitalize()


#: Distinct store failures logged at most; later ones are counted, not logged again.
MAX_LOGGED = 100


def install(app: FastAPI, on_error: Any = None) -> None:
    logged: set[str] = set()

    def count(code: str) -> None:
        if on_error is not None:
            on_error(code)

    def log_store_error(exc: StoreError) -> None:
        """A broken disk fails every request alike: log each failure once, not per request."""
        if str(exc) in logged:
            return
        if len(logged) < MAX_LOGGED:
            logged.add(str(exc))
        log.error("the database failed: %s", exc)

    @app.exception_handler(KioskError)
    async def kiosk_error(request: Request, exc: KioskError) -> JSONResponse:
        count(exc.code)
        extra: dict[str, Any] = {}
        if isinstance(exc, SessionStateError):
            extra = {"state": exc.state, "allowed": exc.allowed}
        if isinstance(exc, RateLimitedError):
            extra = {"retry_after_s": round(exc.retry_after_s, 1)}
        if isinstance(exc, CodeLockedError):
            extra["limit"] = exc.limit
        if isinstance(exc, StorageFullError) and exc.usage:
            extra = {"storage": exc.usage}
        if isinstance(exc, LanguageUnavailableError):
            extra = {"languages": exc.available}
        if isinstance(exc, StoreError) and exc.cause:
            extra = {"cause": exc.cause}
        if isinstance(exc, StoreError):
            log_store_error(exc)
        elif exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return problem(exc.status, exc.code, _title(exc.code), str(exc), **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        count("invalid-request")
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ][:20]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(422, "invalid-request", "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
            exc.status_code, "http-error")
        count(code)
        return problem(exc.status_code, code, _title(code), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        count("internal-error")
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal-error", "Internal error",
                       "the kiosk hit an unexpected error; it has been logged")
