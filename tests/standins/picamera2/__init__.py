"""Stand-in for the Raspberry Pi camera stack (picamera2).

Stand-in: no Pi camera or libcamera on this machine. It offers exactly the calls the kiosk's
picamera2 backend makes. Pictures come from the video file named by the environment
variable ``PICAMERA2_STANDIN_SOURCE`` (read with OpenCV, looped, paced to the configured
frame rate); the ``lores`` stream is YUV420 like the real one; the encoder writes a real
H.264 file through an ffmpeg process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from picamera2.encoders import H264Encoder
from picamera2.outputs import FfmpegOutput

Array = npt.NDArray[np.uint8]


class Picamera2:
    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        source = os.environ.get("PICAMERA2_STANDIN_SOURCE")
        return [{"Model": "stand-in", "Location": 2, "Rotation": 0, "Id": f"file:{source}",
                 "Num": 0}] if source else []

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= len(self.global_camera_info()):
            raise IndexError("list index out of range")  # what the real one raises
        self._source = os.environ["PICAMERA2_STANDIN_SOURCE"]
        self._config: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._lores: Array | None = None
        self._seq = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._ffmpeg: subprocess.Popen[bytes] | None = None

    def create_video_configuration(self, main: dict[str, Any], lores: dict[str, Any],
                                   controls: dict[str, Any]) -> dict[str, Any]:
        return {"main": dict(main), "lores": dict(lores), "controls": dict(controls)}

    def configure(self, config: dict[str, Any]) -> None:
        self._config = config

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cap = cv2.VideoCapture(self._source)
        period = 1.0 / float(self._config["controls"].get("FrameRate", 30))
        main_size = tuple(self._config["main"]["size"])
        lores_size = tuple(self._config["lores"]["size"])
        due = time.monotonic()
        while self._running:
            ok, frame = cap.read()
            if not ok:
                cap.release()
                cap = cv2.VideoCapture(self._source)
                continue
            due += period
            time.sleep(max(0.0, due - time.monotonic()))
            small = cv2.resize(frame, lores_size, interpolation=cv2.INTER_AREA)
            with self._cond:
                self._lores = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2YUV_I420), np.uint8)
                self._seq += 1
                self._cond.notify_all()
                if self._ffmpeg is not None and self._ffmpeg.stdin is not None:
                    self._ffmpeg.stdin.write(cv2.resize(frame, main_size).tobytes())
        cap.release()

    def capture_array(self, name: str = "main", wait: float | None = None) -> Array:
        assert name == "lores", "the stand-in only serves the lores stream"
        with self._cond:
            seq = self._seq
            if not self._cond.wait_for(lambda: self._seq != seq, timeout=wait):
                raise TimeoutError("stand-in camera: no frame in time")
            assert self._lores is not None
            return self._lores

    def start_encoder(self, encoder: H264Encoder, output: FfmpegOutput) -> None:
        w, h = self._config["main"]["size"]
        fps = self._config["controls"].get("FrameRate", 30)
        command = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                   "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                   "-preset", "ultrafast", "-b:v", str(encoder.bitrate or 2_000_000),
                   "-g", str(encoder.iperiod or 30), *output.output_filename.split()]
        with self._cond:
            self._ffmpeg = subprocess.Popen(command, stdin=subprocess.PIPE)

    def stop_encoder(self) -> None:
        with self._cond:
            proc, self._ffmpeg = self._ffmpeg, None
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            proc.wait(timeout=20)

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=5)

    def close(self) -> None:
        self.stop_encoder()
        self.stop()
