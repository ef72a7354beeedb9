"""Test audio: pure tones as int16 samples, and 16-bit PCM WAV files written from samples."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt


def tone(freq: float, rate: int, seconds: float,
         amplitude: float = 10_000) -> npt.NDArray[np.int16]:
    """A sine of ``freq`` Hz, ``seconds`` long at ``rate``, peaking at ``amplitude``."""
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def write_wav(path: Path, samples: npt.NDArray[np.generic], rate: int, channels: int = 1,
              width: int = 2) -> Path:
    """``samples`` (interleaved when ``channels`` > 1) as a PCM WAV file at ``path``."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples).tobytes())
    return path


def tone_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = 16_000) -> Path:
    """A mono tone written to ``path`` (for playing into the PulseAudio sink)."""
    return write_wav(path, tone(freq, rate, seconds), rate)
