"""Camera backends behind one interface: the file/V4L2/GStreamer backend on a real CREMA-D
clip (480x360, 30 fps, about 2.2 s), the ffmpeg MP4 writer, the preview, the factory."""

from __future__ import annotations

import re
import shutil
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
from device.capture.base import DeviceUnavailable, LowresFrame
from device.capture.camera import CameraInfo, list_cameras, open_camera, video_devices
from device.capture.camera_opencv import OpenCVCamera, classify_source
from device.capture.camera_picamera2 import Picamera2Camera
from device.capture.preview import LatestFrame, RateMeter, lowres_size
from device.capture.videofile import Mp4Writer, RecordingError
from device.config import CaptureConfig

integration = pytest.mark.integration
CLIP_FPS = 29.97
CLIP_FRAMES = 67


@pytest.fixture
def clip(crema_clips: dict[str, Path]) -> Path:
    return crema_clips["ANG"]


def config(source: Path | str, **over: Any) -> CaptureConfig:
    fields: dict[str, Any] = {"camera": "file", "camera_source": str(source),
                              "video_width": 640, "video_height": 480, "fps": 15,
                              "analysis_width": 320, "lost_after_s": 1.0}
    return CaptureConfig(**{**fields, **over})


class Lost:
    """An on_lost callback that remembers what it was told."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = threading.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()


@pytest.fixture
def opened() -> Iterator[list[OpenCVCamera]]:
    """Cameras a test opens are closed however it ends."""
    cams: list[OpenCVCamera] = []
    yield cams
    for cam in cams:
        cam.close()


def start(cams: list[OpenCVCamera], cfg: CaptureConfig, on_lost: Lost | None = None
          ) -> OpenCVCamera:
    cam = OpenCVCamera(cfg, cfg.camera_source)
    cam.open(on_lost)
    cams.append(cam)
    return cam


def read_mp4(path: Path) -> tuple[int, int, int]:
    """(frames decoded, width, height) of a video file."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    frames = 0
    while cap.read()[0]:
        frames += 1
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return frames, *size


# --- which backend a source goes to ----------------------------------------------------------


@pytest.mark.parametrize(("source", "kind"), [
    ("0", "v4l2"),
    ("/dev/video2", "v4l2"),
    ("/dev/v4l/by-id/usb-Logitech_C920-video-index0", "v4l2"),
    ("nvarguscamerasrc ! video/x-raw(memory:NVMM),width=1280,height=720 ! nvvidconv"
     " ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! appsink", "gstreamer"),
    ("v4l2src device=/dev/video0 ! videoconvert ! appsink", "gstreamer"),
    ("/srv/replay/interview.mp4", "file"),
    ("rtsp://10.0.0.5:554/stream1", "file"),
    ("https://example.org/clip.webm", "file"),
])
def test_classify_source(source: str, kind: str) -> None:
    assert classify_source(source) == kind
    cam = OpenCVCamera(config(source), source)
    assert cam.backend == ("file" if kind == "file" else "opencv")


def test_gstreamer_pipeline_goes_to_gstreamer() -> None:
    pipeline = "videotestsrc num-buffers=10 ! videoconvert ! appsink"
    with pytest.raises(DeviceUnavailable, match="GStreamer pipeline 'videotestsrc"):
        OpenCVCamera(config(pipeline, camera="opencv"), pipeline).open()


# --- opening failures -------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip.flv"
    with pytest.raises(DeviceUnavailable, match=re.escape(f"no video file at {missing}")):
        OpenCVCamera(config(missing), str(missing)).open()


def test_file_that_is_not_video(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video at all\n" * 50)
    with pytest.raises(DeviceUnavailable, match=re.escape(f"cannot open the video source {junk}")):
        OpenCVCamera(config(junk), str(junk)).open()


@integration
def test_file_with_no_pictures(tmp_path: Path) -> None:
    """An MP4 cut before its first fragment (only the header): opens, gives no picture."""
    writer = Mp4Writer(tmp_path / "full.mp4", 64, 48, 10, 200)
    for _ in range(20):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    data = writer.close().path.read_bytes()
    header_only = tmp_path / "header-only.mp4"
    header_only.write_bytes(data[: data.index(b"moof") - 4])
    with pytest.raises(DeviceUnavailable, match=re.escape(
            f"the video source {header_only} opened but gave no picture: is the file empty")):
        OpenCVCamera(config(header_only), str(header_only)).open()


@pytest.mark.parametrize("source", ["/dev/video97", "97"])
def test_missing_v4l2_device_says_what_to_check(source: str) -> None:
    with pytest.raises(DeviceUnavailable, match=r"no camera at /dev/video97: is it plugged in\?"
                       r" `kiosk devices` lists cameras"):
        OpenCVCamera(config(source, camera="opencv"), source).open()


def test_file_camera_needs_a_source() -> None:
    with pytest.raises(DeviceUnavailable, match="camera = file needs"):
        open_camera(CaptureConfig(camera="file", camera_source=""))


# --- the replay behaves like a live camera ---------------------------------------------------


def test_file_replays_in_real_time_with_lowres_frames(clip: Path, opened: list[OpenCVCamera]
                                                       ) -> None:
    cam = start(opened, config(clip, loop=True))
    first = cam.latest()
    assert first is not None
    time.sleep(1.5)
    last = cam.latest()
    assert last is not None
    rate = (last.seq - first.seq) / (last.t - first.t)
    assert 0.75 * CLIP_FPS < rate < 1.15 * CLIP_FPS, f"replayed at {rate:.1f} fps"
    assert last.image.shape == (240, 320, 3) and last.image.dtype == np.uint8
    assert float(last.image.mean()) > 20  # a real picture, not black
    stats = cam.stats()
    assert stats.backend == "file" and stats.open and stats.lost is None
    assert stats.fps is not None and 0.75 * CLIP_FPS < stats.fps < 1.15 * CLIP_FPS
    assert stats.frames >= last.seq - first.seq


@integration
def test_record_two_seconds_then_again(clip: Path, opened: list[OpenCVCamera], tmp_path: Path
                                       ) -> None:
    cam = start(opened, config(clip, loop=True))
    for name in ("first.mp4", "second.mp4"):
        path = tmp_path / name
        cam.start_recording(path)
        time.sleep(2.0)
        rec = cam.stop_recording()
        assert rec.path == path and rec.kind == "video"
        assert 24 <= rec.frames <= 36, rec  # 2 s at 15 fps, the 30 fps source thinned
        assert rec.duration_s == pytest.approx(rec.frames / 15)
        frames, width, height = read_mp4(path)
        assert (width, height) == (640, 480)
        assert frames == rec.frames
    assert cam.stats().dropped_frames == 0
    with pytest.raises(RuntimeError, match="not recording"):
        cam.stop_recording()


@integration
def test_power_cut_copy_mid_recording_is_playable(clip: Path, opened: list[OpenCVCamera],
                                                  tmp_path: Path) -> None:
    cam = start(opened, config(clip, loop=True))
    live = tmp_path / "answer.mp4"
    cam.start_recording(live)
    time.sleep(2.5)
    cut = tmp_path / "after-power-cut.mp4"
    shutil.copyfile(live, cut)  # what the SD card holds if power goes now
    cam.stop_recording()
    frames, width, height = read_mp4(cut)
    assert frames >= 15, f"only {frames} frames survive"  # at least one second at 15 fps
    assert (width, height) == (640, 480)
    # the clip is 67 frames long: replay looped and the camera never counted as lost
    assert cam.stats().frames > CLIP_FRAMES and cam.stats().lost is None


@integration
def test_end_of_file_without_loop_is_lost_and_closes_the_recording(
        clip: Path, opened: list[OpenCVCamera], tmp_path: Path) -> None:
    lost = Lost()
    cam = start(opened, config(clip, loop=False), lost)
    path = tmp_path / "cut-short.mp4"
    cam.start_recording(path)
    assert lost.event.wait(6), "the end of the file was not reported"
    time.sleep(0.2)
    assert lost.reasons == [f"the video source {clip} ended"]
    stats = cam.stats()
    assert not stats.open and stats.lost == lost.reasons[0]
    rec = cam.stop_recording()  # closed cleanly when the source ended
    frames, _, _ = read_mp4(path)
    assert rec.frames == frames and frames >= 20
    with pytest.raises(DeviceUnavailable, match="ended"):
        cam.start_recording(tmp_path / "more.mp4")


class StalledCapture:
    """A capture whose read blocks: a camera that stopped answering."""

    def __init__(self) -> None:
        self.release_event = threading.Event()

    def read(self) -> tuple[bool, None]:
        self.release_event.wait(10)
        return False, None

    def release(self) -> None:
        self.release_event.set()


class FailingCapture:
    def read(self) -> tuple[bool, None]:
        return False, None

    def release(self) -> None:
        pass


def test_no_picture_for_lost_after_s_is_lost(clip: Path, opened: list[OpenCVCamera]) -> None:
    lost = Lost()
    cam = start(opened, config(clip, loop=True, lost_after_s=0.5), lost)
    real, stalled = cam._cap, StalledCapture()
    cam._cap = stalled
    real.release()
    try:
        assert lost.event.wait(4)
        assert lost.reasons == [f"no picture from the video source {clip} for 0.5 s"]
    finally:
        stalled.release()
    time.sleep(0.3)
    assert len(lost.reasons) == 1  # reported once


def test_live_camera_read_failures_are_lost(clip: Path, opened: list[OpenCVCamera]) -> None:
    lost = Lost()
    cam = start(opened, config(clip, loop=True, lost_after_s=5), lost)
    real = cam._cap
    cam.kind = "v4l2"  # the same loop runs for a webcam: failed reads, not an ended file
    cam._cap = FailingCapture()
    real.release()
    assert lost.event.wait(3)
    assert "stopped delivering pictures (5 failed reads): is it still plugged in?" in \
        lost.reasons[0]


@integration
def test_slow_encoder_drops_frames_not_the_camera(clip: Path, opened: list[OpenCVCamera],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    gate = threading.Event()
    original = Mp4Writer._write_frame

    def stuck_write(self: Mp4Writer, data: bytes) -> None:
        gate.wait(10)  # an encoder that cannot keep up
        original(self, data)

    monkeypatch.setattr(Mp4Writer, "_write_frame", stuck_write)
    cam = start(opened, config(clip, loop=True))
    cam.start_recording(tmp_path / "slow.mp4")
    before = cam.latest()
    time.sleep(2.0)
    after = cam.latest()
    assert before is not None and after is not None
    assert after.seq - before.seq >= 40  # pictures kept coming at the camera's rate
    dropped = cam.stats().dropped_frames
    assert dropped >= 5, "a full queue must drop frames"
    gate.set()
    rec = cam.stop_recording()
    assert rec.frames <= 17  # one in the encoder + one second queued
    frames, _, _ = read_mp4(rec.path)
    assert frames == rec.frames
    assert cam.stats().dropped_frames == dropped


def test_preview_jpeg_is_a_jpeg_of_the_lowres_picture(clip: Path, opened: list[OpenCVCamera]
                                                      ) -> None:
    cam = start(opened, config(clip, loop=True))
    got = cam.preview_jpeg()
    assert got is not None
    seq, data = got
    assert data[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (240, 320, 3)
    latest = cam.latest()
    assert latest is not None and latest.seq >= seq


def test_preview_is_encoded_once_per_picture() -> None:
    conversions: list[int] = []

    def shrink(raw: np.ndarray[Any, Any]) -> Any:
        conversions.append(1)
        return cv2.resize(raw, (32, 24))

    slot = LatestFrame(shrink)
    assert slot.latest() is None and slot.jpeg() is None
    picture = np.full((48, 64, 3), 128, np.uint8)
    slot.put(picture, 1.0)
    a, b = slot.jpeg(), slot.jpeg()
    assert a is not None and a is b and a[0] == 1
    assert slot.encoded == 1 and len(conversions) == 1
    frame = slot.latest()
    assert isinstance(frame, LowresFrame) and frame.image.shape == (24, 32, 3) and frame.t == 1.0
    slot.put(picture, 2.0)
    c = slot.jpeg()
    assert c is not None and c[0] == 2 and slot.encoded == 2 and len(conversions) == 2
    slot.clear()
    assert slot.latest() is None
    slot.put(picture, 3.0)
    d = slot.latest()
    assert d is not None and d.seq == 3  # the sequence never goes back


def test_lowres_size_keeps_the_aspect_ratio() -> None:
    assert lowres_size(480, 360, 320) == (320, 240)
    assert lowres_size(1280, 720, 320) == (320, 180)
    assert lowres_size(1920, 1080, 321) == (320, 180)


def test_rate_meter() -> None:
    meter = RateMeter(window_s=3.0)
    assert meter.rate() is None
    now = time.monotonic()
    for i in range(31):
        meter.tick(now - 1.0 + i / 30)
    assert meter.rate() == pytest.approx(30.0)


# --- the MP4 writer on its own ------------------------------------------------------------------


@integration
def test_writer_error_names_the_file_and_ffmpeg_message(tmp_path: Path) -> None:
    bad = tmp_path / "no-such-dir" / "answer.mp4"
    writer = Mp4Writer(bad, 64, 48, 10, 200)
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
        time.sleep(0.05)
    expected = rf"recording {re.escape(str(bad))} failed: .*No such file"
    with pytest.raises(RecordingError, match=expected):
        writer.close()


def test_writer_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RecordingError, match=r"cannot record .*x\.mp4: ffmpeg is not installed"):
        Mp4Writer(tmp_path / "x.mp4", 64, 48, 10, 200)


@integration
def test_writer_checks_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even picture size"):
        Mp4Writer(tmp_path / "odd.mp4", 65, 48, 10, 200)
    writer = Mp4Writer(tmp_path / "ok.mp4", 64, 48, 10, 200)
    with pytest.raises(ValueError, match="picture is 32x24, the recording is 64x48"):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    for _ in range(10):
        assert writer.write(np.zeros((48, 64, 3), np.uint8))
    rec = writer.close()
    assert rec.frames == 10 and rec.duration_s == pytest.approx(1.0)
    assert read_mp4(rec.path) == (10, 64, 48)
    with pytest.raises(RuntimeError, match="closed"):
        writer.write(np.zeros((48, 64, 3), np.uint8))


# --- choosing and listing cameras -----------------------------------------------------------------


@pytest.fixture
def no_hardware(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No picamera2 module and no /dev/video* (whatever the machine running the tests has)."""
    monkeypatch.setitem(sys.modules, "picamera2", None)
    empty = tmp_path / "dev"
    empty.mkdir()
    monkeypatch.setattr(camera_mod, "video_devices", lambda: video_devices(empty))


def test_auto_without_any_camera_is_none(no_hardware: None) -> None:
    assert open_camera(CaptureConfig(camera="auto")) is None


def test_explicit_backends(no_hardware: None, clip: Path) -> None:
    assert open_camera(CaptureConfig(camera="none")) is None
    file_cam = open_camera(CaptureConfig(camera="file", camera_source=str(clip)))
    assert isinstance(file_cam, OpenCVCamera) and file_cam.backend == "file"
    webcam = open_camera(CaptureConfig(camera="opencv"))
    assert isinstance(webcam, OpenCVCamera) and webcam.source == "/dev/video0"
    pi = open_camera(CaptureConfig(camera="picamera2"))
    assert isinstance(pi, Picamera2Camera)
    with pytest.raises(DeviceUnavailable, match="picamera2 module is not installed: apt install"
                       " python3-picamera2"):
        pi.open()


def test_video_devices_in_numeric_order(tmp_path: Path) -> None:
    for name in ("video10", "video2", "video0", "videoX", "media0"):
        (tmp_path / name).touch()
    assert video_devices(tmp_path) == [str(tmp_path / n) for n in ("video0", "video2", "video10")]


def test_list_cameras_shows_the_configured_source(no_hardware: None, clip: Path,
                                                  tmp_path: Path) -> None:
    good = list_cameras(CaptureConfig(camera="file", camera_source=str(clip)))
    assert good == [CameraInfo("file", str(clip), f"configured video source {clip}", True, None)]
    missing = tmp_path / "gone.mp4"
    bad = list_cameras(CaptureConfig(camera="file", camera_source=str(missing)))
    assert len(bad) == 1 and not bad[0].usable
    assert bad[0].problem is not None and str(missing) in bad[0].problem
    pi = list_cameras(CaptureConfig(camera="picamera2"))
    assert [(c.backend, c.usable) for c in pi] == [("picamera2", False)]
    assert pi[0].to_dict()["problem"] == "the picamera2 module is not installed: apt install" \
        " python3-picamera2"
    assert list_cameras(CaptureConfig(camera="auto")) == []


def test_auto_skips_video_nodes_that_do_not_open(no_hardware: None, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / "video0"
    node.write_bytes(b"")  # not a V4L2 device: like a webcam's metadata node
    monkeypatch.setattr(camera_mod, "video_devices", lambda: [str(node)])
    assert open_camera(CaptureConfig(camera="auto")) is None
    listed = list_cameras(CaptureConfig(camera="auto"))
    assert [(c.backend, c.source, c.usable) for c in listed] == [("opencv", str(node), False)]
    assert listed[0].problem is not None and "cannot be opened as a camera" in listed[0].problem


def test_replay_of_a_file_that_went_away_is_lost(clip: Path, tmp_path: Path,
                                                 opened: list[OpenCVCamera]) -> None:
    copy = tmp_path / "replay.flv"
    shutil.copyfile(clip, copy)
    lost = Lost()
    start(opened, config(copy, loop=True, lost_after_s=5), lost)
    copy.unlink()
    assert lost.event.wait(5), "the replay did not notice its file is gone"
    assert lost.reasons == [f"the video source {copy} could not be replayed: no video file at"
                            f" {copy}: check [capture] camera_source"]
