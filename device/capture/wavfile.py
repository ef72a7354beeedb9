"""WAV files that survive a power cut: sizes in the header kept current while recording.

A RIFF/WAVE file says in its header how long it is. Python's :mod:`wave` writes those
sizes only on close, so a recording cut by a power failure is a file whose header says
"no audio". :class:`WavWriter` writes a header that is valid from the first byte (an empty
file), and after every ``flush_interval_s`` of audio makes the data durable and then
updates the two sizes: at any moment the file on disk is a valid WAV holding all but at
most the last interval. :func:`repair_wav` recovers what lies beyond the last update.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from types import TracebackType

#: Bytes before the samples in the files we write: RIFF header, ``fmt `` chunk, ``data`` header.
HEADER_BYTES = 44
_RIFF_SIZE_AT = 4
_DATA_SIZE_AT = 40
_PCM = 1
_MAX_SIZE = 0xFFFF_FFFF


class WavError(ValueError):
    """A file that is not a PCM WAV file this module can repair."""


def _header(sample_rate: int, channels: int, sample_width: int, data_bytes: int) -> bytes:
    block_align = channels * sample_width
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes + (data_bytes & 1), b"WAVE",
        b"fmt ", 16, _PCM, channels, sample_rate, sample_rate * block_align, block_align,
        sample_width * 8,
        b"data", data_bytes,
    )


class WavWriter:
    """PCM samples to a WAV file whose header is brought up to date as audio arrives.

    ``write`` takes whole frames (``channels * sample_width`` bytes each). Every
    ``flush_interval_s`` of audio the samples are flushed and fsynced, then the RIFF and
    data sizes are rewritten and fsynced: the data is on disk before the header claims it.
    """

    def __init__(self, path: Path, sample_rate: int, channels: int, sample_width: int = 2,
                 flush_interval_s: float = 1.0) -> None:
        if not 1 <= sample_width <= 4:
            raise ValueError(f"sample width {sample_width} bytes: expected 1 to 4")
        if channels < 1 or sample_rate < 1:
            raise ValueError(f"{channels} channels at {sample_rate} Hz: both must be positive")
        if flush_interval_s <= 0:
            raise ValueError(f"flush interval {flush_interval_s} s: must be positive")
        self.path = Path(path)
        self.sample_rate, self.channels, self.sample_width = sample_rate, channels, sample_width
        self.frame_bytes = channels * sample_width
        self._flush_every = max(1, round(flush_interval_s * sample_rate))
        self._frames = 0
        self._synced_frames = 0
        self._closed = False
        self._file = open(self.path, "wb")  # noqa: SIM115 - held open until close()
        try:
            self._file.write(_header(sample_rate, channels, sample_width, 0))
            self._sync()
        except BaseException:
            self._file.close()
            raise

    @property
    def frames(self) -> int:
        """Frames written so far (not all of them necessarily on disk yet)."""
        return self._frames

    @property
    def synced_frames(self) -> int:
        """Frames the header on disk accounts for."""
        return self._synced_frames

    @property
    def duration_s(self) -> float:
        return self._frames / self.sample_rate

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: write to a closed recording")
        if len(data) % self.frame_bytes:
            raise ValueError(f"{len(data)} bytes is not a whole number of"
                             f" {self.frame_bytes}-byte frames")
        frames = len(data) // self.frame_bytes
        if HEADER_BYTES + (self._frames + frames) * self.frame_bytes > _MAX_SIZE - 8:
            raise ValueError(f"{self.path}: a WAV file cannot hold more than 4 GiB")
        self._file.write(data)
        self._frames += frames
        if self._frames - self._synced_frames >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Make every frame written so far durable and counted in the header."""
        if self._closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._write_sizes(self._frames)
        self._sync()
        self._synced_frames = self._frames

    def close(self) -> int:
        """Finish the file (sizes final, padded to even length); returns the frames written."""
        if self._closed:
            return self._frames
        try:
            data_bytes = self._frames * self.frame_bytes
            if data_bytes & 1:
                self._file.write(b"\0")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._write_sizes(self._frames)
            self._sync()
            self._synced_frames = self._frames
        finally:
            self._closed = True
            self._file.close()
        return self._frames

    def abandon(self) -> None:
        """Close without writing anything more (after a write error): the header on disk
        still describes the audio synced before the error."""
        if self._closed:
            return
        self._closed = True
        # The buffered tail may fail to write as well: it is lost, the header on disk holds.
        with contextlib.suppress(OSError):
            self._file.close()

    def _write_sizes(self, frames: int) -> None:
        data_bytes = frames * self.frame_bytes
        fd = self._file.fileno()
        os.pwrite(fd, struct.pack("<I", 36 + data_bytes + (data_bytes & 1)), _RIFF_SIZE_AT)
        os.pwrite(fd, struct.pack("<I", data_bytes), _DATA_SIZE_AT)

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def repair_wav(path: Path) -> float | None:
    """Make a WAV file cut short (power cut) describe the samples it really holds.

    The data chunk is taken to run to the end of the file; a trailing partial frame is cut
    off and the RIFF and data sizes are rewritten. Returns the duration in seconds, or None
    when the file ends before its header does (nothing was recorded: delete it). Raises
    :class:`WavError` for a file that is not an uncompressed PCM WAV file.
    """
    path = Path(path)
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if (len(head) >= 4 and head[:4] != b"RIFF") or (len(head) == 12 and head[8:] != b"WAVE"):
            raise WavError(f"{path}: not a RIFF/WAVE file")
        fmt: tuple[int, int, int, int] | None = None
        offset = 12
        while True:
            f.seek(offset)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None  # cut inside the header: no sample was ever written
            chunk_id, chunk_size = struct.unpack("<4sI", chunk)
            if chunk_id == b"data":
                break
            if chunk_id == b"fmt ":
                body = f.read(16)
                if len(body) < 16:
                    return None
                tag, channels, rate, _, align, _ = struct.unpack("<HHIIHH", body)
                fmt = (tag, channels, rate, align)
            offset += 8 + chunk_size + (chunk_size & 1)
        if fmt is None:
            raise WavError(f"{path}: no 'fmt ' chunk before the samples")
        tag, channels, rate, align = fmt
        if tag != _PCM or channels < 1 or rate < 1 or align < 1:
            raise WavError(f"{path}: not uncompressed PCM (format {tag}, {channels} channels,"
                           f" {rate} Hz)")
        data_at = offset + 8
        data_bytes = min(max(0, size - data_at), _MAX_SIZE - data_at)
        data_bytes -= data_bytes % align
        f.truncate(data_at + data_bytes)
        f.seek(_RIFF_SIZE_AT)
        f.write(struct.pack("<I", data_at - 8 + data_bytes))
        f.seek(offset + 4)
        f.write(struct.pack("<I", data_bytes))
        f.flush()
        os.fsync(f.fileno())
    return data_bytes // align / rate
