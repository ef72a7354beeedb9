"""The input side every recogniser's stream shares: captured audio in, 16 kHz out.

One answer's audio arrives in chunks at the capture rate; :class:`StreamInput` resamples it
to 16 kHz (one rate per answer, a change is an error), keeps the level meter (the live
level, and whether anything rose above silence) and counts what was received, so that the
answer's duration is exact whatever the resampling.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inference.findings import Word
from inference.speech.audio import (
    SILENCE_DBFS,
    TARGET_RATE,
    AudioError,
    Int16Array,
    LevelMeter,
    Resampler,
    to_mono_int16,
)


class StreamInput:
    def __init__(self, silence_dbfs: float = SILENCE_DBFS) -> None:
        self.meter = LevelMeter(TARGET_RATE, silence_dbfs)
        self._resampler: Resampler | None = None
        self._received = 0

    @property
    def sample_rate(self) -> int | None:
        """The capture rate of this answer (None before the first chunk)."""
        return None if self._resampler is None else self._resampler.in_rate

    @property
    def duration_s(self) -> float:
        """Audio received so far, seconds."""
        rate = self.sample_rate
        return self._received / rate if rate else 0.0

    @property
    def level_dbfs(self) -> float:
        """Level of the latest 30 ms of audio, for a live meter."""
        return self.meter.last_dbfs

    def take(self, chunk: bytes | npt.NDArray[np.generic], sample_rate: int) -> Int16Array:
        """A chunk at any rate from 8 kHz up (int16 bytes or array, or float), as 16 kHz."""
        if self._resampler is None:
            self._resampler = Resampler(sample_rate)
        elif sample_rate != self._resampler.in_rate:
            raise AudioError(f"audio: sample rate changed from {self._resampler.in_rate} "
                             f"to {sample_rate} Hz within one answer")
        samples = to_mono_int16(chunk)
        self._received += len(samples)
        out = self._resampler.process(samples)
        self.meter.update(out)
        return out

    def flush(self) -> Int16Array:
        """The last 16 kHz samples; the meter is then final."""
        out = np.zeros(0, dtype=np.int16) if self._resampler is None else self._resampler.flush()
        self.meter.update(out)
        self.meter.finish()
        return out


class FedStream:
    """What every recogniser's stream tells about the audio it was fed (its ``_input``)."""

    _input: StreamInput

    @property
    def sample_rate(self) -> int | None:
        return self._input.sample_rate

    @property
    def duration_s(self) -> float:
        """Audio received so far, seconds."""
        return self._input.duration_s

    @property
    def level_dbfs(self) -> float:
        """Level of the latest 30 ms of audio, for a live meter."""
        return self._input.level_dbfs


def clamp(word: Word, duration: float) -> Word:
    """Keep a word's times inside the audio (a recogniser can overshoot the end a little)."""
    if word.end <= duration:
        return word
    start = min(word.start, duration)
    return word.model_copy(update={"start": start, "end": max(start, duration)})
