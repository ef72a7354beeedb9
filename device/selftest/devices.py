"""Microphone and camera self-tests: is the device there, and what does it deliver?

When the capture service has the device open (a candidate is at the box), the test reads
the service's own level or picture and never touches the device. Otherwise it opens the
configured device briefly through the same classes the service uses, measures, and lets it
go; it never opens a device while a candidate's interview may need it. Nothing is kept:
the few hundred milliseconds of audio go to a temporary file that is removed at once.
"""

from __future__ import annotations

import base64
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from device.capture.base import Camera, DeviceUnavailable, LowresFrame
from device.capture.preview import resize
from device.composition import Kiosk
from device.config import CaptureConfig
from device.sessions import session_rows
from inference.errors import ModelError
from inference.vision.framing import ADVICE, framing_check

log = logging.getLogger(__name__)

#: Audio measured after the first block arrives.
LISTEN_S = 0.5
#: How long to wait for a freshly opened microphone's first block.
FIRST_BLOCK_S = 5.0
#: Floor of the reported levels (digital silence), as the capture service reports it.
FLOOR_DBFS = -120.0
PREVIEW_WIDTH = 320
JPEG_QUALITY = 80
#: How long a self-test waits for another one of the same device to finish.
BUSY_WAIT_S = 10.0

_mic_lock = threading.Lock()
_camera_lock = threading.Lock()

Microphones = Callable[[CaptureConfig], Any]
Cameras = Callable[[CaptureConfig], "Camera | None"]


def _interview_running(k: Kiosk) -> bool:
    """A candidate has consented or is answering: the devices belong to the interview."""
    with k.store.read() as db:
        return session_rows.count_in_states(db, ("consented", "in_progress")) > 0


# --- microphone -------------------------------------------------------------------------------

def microphone(k: Kiosk, make: Microphones | None = None) -> dict[str, Any]:
    """``GET /selftest/microphone``: the level the microphone hears now."""
    c = k.config.capture
    service = k.capture
    if service is not None and service.mic is not None:
        stats = service.mic.stats()
        ok = stats.open and stats.level_dbfs is not None
        return _mic(ok, stats.device, stats.level_dbfs, None,
                    None if ok else (stats.lost or "the interview's microphone delivers no"
                                     " sound yet"))
    if service is not None and service.running and _interview_running(k):
        return _mic(False, c.microphone, None, None,
                    "a candidate's interview is using the microphone: the self-test does"
                    " not open it now; its level shows here while the interview runs")
    if not _mic_lock.acquire(timeout=BUSY_WAIT_S):
        return _mic(False, c.microphone, None, None, "another microphone self-test is still"
                                                      " running; try again in a moment")
    try:
        return _listen(c, make)
    finally:
        _mic_lock.release()


def _mic(ok: bool, device: str | None, level: float | None, peak: float | None,
         detail: str | None) -> dict[str, Any]:
    return {"ok": ok, "device": device, "level_dbfs": _round(level),
            "peak_dbfs": _round(peak), "detail": detail}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _listen(c: CaptureConfig, make: Microphones | None) -> dict[str, Any]:
    if make is None:
        from device.capture.audio import Microphone

        make = Microphone
    mic = make(c)
    blocks: list[bytes] = []
    try:
        try:
            mic.open()
        except DeviceUnavailable as exc:
            return _mic(False, None if c.microphone.strip().lower() == "none" else c.microphone,
                        None, None, str(exc))
        name = mic.stats().device or c.microphone
        deadline = time.monotonic() + FIRST_BLOCK_S
        while mic.stats().blocks == 0:
            if mic.stats().lost or time.monotonic() > deadline:
                why = mic.stats().lost or f"nothing arrived in {FIRST_BLOCK_S:g} s"
                return _mic(False, name, None, None, f"the microphone '{name}' opened but"
                            f" delivers no sound ({why}); check it is not muted or in use")
            time.sleep(0.02)
        with tempfile.TemporaryDirectory(prefix="kiosk-mictest-") as tmp:
            mic.start_recording(Path(tmp) / "listen.wav", on_block=blocks.append)
            time.sleep(LISTEN_S)
            mic.stop_recording()
        lost = mic.stats().lost
    except (DeviceUnavailable, OSError, RuntimeError) as exc:
        return _mic(False, c.microphone, None, None,
                    f"the microphone '{c.microphone}' failed during the test: {exc}")
    finally:
        mic.close()
    if lost or not blocks:
        return _mic(False, name, None, None, lost or f"the microphone '{name}' delivered no"
                                                      f" sound in {LISTEN_S:g} s")
    level, peak = levels(b"".join(blocks))
    return _mic(True, name, level, peak, None)


def levels(data: bytes) -> tuple[float, float]:
    """(RMS, peak) of int16 samples in dBFS, floored at silence."""
    x = np.frombuffer(data, dtype=np.int16).astype(np.float64)
    if x.size == 0:
        return FLOOR_DBFS, FLOOR_DBFS
    rms = math.sqrt(float(np.mean(np.square(x))))
    peak = float(np.max(np.abs(x)))
    return _dbfs(rms), _dbfs(peak)


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20 * math.log10(amplitude / 32768.0))


# --- camera -----------------------------------------------------------------------------------

def camera(k: Kiosk, make: Cameras | None = None) -> dict[str, Any]:
    """``GET /selftest/camera``: one picture (small JPEG) and the framing verdict on it."""
    c = k.config.capture
    service = k.capture
    if service is not None and service.camera is not None:
        cam = service.camera
        frame = cam.latest()
        name = f"{cam.backend}: {cam.source}"
        if frame is None:
            return _cam(False, name, None, "the interview's camera has no picture yet")
        return _picture(k, name, frame)
    if service is not None and service.running and _interview_running(k):
        return _cam(False, c.camera, None, "a candidate's interview is using the camera: the"
                    " self-test does not open it now; the preview shows it while the"
                    " interview runs")
    if not _camera_lock.acquire(timeout=BUSY_WAIT_S):
        return _cam(False, c.camera, None, "another camera self-test is still running; try"
                                           " again in a moment")
    try:
        return _snapshot(k, make)
    finally:
        _camera_lock.release()


def _cam(ok: bool, device: str | None, frame: LowresFrame | None, detail: str | None,
         jpeg: str | None = None, framing: dict[str, str] | None = None) -> dict[str, Any]:
    h, w = frame.image.shape[:2] if frame is not None else (0, 0)
    return {"ok": ok, "device": device, "width": int(w), "height": int(h),
            "jpeg_base64": jpeg, "framing": framing, "detail": detail}


def _snapshot(k: Kiosk, make: Cameras | None) -> dict[str, Any]:
    c = k.config.capture
    if make is None:
        from device.capture.camera import open_camera

        make = open_camera
    try:
        cam = make(c)
    except DeviceUnavailable as exc:
        return _cam(False, c.camera, None, str(exc))
    if cam is None:
        why = ("no camera is configured ([capture] camera = none)" if c.camera == "none" else
               "no camera found (no Pi camera and no /dev/video* that opens); `kiosk devices`"
               " lists what the box sees")
        return _cam(False, None, None, why)
    name = f"{cam.backend}: {cam.source}"
    try:
        cam.open()
        frame = _first_frame(cam)
    except (DeviceUnavailable, OSError, RuntimeError) as exc:
        return _cam(False, name, None, str(exc))
    finally:
        cam.close()
    if frame is None:
        return _cam(False, name, None, f"the {name} opened but gave no picture in 3 s")
    return _picture(k, name, frame)


def _first_frame(cam: Camera, timeout_s: float = 3.0) -> LowresFrame | None:
    deadline = time.monotonic() + timeout_s
    while (frame := cam.latest()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return frame


def _picture(k: Kiosk, name: str, frame: LowresFrame) -> dict[str, Any]:
    jpeg = encode_jpeg(frame.image)
    verdict, detail = framing_verdict(k, frame.image)
    return _cam(True, name, frame, detail, base64.b64encode(jpeg).decode("ascii"), verdict)


def encode_jpeg(image: npt.NDArray[np.uint8], width: int = PREVIEW_WIDTH) -> bytes:
    """A BGR picture as JPEG, scaled down to at most ``width`` pixels wide."""
    h, w = image.shape[:2]
    if w > width:
        image = resize(image, (width, max(2, round(h * width / w))))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("the picture could not be encoded as JPEG")
    return bytes(buf.tobytes())


def framing_verdict(k: Kiosk, image: npt.NDArray[np.uint8]
                    ) -> tuple[dict[str, str] | None, str | None]:
    """({verdict, advice}, None), or (None, why there is no verdict)."""
    try:
        detector = face_detector(k.config.models_dir)
    except ModelError as exc:
        return None, f"no framing verdict: {exc}"
    verdict = framing_check(image, detector)
    if verdict.ok:
        return {"verdict": "ok", "advice": "The face is well framed and lit"}, None
    first = verdict.problems[0]
    return {"verdict": first, "advice": verdict.advice[0] if verdict.advice else ADVICE[first]
            }, None


def face_detector(models_dir: Path) -> Any:
    """The installed, verified face detector (small: loaded for each test)."""
    from inference.models.store import ModelStore
    from inference.models.tflite import TFLiteModel
    from inference.vision.faces import FaceDetector

    store = ModelStore(models_dir)
    model = store.open(store.find("face_detection").name)
    return FaceDetector(TFLiteModel(model.path, num_threads=1))
