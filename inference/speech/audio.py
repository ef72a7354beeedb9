"""Audio in: WAV reading with validation, mono int16, a streaming 16 kHz resampler, levels.

Everything here works on numpy arrays of int16 samples (full scale 32768). The recogniser
wants 16 kHz mono 16-bit PCM; :class:`Resampler` converts any rate from 8 kHz to 192 kHz to
that, one chunk at a time, and gives the same samples whether it is fed one chunk or many.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.errors import InferenceError

TARGET_RATE = 16_000
MIN_RATE = 8_000
MAX_RATE = 192_000
MAX_CHANNELS = 8
SILENCE_DBFS = -40.0
"""A 30 ms frame louder than this (AC RMS, dBFS) counts as sound; quieter is silence."""
FRAME_S = 0.03

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]


class AudioError(InferenceError, ValueError):
    """Audio the pipeline cannot use; the message names the file (when there is one) and why."""


@dataclass(frozen=True)
class AudioInfo:
    """What a WAV file held and what was done to it on reading."""

    path: str
    sample_rate: int
    channels: int
    sample_width: int
    frames: int
    duration_s: float
    downmixed: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Audio:
    samples: Int16Array
    """Mono int16 samples at ``sample_rate``."""
    sample_rate: int
    info: AudioInfo


def read_wav(path: str | Path) -> Audio:
    """Read a 16-bit PCM WAV file as mono int16; multi-channel audio is averaged to mono.

    Raises :class:`AudioError` for a file that is not a WAV, is truncated, holds no frames,
    has a sample width other than 16 bits, a channel count over 8 or a rate out of range.
    """
    name = str(path)
    try:
        with wave.open(name, "rb") as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            rate, frames = wav.getframerate(), wav.getnframes()
            data = wav.readframes(frames)
    except (wave.Error, EOFError) as exc:
        if "unknown format" in str(exc):
            raise AudioError(
                f"{name}: unsupported WAV encoding ({exc}); only 16-bit integer PCM is supported"
            ) from exc
        why = str(exc) or "the header is truncated"
        raise AudioError(f"{name}: not a readable WAV file: {why}") from exc
    except OSError as exc:
        raise AudioError(f"{name}: cannot read the file: {exc.strerror or exc}") from exc
    if width != 2:
        bits = f"{width * 8}-bit samples" if width else "no sample width"
        raise AudioError(f"{name}: unsupported sample width: {bits}; only 16-bit PCM is supported")
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioError(f"{name}: unsupported channel count {channels} (1-{MAX_CHANNELS})")
    check_rate(rate, name)
    if frames == 0:
        raise AudioError(f"{name}: the file holds 0 audio frames")
    frame_bytes = channels * width
    if len(data) < frames * frame_bytes:
        raise AudioError(
            f"{name}: truncated: the header declares {frames} frames, "
            f"the file holds {len(data) // frame_bytes}"
        )
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    notes: list[str] = []
    if channels > 1:
        notes.append(f"{channels} channels averaged to mono")
    info = AudioInfo(
        path=name,
        sample_rate=rate,
        channels=channels,
        sample_width=width,
        frames=frames,
        duration_s=frames / rate,
        downmixed=channels > 1,
        notes=tuple(notes),
    )
    return Audio(samples=to_mono_int16(samples), sample_rate=rate, info=info)


def check_rate(rate: int, where: str = "audio") -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{where}: unsupported sample rate {rate} Hz ({MIN_RATE}-{MAX_RATE})")


def to_mono_int16(data: bytes | npt.NDArray[np.generic]) -> Int16Array:
    """Samples as a 1-D int16 array.

    ``bytes`` are little-endian 16-bit mono PCM. Arrays are 1-D (mono) or 2-D
    ``(frames, channels)`` (averaged to mono); int16 as is, floats in [-1, 1] scaled.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) % 2:
            raise AudioError(f"audio: {len(raw)} bytes is not a whole number of 16-bit samples")
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise AudioError(
            f"audio: expected a 1-D or (frames, channels) array, got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(np.rint(arr * 32767.0), -32768, 32767)
    elif arr.dtype != np.int16:
        raise AudioError(f"audio: unsupported sample type {arr.dtype}; use int16 or float")
    if arr.ndim == 2:
        arr = arr[:, 0] if arr.shape[1] == 1 else np.rint(arr.astype(np.float64).mean(axis=1))
    return np.ascontiguousarray(arr, dtype=np.int16)


def _kernel_table(phases: int, cutoff: float, half: int, beta: float = 8.6) -> FloatArray:
    """Windowed-sinc weights: row ``p`` weighs the ``2 * half`` inputs around the output
    whose position is ``p / phases`` of the way between two input samples."""
    frac = np.arange(phases, dtype=np.float64)[:, None] / phases
    offsets = frac + (half - 1) - np.arange(2 * half, dtype=np.float64)[None, :]
    inside = np.clip(1.0 - np.square(offsets / half), 0.0, 1.0)
    window = np.i0(beta * np.sqrt(inside)) / np.i0(beta)  # Kaiser, at any offset
    table = cutoff * np.sinc(cutoff * offsets) * window
    sums = table.sum(axis=1, keepdims=True)
    return np.asarray(table / sums, dtype=np.float64)


class Resampler:
    """Streaming band-limited resampler from ``in_rate`` to ``out_rate`` (16 kHz by default).

    A polyphase windowed-sinc filter (Kaiser, 16 zero crossings each side); when downsampling
    its cutoff is 90 % of the output Nyquist frequency, so content above it is removed
    rather than aliased. Output sample ``n`` lies at input time ``n * in_rate / out_rate``
    (no delay, timestamps stay aligned). With ``up / down`` the reduced rate ratio, every
    ``down`` inputs give ``up`` outputs through an ``up x (down + taps)`` matrix, so a chunk
    costs a few banded products (``einsum``, which stays on the calling thread: BLAS worker
    threads would compete with the recogniser for the CPU). The weights are integers (scaled
    by 2^16) held in float64, so every product and sum is exact whatever the order of
    addition: any chunking gives exactly the same samples as one call. State is kept between
    :meth:`process` calls; :meth:`flush` returns the tail.
    """

    ZERO_CROSSINGS = 16
    ROLLOFF = 0.9
    SCALE = 65536.0
    MAX_MATRIX = 1_000_000  # entries (8 MB); odd rate pairs with a longer period use a gather

    def __init__(self, in_rate: int, out_rate: int = TARGET_RATE) -> None:
        check_rate(in_rate, "resampler input")
        self.in_rate, self.out_rate = in_rate, out_rate
        g = math.gcd(in_rate, out_rate)
        self._up, self._down = out_rate // g, in_rate // g
        self.identity = in_rate == out_rate
        cutoff = min(1.0, out_rate / in_rate) * (self.ROLLOFF if out_rate < in_rate else 0.95)
        half = self._half = math.ceil(self.ZERO_CROSSINGS / cutoff)
        self._width = self._down + 2 * half - 1  # inputs one period of outputs reads
        table = np.rint(_kernel_table(self._up, cutoff, half) * self.SCALE)
        r = np.arange(self._up)
        table[r, np.argmax(table, axis=1)] += self.SCALE - table.sum(axis=1)  # DC gain 1
        self._offset, self._phase = (r * self._down) // self._up, (r * self._down) % self._up
        self._table = table
        # Row r of the period matrix is non-zero in columns offset[r] .. offset[r] + 2*half
        # only; bands of consecutive rows keep the product to those columns.
        self._bands: list[tuple[int, int, int, int, FloatArray]] = []
        if self._up * self._width <= self.MAX_MATRIX:
            m = np.zeros((self._up, self._width), dtype=np.float64)
            cols = self._offset[:, None] + np.arange(2 * half)[None, :]
            m[r[:, None], cols] = table[self._phase]
            bands = max(1, min(self._up, self._down // (2 * half)))
            edges = [int(e) for e in np.linspace(0, self._up, bands + 1)]
            for r0, r1 in pairwise(edges):
                c0, c1 = int(self._offset[r0]), int(self._offset[r1 - 1]) + 2 * half
                self._bands.append((r0, r1, c0, c1, np.ascontiguousarray(m[r0:r1, c0:c1].T)))
        self._reset()

    def _reset(self) -> None:
        self._buf: FloatArray = np.zeros(self._half - 1, dtype=np.float64)
        self._base = 1 - self._half  # absolute input index of self._buf[0]
        self._received = 0  # input samples seen
        self._period = 0  # next period of outputs to compute

    def process(self, chunk: bytes | npt.NDArray[np.generic]) -> Int16Array:
        samples = to_mono_int16(chunk)
        self._received += len(samples)
        if self.identity:
            return samples
        self._buf = np.concatenate([self._buf, samples.astype(np.float64)])
        # period q reads inputs q*down - half + 1 .. q*down + down + half - 1
        ready = self._received - self._down - self._half
        return self._emit(ready // self._down + 1 if ready >= 0 else 0)

    def flush(self) -> Int16Array:
        """The remaining output, as if the input were followed by silence; then reset."""
        if self.identity:
            self._reset()
            return np.zeros(0, dtype=np.int16)
        total = -(-self._received * self._up // self._down)  # ceil: outputs owed in all
        done = self._period * self._up
        periods = -(-total // self._up)
        needed = (periods - 1) * self._down + self._down + self._half - self._base
        pad = max(0, needed - len(self._buf))
        self._buf = np.concatenate([self._buf, np.zeros(pad, dtype=np.float64)])
        out = self._emit(periods)[: max(0, total - done)]
        self._reset()
        return out

    def _emit(self, periods: int) -> Int16Array:
        count = periods - self._period
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        start = self._period * self._down - self._half + 1 - self._base
        span = self._buf[start : start + (count - 1) * self._down + self._width]
        windows = np.lib.stride_tricks.sliding_window_view(span, self._width)[:: self._down]
        out: FloatArray
        if self._bands:
            periods_out = np.empty((len(windows), self._up), dtype=np.float64)
            for r0, r1, c0, c1, band in self._bands:
                periods_out[:, r0:r1] = np.einsum("ij,jk->ik", windows[:, c0:c1], band)
            out = periods_out.ravel()
        else:  # gather: each output reads its own 2 * half inputs
            cols = self._offset[:, None] + np.arange(2 * self._half)[None, :]
            out = np.concatenate(
                [np.einsum("ij,ij->i", w[cols], self._table[self._phase]) for w in windows]
            )
        self._period = periods
        drop = self._period * self._down - self._half + 1 - self._base
        self._buf = self._buf[drop:]
        self._base += drop
        return np.clip(np.rint(out / self.SCALE), -32768, 32767).astype(np.int16)


def resample(
    samples: npt.NDArray[np.generic], in_rate: int, out_rate: int = TARGET_RATE
) -> Int16Array:
    """One-shot :class:`Resampler`: ``ceil(len * out_rate / in_rate)`` samples."""
    r = Resampler(in_rate, out_rate)
    head = r.process(samples)
    return np.concatenate([head, r.flush()])


def rms_dbfs(samples: npt.NDArray[np.generic]) -> float:
    """RMS level in dBFS (0 dBFS = a full-scale square wave); -inf for no signal."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(np.square(x))))
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


def frame_levels(
    samples: npt.NDArray[np.generic], sample_rate: int, frame_s: float = FRAME_S
) -> FloatArray:
    """AC RMS level (frame mean removed, so a DC offset is not sound) of each whole frame."""
    size = max(1, round(sample_rate * frame_s))
    x = np.asarray(samples, dtype=np.float64)
    count = len(x) // size
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = x[: count * size].reshape(count, size)
    ac = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(np.square(ac), axis=1))
    with np.errstate(divide="ignore"):
        return np.asarray(20 * np.log10(rms / 32768.0), dtype=np.float64)


def is_silent(
    samples: npt.NDArray[np.generic], sample_rate: int, threshold_dbfs: float = SILENCE_DBFS
) -> bool:
    """True when no frame of the audio is louder than ``threshold_dbfs``."""
    meter = LevelMeter(sample_rate, threshold_dbfs)
    meter.update(samples)
    meter.finish()
    return meter.silent


class LevelMeter:
    """Streaming frame levels: the latest and loudest, and how many frames were sound."""

    def __init__(
        self, sample_rate: int, threshold_dbfs: float = SILENCE_DBFS, frame_s: float = FRAME_S
    ) -> None:
        self.sample_rate, self.threshold_dbfs, self.frame_s = sample_rate, threshold_dbfs, frame_s
        self._size = max(1, round(sample_rate * frame_s))
        self._rest: Int16Array = np.zeros(0, dtype=np.int16)
        self.frames = 0
        self.loud_frames = 0
        self.peak_dbfs = -math.inf
        self.last_dbfs = -math.inf

    def update(self, samples: npt.NDArray[np.generic]) -> float:
        """Add samples; returns the level of the latest whole frame (dBFS)."""
        x = np.concatenate([self._rest, np.asarray(samples, dtype=np.int16)])
        whole = len(x) // self._size * self._size
        self._rest = x[whole:]
        self._count(frame_levels(x[:whole], self.sample_rate, self.frame_s))
        return self.last_dbfs

    def finish(self) -> None:
        """Count a last partial frame (at least a third of a frame long)."""
        if len(self._rest) >= self._size // 3:
            self._count(
                frame_levels(self._rest, self.sample_rate, len(self._rest) / self.sample_rate)
            )
        self._rest = np.zeros(0, dtype=np.int16)

    def _count(self, levels: FloatArray) -> None:
        if levels.size:
            self.frames += int(levels.size)
            self.loud_frames += int(np.count_nonzero(levels > self.threshold_dbfs))
            self.peak_dbfs = max(self.peak_dbfs, float(levels.max()))
            self.last_dbfs = float(levels[-1])

    @property
    def silent(self) -> bool:
        return self.loud_frames == 0
