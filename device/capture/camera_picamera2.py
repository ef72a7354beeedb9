"""The Raspberry Pi camera (Camera Module on the CSI connector) through picamera2.

libcamera delivers two streams at once: the main stream at the recording size goes to the
Pi's hardware H.264 encoder, muxed by ffmpeg into the answer's fragmented MP4; the
low-resolution stream (YUV420) is read by a thread and kept, one picture at a time, for
analysis and the preview, converted to BGR only when asked for. picamera2 is imported
when the camera is opened, so a box without it runs every other backend.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from device.capture.base import CameraStats, DeviceUnavailable, LostCallback, LowresFrame, Recorded
from device.capture.preview import LatestFrame, RateMeter, lowres_size
from device.capture.videofile import RecordingError
from device.config import CaptureConfig

log = logging.getLogger(__name__)

#: The fragmented-MP4 options handed to picamera2's FfmpegOutput (a fragment a keyframe,
#: a keyframe a second): what is on disk stays playable after a power cut.
MP4_OPTIONS = "-movflags +frag_keyframe+empty_moov+default_base_moof -flush_packets 1 -f mp4"
NOT_INSTALLED = "the picamera2 module is not installed: apt install python3-picamera2"
_TIMEOUTS = (TimeoutError, concurrent.futures.TimeoutError)


def even(n: int) -> int:
    return max(2, n - n % 2)


class Picamera2Camera:
    """A Pi camera behind the Camera protocol."""

    backend = "picamera2"

    def __init__(self, config: CaptureConfig, camera_num: int = 0) -> None:
        self.config = config
        self.camera_num = camera_num
        self.source = str(camera_num)
        self.width = even(config.video_width)
        self.height = even(config.video_height)
        self.lowres_wh = lowres_size(self.width, self.height, config.analysis_width)
        self._cam: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rec_lock = threading.Lock()
        self._on_lost: LostCallback | None = None
        self._lost: str | None = None
        self._lost_recording: Recorded | None = None
        self._recording: tuple[Path, float, int] | None = None  # path, started, frames before
        self._frames = 0
        self._slot = LatestFrame(self._to_bgr)
        self._rate = RateMeter()

    def describe(self) -> str:
        return f"Pi camera {self.camera_num}"

    def open(self, on_lost: LostCallback | None = None) -> None:
        if self._cam is not None:
            raise RuntimeError(f"the {self.describe()} is already open")
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DeviceUnavailable(NOT_INSTALLED) from exc
        found = Picamera2.global_camera_info()
        if len(found) <= self.camera_num:
            raise DeviceUnavailable(
                f"no {self.describe()}: libcamera reports {len(found)} camera(s); is the ribbon"
                " cable seated and the camera enabled? `rpicam-hello --list-cameras` lists them")
        cam: Any = None
        try:
            cam = Picamera2(self.camera_num)
            cam.configure(cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                lores={"size": self.lowres_wh, "format": "YUV420"},
                controls={"FrameRate": float(self.config.fps)}))
            cam.start()
            first = cam.capture_array("lores", wait=self.config.lost_after_s)
        except Exception as exc:
            if cam is not None:
                self._quietly(cam.close)
            raise DeviceUnavailable(f"the {self.describe()} cannot be started ({exc}): is"
                                    " another program using it?") from exc
        self._cam, self._on_lost, self._lost = cam, on_lost, None
        self._stop.clear()
        self._take(first)
        self._thread = threading.Thread(target=self._read_loop, name="picamera2", daemon=True)
        self._thread.start()
        log.info("%s open: recording %dx%d at %d fps, low-res %dx%d", self.describe(),
                 self.width, self.height, self.config.fps, *self.lowres_wh)

    def close(self) -> None:
        self._stop.set()
        cam, self._cam = self._cam, None
        with self._rec_lock:
            if self._recording is not None and cam is not None:
                self._quietly(cam.stop_encoder)
                self._recording = None
        if cam is not None:
            self._quietly(cam.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.config.lost_after_s + 2)
        self._thread = None
        if cam is not None:
            self._quietly(cam.close)
        self._slot.clear()

    # --- recording -----------------------------------------------------------------------------

    def start_recording(self, path: Path) -> None:
        from picamera2.encoders import H264Encoder
        from picamera2.outputs import FfmpegOutput

        if any(c.isspace() for c in str(path)):
            raise RecordingError(f"cannot record {path}: picamera2 hands ffmpeg the path split"
                                 " on spaces; use a data_dir without spaces")
        with self._rec_lock:
            if self._cam is None or self._lost is not None:
                raise DeviceUnavailable(f"the {self.describe()} is not delivering pictures"
                                        f" ({self._lost or 'not open'})")
            if self._recording is not None:
                raise RuntimeError(f"already recording to {self._recording[0]}")
            self._lost_recording = None
            encoder = H264Encoder(bitrate=self.config.video_bitrate_kbps * 1000,
                                  iperiod=self.config.fps)
            self._cam.start_encoder(encoder, FfmpegOutput(f"{MP4_OPTIONS} {path}"))
            self._recording = (Path(path), time.monotonic(), self._frames)

    def stop_recording(self) -> Recorded:
        with self._rec_lock:
            if self._recording is None:
                lost, self._lost_recording = self._lost_recording, None
                if lost is not None:
                    return lost  # closed when the camera was lost
                raise RuntimeError(f"the {self.describe()} is not recording")
            return self._stop_encoder()

    def _stop_encoder(self) -> Recorded:
        """Finish the current recording (the caller holds the recording lock)."""
        assert self._recording is not None
        path, started, before = self._recording
        self._recording = None
        if self._cam is not None:
            self._cam.stop_encoder()
        if not path.is_file() or path.stat().st_size == 0:
            raise RecordingError(f"recording {path} failed: the H.264 encoder wrote nothing")
        return Recorded(path=path, kind="video", duration_s=time.monotonic() - started,
                        frames=self._frames - before)

    # --- what the recorder and the UI read -------------------------------------------------

    def latest(self) -> LowresFrame | None:
        return self._slot.latest()

    def preview_jpeg(self) -> tuple[int, bytes] | None:
        return self._slot.jpeg()

    def stats(self) -> CameraStats:
        return CameraStats(backend=self.backend, source=self.source,
                           open=self._cam is not None and self._lost is None,
                           frames=self._frames, dropped_frames=0, fps=self._rate.rate(),
                           lost=self._lost)

    # --- the reader ------------------------------------------------------------------------------

    def _to_bgr(self, yuv: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """YUV420 (rows padded to the stride) to BGR of the low-res size."""
        bgr = np.asarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8)
        return bgr[:, : self.lowres_wh[0]] if bgr.shape[1] > self.lowres_wh[0] else bgr

    def _take(self, yuv: npt.NDArray[np.uint8]) -> None:
        t = time.monotonic()
        self._frames += 1
        self._rate.tick(t)
        self._slot.put(yuv, t)

    def _read_loop(self) -> None:
        wait = self.config.lost_after_s
        while not self._stop.is_set():
            cam = self._cam
            if cam is None:
                return
            try:
                yuv = cam.capture_array("lores", wait=wait)
            except _TIMEOUTS:
                self._report_lost(f"no picture from the {self.describe()} for {wait:g} s")
                return
            except Exception as exc:
                self._report_lost(f"the {self.describe()} stopped: {exc}")
                return
            self._take(yuv)

    def _report_lost(self, reason: str) -> None:
        with self._rec_lock:
            if self._lost is not None or self._stop.is_set():
                return
            self._lost = reason
            self._stop.set()
            log.warning("%s", reason)
            if self._recording is not None:
                try:
                    self._lost_recording = self._stop_encoder()
                except Exception as exc:
                    log.warning("closing the recording of the lost %s: %s", self.describe(),
                                exc)
        if self._on_lost is not None:
            self._on_lost(reason)

    @staticmethod
    def _quietly(action: Any) -> None:
        try:
            action()
        except Exception as exc:  # closing a failed camera must not hide the first error
            log.warning("picamera2: %s", exc)
