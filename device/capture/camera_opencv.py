"""Cameras OpenCV opens: a V4L2 device (USB webcam), a GStreamer pipeline (how Jetson CSI
cameras arrive: ``nvarguscamerasrc ! ... ! appsink``), or a file or stream URL (the replay
backend: a recorded interview behaves like a live camera, in real time).

A reader thread takes every picture. While an answer is recorded, pictures go (resized to
the recording size, thinned to the recording frame rate) to an :class:`Mp4Writer`; the
newest picture is kept in one slot for analysis and the preview, made small only when
asked for. A watchdog reports the camera lost when no picture came for ``lost_after_s``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from device.capture.base import CameraStats, DeviceUnavailable, LostCallback, LowresFrame, Recorded
from device.capture.preview import LatestFrame, RateMeter, lowres_size, resize
from device.capture.videofile import Mp4Writer
from device.config import CaptureConfig

log = logging.getLogger(__name__)

SourceKind = Literal["v4l2", "gstreamer", "file"]

#: Consecutive failed reads of a live camera before it counts as lost.
MAX_READ_FAILURES = 5
_DEV_VIDEO = re.compile(r"^/dev/video(\d+)$")
HINT = "`kiosk devices` lists cameras"


def classify_source(source: str) -> SourceKind:
    """How OpenCV opens ``source``: a GStreamer pipeline (it has ``!``), a V4L2 device (an
    index or a path under /dev), or anything else through FFmpeg (a file or a URL)."""
    s = source.strip()
    if "!" in s:
        return "gstreamer"
    if s.isdigit() or s.startswith("/dev/"):
        return "v4l2"
    return "file"


def even(n: int) -> int:
    return max(2, n - n % 2)


class OpenCVCamera:
    """A V4L2 camera, a GStreamer pipeline, or a replayed file, behind the Camera protocol."""

    def __init__(self, config: CaptureConfig, source: str) -> None:
        self.kind: SourceKind = classify_source(source)
        self.backend = "file" if self.kind == "file" else "opencv"
        self.source = source.strip()
        self.config = config
        self.width = even(config.video_width)
        self.height = even(config.video_height)
        self.record_fps = float(config.fps)
        self.source_fps: float | None = None
        self._cap: Any = None
        self._lock = threading.Lock()  # the writer slot, between the reader and the owner
        self._rec_lock = threading.Lock()  # one start/stop/loss of a recording at a time
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._on_lost: LostCallback | None = None
        self._lost: str | None = None
        self._lost_recording: Recorded | None = None
        self._writer: Mp4Writer | None = None
        self._next_due = 0.0
        self._frames = 0
        self._dropped_closed = 0
        self._last_t = 0.0
        self._lowres_wh = (config.analysis_width, config.analysis_width * 3 // 4)
        self._slot = LatestFrame(self._shrink)
        self._rate = RateMeter()

    # --- opening -----------------------------------------------------------------------------

    def describe(self) -> str:
        if self.kind == "gstreamer":
            return f"GStreamer pipeline {self.source!r}"
        if self.kind == "v4l2":
            return f"camera {self.source}"
        return f"video source {self.source}"

    def _capture(self) -> Any:
        """A cv2.VideoCapture of the source, or DeviceUnavailable saying what to check."""
        if self.kind == "gstreamer":
            if not cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
                raise DeviceUnavailable(
                    f"cannot open the {self.describe()}: this OpenCV has no GStreamer support"
                    " (on a Jetson, use the system's python3-opencv built with GStreamer)")
            cap = cv2.VideoCapture(self.source, cv2.CAP_GSTREAMER)
            problem = "check the pipeline with gst-launch-1.0 and that it ends in appsink"
        elif self.kind == "v4l2":
            m = _DEV_VIDEO.match(self.source)
            index = int(self.source) if self.source.isdigit() else (
                int(m.group(1)) if m else None)
            node = f"/dev/video{index}" if index is not None else self.source
            if not Path(node).exists():
                raise DeviceUnavailable(f"no camera at {node}: is it plugged in? {HINT}")
            cap = cv2.VideoCapture(index if index is not None else node, cv2.CAP_V4L2)
            if cap.isOpened():
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
                cap.set(cv2.CAP_PROP_FPS, self.config.fps)
            problem = f"is it plugged in and not used by another program? {HINT}"
        else:
            if "://" not in self.source and not Path(self.source).is_file():
                raise DeviceUnavailable(f"no video file at {self.source}: check"
                                        " [capture] camera_source")
            cap = cv2.VideoCapture(self.source, cv2.CAP_FFMPEG)
            problem = "is it a video file (or a reachable stream URL) FFmpeg can read?"
        if not cap.isOpened():
            cap.release()
            raise DeviceUnavailable(f"cannot open the {self.describe()}: {problem}")
        return cap

    def probe(self) -> None:
        """Open and release the source (for `kiosk devices`); DeviceUnavailable says why not."""
        self._capture().release()

    def open(self, on_lost: LostCallback | None = None) -> None:
        if self._cap is not None:
            raise RuntimeError(f"the {self.describe()} is already open")
        cap = self._capture()
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            check = ("is the file empty or damaged?" if self.kind == "file"
                     else f"is it a camera (not a metadata node)? {HINT}")
            raise DeviceUnavailable(f"the {self.describe()} opened but gave no picture: {check}")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.source_fps = fps if 0 < fps <= 240 else None
        if self.source_fps is not None:
            self.record_fps = min(float(self.config.fps), self.source_fps)
        h, w = first.shape[:2]
        self._lowres_wh = lowres_size(w, h, self.config.analysis_width)
        self._cap, self._on_lost, self._lost = cap, on_lost, None
        self._stop.clear()
        self._take(first, time.monotonic())
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"camera {self.source}", daemon=True),
            threading.Thread(target=self._watchdog, name=f"camera-watch {self.source}",
                             daemon=True),
        ]
        for t in self._threads:
            t.start()
        log.info("%s open: %dx%d, %s fps, recording %dx%d at %g fps", self.describe(), w, h,
                 f"{self.source_fps:g}" if self.source_fps else "unknown", self.width,
                 self.height, self.record_fps)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5)
        alive = any(t.is_alive() for t in self._threads)
        self._threads = []
        with self._rec_lock:
            with self._lock:
                writer, self._writer = self._writer, None
            if writer is not None:
                try:
                    self._finish(writer)
                except Exception as exc:
                    log.warning("closing the recording of the %s: %s", self.describe(), exc)
        cap, self._cap = self._cap, None
        if cap is not None:
            if alive:  # a read still blocked in the driver: releasing under it could crash
                log.warning("%s: reader did not stop; leaving the device to the process exit",
                            self.describe())
            else:
                cap.release()
        self._slot.clear()

    # --- recording -----------------------------------------------------------------------------

    def start_recording(self, path: Path) -> None:
        with self._rec_lock:
            if self._cap is None or self._lost is not None:
                raise DeviceUnavailable(f"the {self.describe()} is not delivering pictures"
                                        f" ({self._lost or 'not open'})")
            if self._writer is not None:
                raise RuntimeError(f"already recording to {self._writer.path}")
            self._lost_recording = None
            writer = Mp4Writer(path, self.width, self.height, self.record_fps,
                               self.config.video_bitrate_kbps)
            with self._lock:
                self._writer, self._next_due = writer, 0.0

    def stop_recording(self) -> Recorded:
        with self._rec_lock:
            with self._lock:
                writer, self._writer = self._writer, None
            lost, self._lost_recording = self._lost_recording, None
            if writer is None:
                if lost is not None:
                    return lost  # closed when the camera was lost
                raise RuntimeError(f"the {self.describe()} is not recording")
            return self._finish(writer)

    def _finish(self, writer: Mp4Writer) -> Recorded:
        try:
            return writer.close()
        finally:
            self._dropped_closed += writer.dropped

    # --- what the recorder and the UI read -------------------------------------------------

    def latest(self) -> LowresFrame | None:
        return self._slot.latest()

    def preview_jpeg(self) -> tuple[int, bytes] | None:
        return self._slot.jpeg()

    def stats(self) -> CameraStats:
        writer = self._writer
        return CameraStats(
            backend=self.backend, source=self.source,
            open=self._cap is not None and self._lost is None,
            frames=self._frames,
            dropped_frames=self._dropped_closed + (writer.dropped if writer else 0),
            fps=self._rate.rate(), lost=self._lost)

    # --- the threads -------------------------------------------------------------------------

    def _shrink(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return resize(image, self._lowres_wh)

    def _take(self, image: npt.NDArray[np.uint8], t: float) -> None:
        """One picture from the device: into the slot, and to the recording when due."""
        self._frames += 1
        self._last_t = t
        self._rate.tick(t)
        self._slot.put(image, t)
        with self._lock:
            writer = self._writer
            if writer is None:
                return
            period = 1.0 / self.record_fps
            if t < self._next_due - period / 4:
                return  # faster source than the recording: thin it out
            self._next_due += period
            if self._next_due < t:  # after a gap: start the rhythm again from here
                self._next_due = t + period
            if image.shape[1] != self.width or image.shape[0] != self.height:
                image = resize(image, (self.width, self.height),
                               shrink=image.shape[1] > self.width)
            writer.write(image)

    def _read_loop(self) -> None:
        pace = 1.0 / self.source_fps if self.kind == "file" and self.source_fps else 0.0
        next_t = time.monotonic() + pace
        failures = 0
        while not self._stop.is_set():
            if pace:
                delay = next_t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                next_t = max(next_t + pace, time.monotonic() - 1.0)
            ok, image = self._cap.read()
            if self._stop.is_set():
                return
            if ok and image is not None:
                failures = 0
                self._take(image, time.monotonic())
                continue
            if self.kind == "file":
                if not self.config.loop:
                    self._report_lost(f"the video source {self.source} ended")
                    return
                if not self._rewind():
                    return
                continue
            failures += 1
            if failures >= MAX_READ_FAILURES:
                self._report_lost(f"the {self.describe()} stopped delivering pictures"
                                  f" ({failures} failed reads): is it still plugged in?")
                return
            self._stop.wait(0.05)

    def _rewind(self) -> bool:
        """Replay a file from the start (reopened: seeking is unreliable in some formats)."""
        try:
            cap = self._capture()
        except DeviceUnavailable as exc:
            self._report_lost(f"the video source {self.source} could not be replayed: {exc}")
            return False
        old, self._cap = self._cap, cap
        old.release()
        return True

    def _watchdog(self) -> None:
        limit = self.config.lost_after_s
        while not self._stop.wait(min(0.25, limit / 4)):
            if time.monotonic() - self._last_t > limit:
                self._report_lost(f"no picture from the {self.describe()} for {limit:g} s")
                return

    def _report_lost(self, reason: str) -> None:
        """Once: close the recording cleanly, stop the threads, tell the owner."""
        with self._rec_lock:
            with self._lock:
                if self._lost is not None or self._stop.is_set():
                    return
                self._lost = reason
                writer, self._writer = self._writer, None
            self._stop.set()
            log.warning("%s", reason)
            if writer is not None:
                try:
                    self._lost_recording = self._finish(writer)
                except Exception as exc:  # the owner hears about the loss either way
                    log.warning("closing the recording of the lost %s: %s", self.describe(),
                                exc)
        if self._on_lost is not None:
            self._on_lost(reason)
