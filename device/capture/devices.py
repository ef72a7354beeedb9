"""The microphones PortAudio offers (``kiosk devices``), and PortAudio started quietly.

Starting PortAudio probes every ALSA device and the JACK server, and both libraries print
what they could not find straight to stderr — dozens of lines on a box with one USB
microphone. :func:`start_portaudio` routes ALSA's messages to a no-op handler and sends
whatever else is printed during start-up to the debug log, so the console stays readable.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from device.capture.base import DeviceUnavailable

log = logging.getLogger(__name__)

_quiet_lock = threading.Lock()
_alsa_handler: list[Any] = []  # the installed ctypes callback, kept alive for ALSA


@dataclass(frozen=True)
class AudioDevice:
    """An input device as PortAudio lists it."""

    index: int
    name: str
    channels: int  # most input channels
    default_rate: float  # Hz
    is_default: bool  # the host's default input

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        return f"{self.index} '{self.name}'" + (" (default)" if self.is_default else "")


def _pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError as exc:  # the PortAudio library or the binding is missing
        raise DeviceUnavailable(
            f"the microphone cannot be used: PyAudio is not available ({exc}); install"
            " Debian's portaudio19-dev (make system-packages) and reinstall the project") from exc
    return pyaudio


def _silence_alsa() -> None:
    """Install a no-op ALSA error handler, once per process (ALSA's default prints)."""
    if _alsa_handler:
        return
    name = ctypes.util.find_library("asound")
    if name is None:
        _alsa_handler.append(None)  # no ALSA here (not Linux): nothing prints
        return
    try:
        lib = ctypes.CDLL(name)
        # void handler(const char *file, int line, const char *function, int err,
        #              const char *fmt, ...): the variadic tail is left unread.
        kind = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_int, ctypes.c_char_p)

        def ignore(file: bytes | None, line: int, function: bytes | None, err: int,
                   fmt: bytes | None) -> None:
            return None

        handler = kind(ignore)
        lib.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError) as exc:
        log.debug("ALSA error handler not installed: %s", exc)
        _alsa_handler.append(None)
        return
    _alsa_handler.append(handler)


@contextlib.contextmanager
def stderr_to_debug_log(what: str) -> Iterator[None]:
    """Send what native libraries print on file descriptor 2 meanwhile to the debug log.

    The descriptor is the whole process's: what other threads write to stderr in these
    few milliseconds goes to the debug log as well.
    """
    with _quiet_lock, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(65536).decode("utf-8", "replace").strip()
            if text:
                log.debug("%s printed %d lines: %s", what, text.count("\n") + 1, text)


def start_portaudio() -> Any:
    """A started ``pyaudio.PyAudio``, without the start-up noise on stderr.

    Sets ``JACK_NO_START_SERVER=1`` unless set: probing must not launch a JACK server.
    """
    pyaudio = _pyaudio()
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    _silence_alsa()
    with stderr_to_debug_log("PortAudio start-up"):
        return pyaudio.PyAudio()


@contextlib.contextmanager
def portaudio() -> Iterator[Any]:
    """A started PortAudio for the duration of the block."""
    pa = start_portaudio()
    try:
        yield pa
    finally:
        pa.terminate()


def release_portaudio(stream: Any, pa: Any, healthy: bool) -> None:
    """Close a stream, then terminate its PortAudio. A healthy stream is stopped first (its
    callback finishes); any other is closed outright, which aborts it."""
    if stream is not None:
        if healthy:
            try:
                stream.stop_stream()
            except OSError as exc:  # broke just now: it is thrown away anyway
                log.debug("stopping the microphone stream: %s", exc)
        try:
            stream.close()
        except OSError as exc:
            log.debug("closing the microphone stream: %s", exc)
    if pa is not None:
        pa.terminate()


def input_devices(pa: Any) -> list[AudioDevice]:
    """The devices with at least one input channel, in PortAudio's order."""
    try:
        default = int(pa.get_default_input_device_info()["index"])
    except OSError:  # PortAudio: "No Default Input Device Available"
        default = -1
    out = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        channels = int(info.get("maxInputChannels", 0))
        if channels > 0:
            out.append(AudioDevice(index=index, name=str(info["name"]), channels=channels,
                                   default_rate=float(info["defaultSampleRate"]),
                                   is_default=index == default))
    return out


def list_microphones() -> list[AudioDevice]:
    """Every input device PortAudio can open now (for ``kiosk devices``).

    PortAudio looks for devices when it is first started in a process; while a stream of
    this process keeps it started (an open :class:`~device.capture.audio.Microphone`),
    the list is the one found then.
    """
    with portaudio() as pa:
        return input_devices(pa)


def describe(devices: list[AudioDevice]) -> str:
    if not devices:
        return ("no input devices at all (is the microphone plugged in, and the sound"
                " server running?)")
    return "input devices: " + ", ".join(d.label() for d in devices)


def choose_input(devices: list[AudioDevice], wanted: str) -> AudioDevice:
    """The device ``wanted`` names: a PortAudio index, "default", or part of a device name
    (case ignored; an exact name wins, then the first device whose name contains it)."""
    asked = wanted.strip()
    hint = "see `kiosk devices`, set [capture] microphone"
    if asked.lower() == "none":
        raise DeviceUnavailable(
            "no microphone is configured ([capture] microphone = \"none\"); " + hint)
    if not devices:
        raise DeviceUnavailable(f"microphone '{asked}' cannot be opened: {describe(devices)}")
    found: AudioDevice | None = None
    if asked.lstrip("-").isdigit():
        found = next((d for d in devices if d.index == int(asked)), None)
    elif asked.lower() == "default":
        found = next((d for d in devices if d.is_default), None)
    else:
        key = asked.lower()
        exact = [d for d in devices if d.name.lower() == key]
        partial = [d for d in devices if key in d.name.lower()]
        matches = exact or partial
        found = matches[0] if matches else None
        if not exact and len(partial) > 1:
            log.info("microphone '%s' matches %s; using %s", asked,
                     ", ".join(d.label() for d in partial), partial[0].label())
    if found is None:
        raise DeviceUnavailable(
            f"microphone '{asked}' not found among the input devices; {describe(devices)}"
            f" ({hint})")
    return found
