"""What every capture device offers the recorder, whatever its backend.

A device reports trouble in two ways: :class:`DeviceUnavailable` when it cannot be opened
(the message says what is missing and what to check), and the ``on_lost`` callback when it
stops delivering while open (unplugged, daemon gone, stream ended). Callbacks are made from
the device's own threads and must return at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from device.errors import KioskError

#: Called with a plain-language reason when an open device stops delivering.
LostCallback = Callable[[str], None]


class DeviceUnavailable(KioskError):
    """A microphone or camera cannot be opened; the message names it and what to check."""

    status = 503
    code = "capture-unavailable"


@dataclass(frozen=True)
class Recorded:
    """A closed recording file of one answer."""

    path: Path
    kind: str  # "audio" | "video"
    duration_s: float
    frames: int  # audio: sample frames; video: pictures


@dataclass(frozen=True)
class AudioStats:
    device: str | None
    open: bool
    level_dbfs: float | None
    blocks: int
    dropped_blocks: int  # blocks that did not fit the bounded buffer
    overflows: int  # PortAudio input-overflow flags
    underruns: int  # PortAudio input-underflow flags
    lost: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CameraStats:
    backend: str
    source: str
    open: bool
    frames: int
    dropped_frames: int  # frames the recording could not take in time
    fps: float | None  # measured over the last seconds
    lost: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LowresFrame:
    """The newest picture of the low-resolution stream (BGR), for analysis and preview."""

    image: npt.NDArray[np.uint8]
    t: float  # time.monotonic() when captured
    seq: int


class Camera(Protocol):
    backend: str
    source: str

    def open(self, on_lost: LostCallback | None = None) -> None: ...

    def close(self) -> None: ...

    def start_recording(self, path: Path) -> None: ...

    def stop_recording(self) -> Recorded: ...

    def latest(self) -> LowresFrame | None: ...

    def preview_jpeg(self) -> tuple[int, bytes] | None: ...

    def stats(self) -> CameraStats: ...
