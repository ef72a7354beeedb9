"""The microphone through PortAudio: a callback that only queues, a thread that does the rest.

PortAudio calls :meth:`Microphone._on_audio` from its own real-time thread for every block.
That callback copies nothing more than PortAudio already copied, appends the block to a
bounded buffer (or counts it dropped when the buffer is full: it never waits) and counts
the overflow/underflow flags. A consumer thread drains the buffer: it keeps the input
level, writes recorded blocks to a :class:`~device.capture.wavfile.WavWriter` and hands
them to the live recogniser, and watches for a device that has stopped delivering.

Every block gets a sequence number as it arrives. A recording takes exactly the blocks
numbered from its ``start_recording`` call up to its ``stop_recording`` call, so nothing
heard before the candidate started an answer is ever written. A block dropped because the
buffer was full is written as silence of the same length, so the file keeps the timeline
of the answer (and stays in step with the video).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.capture.base import AudioStats, DeviceUnavailable, LostCallback, Recorded
from device.capture.devices import (
    AudioDevice,
    choose_input,
    describe,
    input_devices,
    release_portaudio,
    start_portaudio,
    stderr_to_debug_log,
)
from device.capture.wavfile import WavWriter
from device.config import CaptureConfig

log = logging.getLogger(__name__)

BlockConsumer = Callable[[bytes], None]
#: The input level is measured over about this much of the latest audio.
LEVEL_WINDOW_S = 0.1
#: Reported for digital silence instead of minus infinity (which JSON cannot carry).
LEVEL_FLOOR_DBFS = -120.0
#: A device may take this much longer than ``lost_after_s`` to deliver its first block
#: (a sound server's idle source starts in large steps).
STARTUP_GRACE_S = 3.0
#: How long close() waits for PortAudio to let a healthy device go (a lost one: a fifth).
CLOSE_WAIT_S = 10.0
_SAMPLE_WIDTH = 2  # paInt16
_PA_CONTINUE, _PA_ABORT = 0, 2  # pyaudio.paContinue, pyaudio.paAbort
_PA_INPUT_UNDERFLOW, _PA_INPUT_OVERFLOW = 1, 2  # pyaudio.paInputUnderflow, paInputOverflow


def _level_dbfs(data: bytes) -> float:
    """RMS level of int16 samples in dBFS (0 dBFS: a full-scale square wave), floored."""
    x = np.frombuffer(data, dtype=np.int16).astype(np.float32)
    mean_square = float(np.dot(x, x)) / max(1, len(x))
    if mean_square <= 0:
        return LEVEL_FLOOR_DBFS
    return max(LEVEL_FLOOR_DBFS, 10 * math.log10(mean_square / 32768.0**2))


@dataclass
class _Take:
    """One recording in progress: which blocks belong to it and where they go."""

    path: Path
    writer: WavWriter
    first_seq: int
    on_block: BlockConsumer | None
    next_seq: int = 0
    stop_seq: int | None = None
    consumer_failed: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: Recorded | None = None


class Microphone:
    """One input device, opened once per session and recorded once per answer."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self.rate = config.sample_rate
        self.channels = config.channels
        self.block_frames = max(1, config.sample_rate * config.block_ms // 1000)
        self.block_bytes = self.block_frames * self.channels * _SAMPLE_WIDTH
        self.capacity = max(1, math.floor(config.buffer_s * 1000 / config.block_ms))
        self.device: AudioDevice | None = None
        self._pa: Any = None
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._on_lost: LostCallback | None = None
        # Written by the PortAudio callback only (single writer; reads elsewhere are atomic).
        self._buffer: collections.deque[tuple[int, bytes]] = collections.deque()
        self._captured = 0
        self._dropped = 0
        self._overflows = 0
        self._underruns = 0
        self._halt = False
        self._ready = threading.Event()
        # Owned by the consumer thread.
        self._recent: collections.deque[bytes] = collections.deque(
            maxlen=max(1, math.ceil(LEVEL_WINDOW_S * 1000 / config.block_ms)))
        self._level: float | None = None
        self._closing = False
        self._lost: str | None = None
        self._take: _Take | None = None
        self._take_lock = threading.Lock()

    # -- opening and closing --------------------------------------------------------------

    def open(self, on_lost: LostCallback | None = None) -> None:
        """Open the configured device and start capturing (not recording).

        Raises :class:`DeviceUnavailable` naming the device asked for and the input
        devices there are. Opening again after the device was lost starts afresh.
        """
        if self._stream is not None and self._lost is None:
            if on_lost is not None:
                self._on_lost = on_lost
            return
        self.close()
        asked = self.config.microphone
        if asked.strip().lower() == "none":
            choose_input([], asked)  # raises: no microphone is configured
        pa = start_portaudio()
        try:
            devices = input_devices(pa)
            device = choose_input(devices, asked)
            stream = self._open_stream(pa, device, asked, devices)
        except BaseException:
            pa.terminate()
            raise
        self._pa, self._stream, self.device = pa, stream, device
        self._on_lost = on_lost
        self._closing = False
        self._lost = None
        self._take = None
        self._thread = threading.Thread(target=self._consume, name=f"microphone-{device.index}",
                                        daemon=True)
        self._thread.start()
        log.info("microphone %s open: %d Hz, %d channel(s), %d ms blocks", device.label(),
                 self.rate, self.channels, self.config.block_ms)

    def _open_stream(self, pa: Any, device: AudioDevice, asked: str,
                     devices: list[AudioDevice]) -> Any:
        fmt = pa.get_format_from_width(_SAMPLE_WIDTH)
        where = f"microphone '{asked}' ({device.label()})"
        try:
            pa.is_format_supported(self.rate, input_device=device.index,
                                   input_channels=self.channels, input_format=fmt)
        except ValueError as exc:
            raise DeviceUnavailable(
                f"{where} does not take {self.rate} Hz, {self.channels} channel(s), 16-bit:"
                f" {exc}; {describe(devices)}") from exc
        self._reset_counters()
        try:
            with stderr_to_debug_log("PortAudio stream open"):
                return pa.open(format=fmt, channels=self.channels, rate=self.rate, input=True,
                               input_device_index=device.index,
                               frames_per_buffer=self.block_frames,
                               stream_callback=self._on_audio)
        except (OSError, ValueError) as exc:
            raise DeviceUnavailable(f"{where} cannot be opened: {exc}; {describe(devices)}") \
                from exc

    def _reset_counters(self) -> None:
        self._buffer = collections.deque()
        self._captured = self._dropped = self._overflows = self._underruns = 0
        self._halt = False
        self._level = None
        self._recent.clear()

    def close(self) -> None:
        """Stop capturing (a recording in progress is finished first) and let the device go."""
        if self._take is not None and self._thread is not None and self._thread.is_alive():
            self.stop_recording()
        self._closing = True
        self._ready.set()
        if self._thread is not None:
            if self._thread is not threading.current_thread():  # not from on_lost itself
                self._thread.join(timeout=10)
            self._thread = None
        self._finish_take()  # the consumer had no chance to (it was stuck or gone)
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        if stream is None and pa is None:
            return
        self._halt = True
        # PortAudio may wait on a device or sound server that hangs: let it go in a thread
        # of its own, and give up waiting on it rather than hang the kiosk.
        closer = threading.Thread(target=release_portaudio, args=(stream, pa, self._lost is None),
                                  name="microphone-close", daemon=True)
        closer.start()
        wait_s = CLOSE_WAIT_S if self._lost is None else CLOSE_WAIT_S / 5
        closer.join(wait_s)
        if closer.is_alive():
            log.warning("the microphone '%s' did not close in %.0f s (the device or the sound"
                        " server hangs); it is left to close in the background",
                        self._name(), wait_s)

    # -- recording ------------------------------------------------------------------------

    def start_recording(self, path: Path, on_block: BlockConsumer | None = None) -> None:
        """Record every block that arrives from now on to a WAV file at ``path``.

        ``on_block`` gets the same blocks (int16 bytes), from the consumer thread.
        """
        if self._lost is not None:
            raise DeviceUnavailable(self._lost)
        if self._stream is None:
            raise DeviceUnavailable(f"microphone '{self.config.microphone}' is not open")
        if self._take is not None:
            raise RuntimeError(f"already recording to {self._take.path}")
        writer = WavWriter(path, self.rate, self.channels, _SAMPLE_WIDTH)
        with self._take_lock:
            first = self._captured
            self._take = _Take(path=Path(path), writer=writer, first_seq=first,
                               on_block=on_block, next_seq=first)
        self._ready.set()

    def stop_recording(self) -> Recorded:
        """Finish the recording with every block captured up to this call."""
        take = self._take
        if take is None:
            raise RuntimeError("not recording")
        take.stop_seq = self._captured
        self._ready.set()
        wait_s = self.config.buffer_s + self.config.lost_after_s + 5.0
        if not take.done.wait(wait_s):
            log.warning("the microphone's consumer did not finish %s in %.0f s; closing it"
                        " with what was written", take.path, wait_s)
            self._finish_take()
        self._take = None
        if take.result is None:
            raise RuntimeError(f"the recording {take.path} was not finished")
        return take.result

    # -- state ----------------------------------------------------------------------------

    @property
    def level_dbfs(self) -> float | None:
        """RMS level of the latest ~100 ms (dBFS), None before the first block."""
        return self._level

    def stats(self) -> AudioStats:
        return AudioStats(
            device=self.device.name if self.device else None,
            open=self._stream is not None and self._lost is None, level_dbfs=self._level,
            blocks=self._captured, dropped_blocks=self._dropped, overflows=self._overflows,
            underruns=self._underruns, lost=self._lost)

    # -- the PortAudio callback: queue and count, nothing else ----------------------------

    def _on_audio(self, data: bytes | None, frames: int, time_info: Any,
                  status: int) -> tuple[None, int]:
        if status:
            if status & _PA_INPUT_OVERFLOW:
                self._overflows += 1
            if status & _PA_INPUT_UNDERFLOW:
                self._underruns += 1
        seq = self._captured
        if data is not None and len(self._buffer) < self.capacity:
            self._buffer.append((seq, data))
        else:
            self._dropped += 1
        self._captured = seq + 1  # after the append: see _consume
        if not self._ready.is_set():
            self._ready.set()
        return None, _PA_ABORT if self._halt else _PA_CONTINUE

    # -- the consumer thread --------------------------------------------------------------

    def _consume(self) -> None:
        tick = min(0.1, self.config.lost_after_s / 4)
        grace_s = STARTUP_GRACE_S
        last_seen, last_progress = -1, time.monotonic()
        while not self._closing:
            self._ready.wait(tick)
            self._ready.clear()
            # Every block numbered below `seen` is in the buffer or was dropped: the
            # callback appends before it counts.
            seen = self._captured
            self._drain()
            take = self._take
            if take is not None and take.stop_seq is not None and seen >= take.stop_seq:
                self._finish_take()
            now = time.monotonic()
            if seen != last_seen:
                last_seen, last_progress = seen, now
            if self._closing or self._lost is not None:
                return
            why = None
            if not self._stream_active():
                why = "its stream ended: unplugged, or the sound server stopped"
            elif now - last_progress > self.config.lost_after_s + (0 if seen else grace_s):
                why = (f"nothing arrived for {self.config.lost_after_s:g} s" if seen else
                       f"nothing arrived in {self.config.lost_after_s + grace_s:g} s after"
                       " opening it")
            if why is not None:
                self._lose(f"the microphone '{self._name()}' stopped delivering sound ({why})")
                return

    def _stream_active(self) -> bool:
        stream = self._stream
        try:
            return stream is not None and bool(stream.is_active())
        except OSError:
            return False

    def _drain(self) -> None:
        buffer, fresh = self._buffer, False
        while buffer:
            seq, data = buffer.popleft()
            self._recent.append(data)
            fresh = True
            take = self._take
            if take is not None:
                self._record(take, seq, data)
        if fresh:
            self._level = _level_dbfs(b"".join(self._recent))

    def _record(self, take: _Take, seq: int, data: bytes) -> None:
        # Decided under the lock that start_recording takes to number its first block, so a
        # block is in the file exactly when it arrived after that call.
        with self._take_lock:
            if seq < take.first_seq or take.done.is_set():
                return  # heard before the answer started: never written
            if take.stop_seq is not None and seq >= take.stop_seq:
                stop = True
            else:
                stop = False
                try:
                    if seq > take.next_seq:  # dropped while the buffer was full: keep the timeline
                        silence = bytes(self.block_bytes)
                        for _ in range(seq - take.next_seq):
                            take.writer.write(silence)
                    take.writer.write(data)
                except (OSError, ValueError) as exc:
                    failure: Exception | None = exc
                else:
                    failure = None
                    take.next_seq = seq + 1
        if stop:
            self._finish_take()
            return
        if failure is not None:
            self._lose(f"the recording {take.path} from the microphone '{self._name()}' could"
                       f" not be written: {failure}", failed=True)
            return
        if take.on_block is not None:
            try:
                take.on_block(data)
            except Exception:
                if not take.consumer_failed:
                    take.consumer_failed = True
                    log.exception("the live consumer of %s failed; recording goes on without"
                                  " it (logged once)", take.path)

    def _finish_take(self, failed: bool = False) -> None:
        with self._take_lock:
            take = self._take
            if take is None or take.done.is_set():
                return
            writer = take.writer
            if failed:
                writer.abandon()
                frames = writer.synced_frames
            else:
                try:
                    frames = writer.close()
                except OSError as exc:
                    log.error("finishing the recording %s: %s", take.path, exc)
                    writer.abandon()
                    frames = writer.synced_frames
            take.result = Recorded(path=take.path, kind="audio", duration_s=frames / self.rate,
                                   frames=frames)
            take.done.set()

    def _name(self) -> str:
        return self.device.name if self.device else self.config.microphone

    def _lose(self, reason: str, failed: bool = False) -> None:
        """Give up on the device: finish the recording, say why once, stop the stream."""
        if self._lost is not None:
            return
        self._halt = True
        self._finish_take(failed=failed)
        self._lost = reason
        log.error("%s", reason)
        if self._on_lost is not None:
            try:
                self._on_lost(reason)
            except Exception:
                log.exception("the handler of a lost microphone failed")
