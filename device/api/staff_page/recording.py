"""Playing an answer's recording from the staff page, decrypted as it is read and never
written out in clear, with byte ranges so the player can seek to a moment.

Access is checked like the report: site HR of the session's job or an admin; any other
recording is "not found". Each login's first request for a recording is audited
(``media.view``, with the recording and its kind), so seeking within it does not add
entries.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from device import audit
from device.api.deps import KioskDep
from device.api.staff_page.access import PageRefused, ViewerDep, logins
from device.api.staff_page.byte_range import RangeNotSatisfiable, requested
from device.api.staff_page.layout import COMMON, PREFIX
from device.capture.base import DeviceUnavailable
from device.sessions.recordings import CONTENT_TYPES
from device.storage import media
from device.storage.media_crypto import is_sealed
from device.storage.media_reader import SealedReader

router = APIRouter(prefix=PREFIX, include_in_schema=False)
BLOCK = 1 << 16
Readable = io.RawIOBase | io.BufferedReader
HEADERS = {**COMMON, "Accept-Ranges": "bytes",
           "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox"}


def _open(path: Path, request: Request) -> tuple[Readable, int]:
    if not is_sealed(path):
        return path.open("rb"), path.stat().st_size
    key = request.app.state.kiosk.analysis.media_key
    if key is None:
        raise DeviceUnavailable("this box has no media key to open the recording")
    reader = SealedReader(path, key)
    return reader, reader.size


def _chunks(reader: Readable, first: int, length: int) -> Iterator[bytes]:
    with reader:
        reader.seek(first)
        left = length
        while left > 0:
            block = reader.read(min(BLOCK, left))
            if not block:
                return
            left -= len(block)
            yield block


@router.get("/recordings/{media_id}")
def recording(media_id: str, request: Request, viewer: ViewerDep, k: KioskDep) -> Response:
    with k.store.read() as db:
        found = media.viewable(db, media_id)
    if found is None or not viewer.staff.sees_job(found.job_id):
        raise PageRefused(404, "not_found.title", "not_found.body")
    recorded = found.media
    path = Path(recorded.path)
    if not path.is_file():
        raise PageRefused(404, "not_found.title", "not_found.body")
    seen = logins(request)
    if seen.first_sight(viewer.login, media_id):
        try:
            now = k.store.now()
            with k.store.transaction() as db:
                audit.append(db, now, viewer.staff.actor, "media.view",
                             subject=recorded.session_id,
                             details={"media_id": media_id, "kind": recorded.kind,
                                      "via": "staff_page"})
        except BaseException:
            seen.forget_sight(viewer.login, media_id)
            raise
    reader, size = _open(path, request)
    kind = CONTENT_TYPES.get(recorded.kind, "application/octet-stream")
    try:
        wanted = requested(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        reader.close()
        return Response(status_code=416, headers={**HEADERS, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        return StreamingResponse(_chunks(reader, 0, size), media_type=kind,
                                 headers={**HEADERS, "Content-Length": str(size)})
    first, last = wanted
    length = last - first + 1
    return StreamingResponse(
        _chunks(reader, first, length), status_code=206, media_type=kind,
        headers={**HEADERS, "Content-Length": str(length),
                 "Content-Range": f"bytes {first}-{last}/{size}"})
