"""Capture as the touchscreen sees it (device status, live preview, framing advice), and
as staff see it (alerts, an authorised viewer for recordings)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from device import audit
from device.api.deps import KioskDep, SessionDep, StaffDep
from device.capture.base import DeviceUnavailable
from device.errors import AuthenticationError, NotFoundError
from device.ops import alerts
from device.sessions.recordings import CONTENT_TYPES
from device.sessions.session_rows import SessionRow
from device.staff.policy import require_role
from device.storage import media
from device.storage.media_crypto import is_sealed
from device.storage.media_reader import SealedReader

router = APIRouter(prefix="/api/v1", tags=["capture"])

DISABLED = {"enabled": False, "ready": True, "recording": False,
            "microphone": {"required": False, "ok": False, "problem": "disabled",
                           "detail": None, "level_dbfs": None},
            "camera": {"required": False, "ok": False, "problem": "disabled", "detail": None}}
BOUNDARY = "frame"


def _running(session: SessionRow) -> None:
    if session.state not in ("consented", "in_progress"):
        raise DeviceUnavailable(f"the camera and microphone are used during the interview;"
                                f" this session is {session.state}")


@router.get("/capture/status", summary="Microphone and camera as the candidate needs them")
def capture_status(session: SessionDep, k: KioskDep) -> dict[str, Any]:
    if k.capture is None or not k.capture.running:
        return DISABLED
    if session.state in ("consented", "in_progress"):
        k.capture.sync()
    return k.capture.status()


@router.get("/capture/framing", summary="Is the candidate well framed? (advice codes)")
def framing(session: SessionDep, k: KioskDep) -> dict[str, Any]:
    _running(session)
    if k.capture is None or not k.capture.running or k.capture.framing is None:
        return {"checked": False, "ok": False, "problems": [], "offset": None}
    return k.capture.framing.check()


@router.get("/capture/preview.mjpg", summary="Live camera preview (MJPEG) for an <img>",
            response_class=StreamingResponse)
async def preview(k: KioskDep, token: Annotated[str, Query(min_length=8, max_length=200)]
                  ) -> StreamingResponse:
    try:
        session = await run_in_threadpool(k.engine.by_token, token)
    except Exception as exc:
        raise AuthenticationError(str(exc)) from None
    _running(session)
    capture = k.capture
    if capture is None or not capture.running:
        raise DeviceUnavailable("this box records no video (capture is off)")
    await run_in_threadpool(capture.sync)
    if capture.camera is None:
        raise DeviceUnavailable(capture.status()["camera"]["detail"] or "no camera")
    period = 1.0 / k.config.capture.preview_fps
    session_id = session.id

    async def frames() -> AsyncIterator[bytes]:
        last = -1
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked > 2.0:  # stop when the session no longer runs
                checked = time.monotonic()
                state = await run_in_threadpool(k.engine.session, session_id)
                if state.state not in ("consented", "in_progress"):
                    return
            found = capture.preview_jpeg()
            if found is not None and found[0] != last:
                last, jpeg = found
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                       f"Content-Length: {len(jpeg)}\r\n\r\n").encode() + jpeg + b"\r\n"
            await asyncio.sleep(period)

    return StreamingResponse(frames(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store"})


# --- staff ---------------------------------------------------------------------------------

@router.get("/staff/alerts", summary="Open device alerts (camera or microphone missing/lost)",
            tags=["staff"])
def list_alerts(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        return {"alerts": [a.to_dict() for a in alerts.open_alerts(db)]}


@router.get("/staff/capture", summary="Capture health: devices, levels, drops", tags=["staff"])
def capture_health(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    if k.capture is None:
        return {"enabled": False}
    return {"enabled": True, **k.capture.health()}


@router.get("/staff/media/{media_id}", summary="Play a recording (decrypted; audited)",
            tags=["staff"], response_class=StreamingResponse)
def view_media(media_id: str, staff: StaffDep, k: KioskDep) -> StreamingResponse:
    require_role(staff, "site_hr", "admin", doing="play a candidate's recording")
    with k.store.read() as db:
        found = media.viewable(db, media_id)
    if found is None or not staff.sees_job(found.job_id):
        raise NotFoundError(f"no recording {media_id} on this box")
    recording = found.media
    now = k.store.now()
    with k.store.transaction() as db:
        audit.append(db, now, staff.actor, "media.view", subject=recording.session_id,
                     details={"media_id": media_id, "kind": recording.kind})
    path = Path(recording.path)
    if not path.is_file():
        raise NotFoundError(f"recording {media_id}: its file is gone from the box")
    key = k.analysis.media_key
    if is_sealed(path):
        if key is None:
            raise DeviceUnavailable("this box has no media key to open the recording")
        reader: Any = SealedReader(path, key)
        size = reader.size
    else:
        reader = path.open("rb")
        size = path.stat().st_size

    def chunks() -> Any:
        with reader:
            while block := reader.read(1 << 16):
                yield block

    return StreamingResponse(chunks(), media_type=CONTENT_TYPES.get(recording.kind,
                                                                    "application/octet-stream"),
                             headers={"Content-Length": str(size), "Cache-Control": "no-store"})
