"""Serve the candidate touchscreen: ``/`` is the page, ``/ui/<file>`` its static files.

Every response carries a strict Content-Security-Policy: scripts, styles and connections
only from this box, images also from ``data:`` (the resume QR code), no inline code, no
framing. Files are revalidated on each load (``no-cache`` with ETag), so a software update
reaches the touchscreen at its next reload.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.responses import FileResponse

from device.errors import NotFoundError
from device.ui import STATIC_DIR

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
    "woff2": "font/woff2",
}

#: A plain file name in the static directory: no directories, no dot files.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.(" + "|".join(MEDIA_TYPES) + r")$")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_file(name: str) -> FileResponse:
    """The response for one static file, or NotFoundError for anything else."""
    match = _NAME.match(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        raise NotFoundError(f"no file {name!r} among the touchscreen's files")
    return FileResponse(path, media_type=MEDIA_TYPES[match.group(1)], headers=HEADERS)


def install(app: FastAPI) -> None:
    """Add the touchscreen's routes to the app (kept out of the OpenAPI document)."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return static_file("index.html")

    @app.get("/ui/{name}", include_in_schema=False)
    def ui_file(name: str) -> FileResponse:
        return static_file(name)
