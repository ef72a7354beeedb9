"""The Pi camera backend through the picamera2 stand-in (tests/standins/picamera2: no Pi
camera or libcamera on this machine), which replays a CREMA-D clip and encodes with ffmpeg."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from device.capture import camera as camera_mod
from device.capture.base import DeviceUnavailable
from device.capture.camera import list_cameras, open_camera, video_devices
from device.capture.camera_picamera2 import Picamera2Camera
from device.capture.videofile import RecordingError
from device.config import CaptureConfig

STANDINS = Path(__file__).resolve().parents[2] / "standins"


def config(**over: Any) -> CaptureConfig:
    fields: dict[str, Any] = {"camera": "picamera2", "video_width": 640, "video_height": 480,
                              "fps": 15, "analysis_width": 320, "lost_after_s": 1.0}
    return CaptureConfig(**{**fields, **over})


class Lost:
    """An on_lost callback that remembers what it was told."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = threading.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()


def _forget_picamera2() -> None:
    for name in [n for n in sys.modules if n == "picamera2" or n.startswith("picamera2.")]:
        del sys.modules[name]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch, crema_clips: dict[str, Path], tmp_path: Path
            ) -> Iterator[Path]:
    """`import picamera2` finds the stand-in, which reports one camera replaying a clip."""
    _forget_picamera2()
    monkeypatch.syspath_prepend(str(STANDINS))
    monkeypatch.setenv("PICAMERA2_STANDIN_SOURCE", str(crema_clips["NEU"]))
    empty = tmp_path / "dev"
    empty.mkdir()
    monkeypatch.setattr(camera_mod, "video_devices", lambda: video_devices(empty))
    yield crema_clips["NEU"]
    _forget_picamera2()


@pytest.fixture
def pi(standin: Path) -> Iterator[Picamera2Camera]:
    cam = Picamera2Camera(config())
    yield cam
    cam.close()


def read_mp4(path: Path) -> tuple[int, int, int]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    frames = 0
    while cap.read()[0]:
        frames += 1
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return frames, *size


@pytest.mark.integration
def test_open_record_and_lowres(pi: Picamera2Camera, tmp_path: Path) -> None:
    pi.open()
    time.sleep(0.3)
    frame = pi.latest()
    assert frame is not None
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    assert float(frame.image.mean()) > 20  # converted from YUV420: a real picture
    path = tmp_path / "answer.mp4"
    pi.start_recording(path)
    time.sleep(2.0)
    rec = pi.stop_recording()
    assert rec.path == path and rec.kind == "video"
    assert rec.duration_s == pytest.approx(2.0, abs=0.3)
    assert 24 <= rec.frames <= 36, rec
    frames, width, height = read_mp4(path)
    assert (width, height) == (640, 480)
    assert 24 <= frames <= 36, f"{frames} frames in the MP4"
    got = pi.preview_jpeg()
    assert got is not None
    image = cv2.imdecode(np.frombuffer(got[1], np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (240, 320, 3)
    stats = pi.stats()
    assert stats.backend == "picamera2" and stats.open and stats.lost is None
    assert stats.fps is not None and 12 < stats.fps < 18
    pi.close()
    assert not pi.stats().open and pi.latest() is None


def test_auto_picks_the_pi_camera(standin: Path) -> None:
    assert isinstance(open_camera(CaptureConfig(camera="auto")), Picamera2Camera)
    listed = list_cameras(CaptureConfig(camera="auto"))
    assert [(c.backend, c.source, c.usable) for c in listed] == [("picamera2", "0", True)]
    assert "stand-in" in listed[0].description


def test_no_pi_camera_reported(standin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PICAMERA2_STANDIN_SOURCE")
    assert open_camera(CaptureConfig(camera="auto")) is None  # falls through to no camera
    with pytest.raises(DeviceUnavailable, match=r"no Pi camera 0: libcamera reports 0 camera"
                       r".*rpicam-hello --list-cameras"):
        Picamera2Camera(config()).open()


def test_lost_when_the_camera_stops(pi: Picamera2Camera, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    import picamera2

    lost = Lost()
    pi.open(lost)

    def gone(self: Any, name: str = "main", wait: float | None = None) -> Any:
        raise RuntimeError("Device or resource busy")

    monkeypatch.setattr(picamera2.Picamera2, "capture_array", gone)
    assert lost.event.wait(3)
    assert lost.reasons == ["the Pi camera 0 stopped: Device or resource busy"]
    assert pi.stats().lost == lost.reasons[0] and not pi.stats().open


@pytest.mark.integration
def test_timeout_is_lost_and_the_recording_is_kept(pi: Picamera2Camera, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import picamera2

    lost = Lost()
    pi.open(lost)
    pi.start_recording(tmp_path / "cut.mp4")
    time.sleep(1.5)

    def silent(self: Any, name: str = "main", wait: float | None = None) -> Any:
        time.sleep(wait or 0)
        raise TimeoutError

    monkeypatch.setattr(picamera2.Picamera2, "capture_array", silent)
    assert lost.event.wait(4)
    assert lost.reasons == ["no picture from the Pi camera 0 for 1 s"]
    rec = pi.stop_recording()  # closed when the camera was lost
    assert rec.frames >= 10
    frames, _, _ = read_mp4(rec.path)
    assert frames >= 10
    with pytest.raises(DeviceUnavailable, match="not delivering pictures"):
        pi.start_recording(tmp_path / "next.mp4")


def test_path_with_spaces_is_refused(pi: Picamera2Camera, tmp_path: Path) -> None:
    pi.open()
    with pytest.raises(RecordingError, match="split on spaces"):
        pi.start_recording(tmp_path / "my answers" / "a.mp4")
    with pytest.raises(RuntimeError, match="not recording"):
        pi.stop_recording()


def test_a_camera_that_does_not_start(pi: Picamera2Camera, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    import picamera2

    def fail(self: Any) -> None:
        raise RuntimeError("Failed to start camera: Device or resource busy")

    monkeypatch.setattr(picamera2.Picamera2, "start", fail)
    with pytest.raises(DeviceUnavailable, match=r"the Pi camera 0 cannot be started \(Failed to"
                       r" start camera: Device or resource busy\): is another program using"):
        pi.open()
    assert not pi.stats().open


def test_an_encoder_that_writes_nothing(pi: Picamera2Camera, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import picamera2

    monkeypatch.setattr(picamera2.Picamera2, "start_encoder", lambda self, enc, out: None)
    pi.open()
    path = tmp_path / "empty.mp4"
    pi.start_recording(path)
    with pytest.raises(RecordingError, match=f"recording {path} failed: the H.264 encoder"
                       " wrote nothing"):
        pi.stop_recording()
