"""Which camera the box uses, and what cameras it can see (for ``kiosk devices``).

``[capture] camera`` picks the backend: ``picamera2`` (the Pi camera), ``opencv`` (a V4L2
webcam, or a Jetson CSI camera through a GStreamer pipeline), ``file`` (a video file or
stream URL replayed in real time), ``none``, or ``auto``: the Pi camera when picamera2 is
installed and libcamera reports one, else the first ``/dev/video*`` that opens, else none.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2

from device.capture.base import Camera, DeviceUnavailable
from device.capture.camera_opencv import OpenCVCamera, classify_source
from device.capture.camera_picamera2 import NOT_INSTALLED, Picamera2Camera
from device.config import CaptureConfig

__all__ = ["CameraInfo", "classify_source", "list_cameras", "open_camera", "video_devices"]

log = logging.getLogger(__name__)

#: V4L2 nodes of the Pi's own video blocks (ISP, codecs, CSI receiver): not cameras to open.
NOT_CAMERAS = ("bcm2835-codec", "bcm2835-isp", "rpi-hevc-dec", "pispbe", "rp1-cfe", "unicam",
               "rpivid")
_VIDEO_N = re.compile(r"^video(\d+)$")


@dataclass(frozen=True)
class CameraInfo:
    """One camera the box can see, and whether it can be used."""

    backend: str  # "picamera2" | "opencv" | "file"
    source: str
    description: str
    usable: bool
    problem: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def video_devices(dev: Path = Path("/dev")) -> list[str]:
    """``/dev/video*`` nodes in numeric order."""
    found = []
    for path in dev.glob("video*"):
        m = _VIDEO_N.match(path.name)
        if m:
            found.append((int(m.group(1)), str(path)))
    return [p for _, p in sorted(found)]


def device_name(path: str) -> str:
    """What the driver calls a /dev/videoN node (from sysfs), or "" when unknown."""
    try:
        return (Path("/sys/class/video4linux") / Path(path).name / "name").read_text().strip()
    except OSError:
        return ""


def probe_v4l2(path: str) -> str | None:
    """None when ``path`` opens as a V4L2 capture device, else why not."""
    name = device_name(path)
    if any(name.startswith(n) for n in NOT_CAMERAS):
        return f"{name} is a video block of the board, not a camera"
    cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
    try:
        if not cap.isOpened():
            return "cannot be opened as a camera (a metadata node, or in use by another program)"
    finally:
        cap.release()
    return None


def picamera2_cameras() -> tuple[list[dict[str, Any]], str | None]:
    """The Pi cameras libcamera reports, or ([], why not) when picamera2 cannot say."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return [], NOT_INSTALLED
    try:
        return list(Picamera2.global_camera_info()), None
    except Exception as exc:  # libcamera trouble: report it, fall back to other cameras
        return [], f"libcamera cannot list cameras: {exc}"


def open_camera(config: CaptureConfig) -> Camera | None:
    """The configured camera, ready to :meth:`~device.capture.base.Camera.open` (None when
    the box has, or is told to use, no camera)."""
    kind = config.camera
    source = config.camera_source.strip()
    if kind == "none":
        return None
    if kind == "picamera2":
        return Picamera2Camera(config, int(source) if source.isdigit() else 0)
    if kind == "opencv":
        return OpenCVCamera(config, source or "/dev/video0")
    if kind == "file":
        if not source:
            raise DeviceUnavailable("camera = file needs [capture] camera_source: a video file"
                                    " path or a stream URL")
        return OpenCVCamera(config, source)
    cameras, why = picamera2_cameras()
    if cameras:
        log.info("camera: auto picked the Pi camera (%s)", cameras[0].get("Model", "?"))
        return Picamera2Camera(config, 0)
    log.debug("camera: no Pi camera (%s)", why or "libcamera reports none")
    for path in video_devices():
        problem = probe_v4l2(path)
        if problem is None:
            log.info("camera: auto picked %s", path)
            return OpenCVCamera(config, path)
        log.debug("camera: skipping %s: %s", path, problem)
    return None


def list_cameras(config: CaptureConfig) -> list[CameraInfo]:
    """Every camera the box can see (Pi cameras, /dev/video*) and the configured source."""
    out: list[CameraInfo] = []
    cameras, why = picamera2_cameras()
    for i, info in enumerate(cameras):
        num = str(info.get("Num", i))
        model = info.get("Model", "camera")
        out.append(CameraInfo("picamera2", num, f"Pi camera {num}: {model}", True, None))
    if config.camera == "picamera2" and not cameras:
        out.append(CameraInfo("picamera2", config.camera_source or "0", "Pi camera (configured)",
                              False, why or "libcamera reports no camera"))
    for path in video_devices():
        problem = probe_v4l2(path)
        out.append(CameraInfo("opencv", path, device_name(path) or "V4L2 device",
                              problem is None, problem))
    source = config.camera_source.strip()
    listed = {c.source for c in out if c.backend != "picamera2"}
    if config.camera in ("opencv", "file") and source and source not in listed:
        out.append(_probe_configured(config, source))
    return out


def _probe_configured(config: CaptureConfig, source: str) -> CameraInfo:
    cam = OpenCVCamera(config, source)
    what = f"configured {cam.describe()}"
    try:
        cam.probe()
    except DeviceUnavailable as exc:
        return CameraInfo(cam.backend, source, what, False, str(exc))
    return CameraInfo(cam.backend, source, what, True, None)
