"""What the capture service keeps while it runs: each device's slot (open or not, and why
not), the microphone it drives, and the answer being recorded now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from device.capture.base import AudioStats, LostCallback, Recorded
from device.capture.live import LiveTranscriber


class Microphone(Protocol):
    """The microphone as the service drives it (a PortAudio device, or a stand-in)."""

    def open(self, on_lost: LostCallback | None = None) -> None: ...

    def close(self) -> None: ...

    def start_recording(self, path: Any, on_block: Callable[[bytes], None] | None = None
                        ) -> None: ...

    def stop_recording(self) -> Recorded: ...

    def stats(self) -> AudioStats: ...


@dataclass
class DeviceSlot:
    """One device as the service sees it: open or not, and why not."""

    name: str  # "microphone" | "camera"
    required: bool
    disabled: bool
    problem: str | None = None  # None | "missing" | "lost" | "disabled"
    detail: str | None = None
    tried: float = -1e9

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class Active:
    """The answer being recorded now."""

    answer_id: str
    session_id: str
    language: str
    spoken: bool
    started: float
    audio: bool
    video: bool
    live: LiveTranscriber | None = None
    paths: dict[str, Any] = field(default_factory=dict)
