"""An answer's video as a fragmented MP4, encoded by an ``ffmpeg`` process.

Raw BGR pictures go to ffmpeg's stdin; it encodes H.264 (libx264, ultrafast, one keyframe
a second) into a fragmented MP4 that gains a self-contained fragment every second, so a
power cut loses at most the last second and the file on disk stays playable. Pictures are
handed to ffmpeg by the writer's own thread through a bounded queue of about one second:
when the encoder falls behind, a picture that does not fit is dropped and counted, and the
camera never waits on the encoder.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from device.capture.base import Recorded
from device.errors import KioskError

log = logging.getLogger(__name__)

#: How long ffmpeg may take to write the last fragment once its input is closed.
CLOSE_TIMEOUT_S = 20.0


class RecordingError(KioskError):
    """A recording file could not be written; the message names the file and the cause."""

    status = 500
    code = "recording-failed"


def ffmpeg_command(path: Path, width: int, height: int, fps: float, bitrate_kbps: int
                   ) -> list[str]:
    """The ffmpeg invocation that turns raw BGR pictures on stdin into a fragmented MP4."""
    gop = str(max(1, round(fps)))
    return [
        "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
        "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-b:v", f"{bitrate_kbps}k", "-g", gop, "-keyint_min", gop,
        "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
        "-frag_duration", "1000000", "-flush_packets", "1",
        "-f", "mp4", str(path),
    ]


class Mp4Writer:
    """Encode pictures of one size into ``path``; :meth:`write` never blocks."""

    def __init__(self, path: Path, width: int, height: int, fps: float, bitrate_kbps: int,
                 queue_frames: int | None = None) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs an even picture size, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"frame rate must be positive, got {fps}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.fps = fps
        self._shape = (height, width, 3)
        self._frames = 0
        self._dropped = 0
        self._failed: str | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        size = queue_frames if queue_frames is not None else max(2, round(fps))
        self._queue: queue.Queue[npt.NDArray[np.uint8] | None] = queue.Queue(maxsize=size)
        try:
            self._proc = subprocess.Popen(
                ffmpeg_command(self.path, width, height, fps, bitrate_kbps),
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise RecordingError(f"cannot record {self.path}: ffmpeg is not installed"
                                 " (apt install ffmpeg)") from None
        assert self._proc.stdin is not None and self._proc.stderr is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._err_thread = threading.Thread(target=self._read_stderr, args=(self._proc.stderr,),
                                            name=f"ffmpeg-err {self.path.name}", daemon=True)
        self._thread = threading.Thread(target=self._run, name=f"mp4 {self.path.name}",
                                        daemon=True)
        self._err_thread.start()
        self._thread.start()

    @property
    def frames(self) -> int:
        """Pictures handed to the encoder so far."""
        return self._frames

    @property
    def dropped(self) -> int:
        """Pictures dropped because the encoder was behind (or had failed)."""
        return self._dropped

    @property
    def failed(self) -> str | None:
        """Why the encoder stopped taking pictures, once it has."""
        return self._failed

    def write(self, image: npt.NDArray[np.uint8]) -> bool:
        """Queue one picture; False when it was dropped (the queue is full or ffmpeg failed)."""
        if image.shape != self._shape:
            raise ValueError(f"{self.path.name}: picture is {image.shape[1]}x{image.shape[0]},"
                             f" the recording is {self.width}x{self.height}")
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path.name}: the recording is closed")
            if self._failed is not None:
                self._dropped += 1
                return False
            try:
                self._queue.put_nowait(image)
            except queue.Full:
                self._dropped += 1
                return False
        return True

    def close(self) -> Recorded:
        """Write what is queued, finish the file and return it; raise RecordingError naming
        the file and ffmpeg's last message when the encoder failed."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path.name}: the recording is already closed")
            self._closed = True
        self._queue.put(None)
        self._thread.join()
        with contextlib.suppress(OSError):  # ffmpeg already gone: its exit status says why
            self._stdin.close()
        try:
            code = self._proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
            self._failed = self._failed or f"ffmpeg did not finish within {CLOSE_TIMEOUT_S:g} s"
        self._err_thread.join(timeout=5)
        if code != 0 or self._failed is not None:
            last = self._stderr[-1] if self._stderr else self._failed or f"exit status {code}"
            raise RecordingError(f"recording {self.path} failed: {last}")
        return Recorded(path=self.path, kind="video", duration_s=self._frames / self.fps,
                        frames=self._frames)

    def _write_frame(self, data: bytes) -> None:
        self._stdin.write(data)

    def _run(self) -> None:
        while True:
            image = self._queue.get()
            if image is None:
                return
            if self._failed is not None:
                continue
            try:
                self._write_frame(image.tobytes())
            except OSError as exc:  # ffmpeg exited: keep draining, close() reports it
                self._failed = f"ffmpeg stopped taking pictures ({exc.strerror or exc})"
                log.warning("recording %s: %s", self.path, self._failed)
                continue
            self._frames += 1

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self._stderr.append(line)
        stream.close()
