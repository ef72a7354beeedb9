"""WAV reading and validation, the streaming resampler, levels and silence (no model needed)."""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from wav_fixtures import tone, write_wav

from inference.speech.audio import (
    AudioError,
    LevelMeter,
    Resampler,
    frame_levels,
    is_silent,
    read_wav,
    resample,
    rms_dbfs,
    to_mono_int16,
)

RNG = np.random.default_rng(7)


def peak_hz(samples: npt.NDArray[np.generic], rate: int) -> float:
    x = np.asarray(samples, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


# --- reading ----------------------------------------------------------------------------


def test_reads_espeak_wav(tmp_path: Path) -> None:
    path = tmp_path / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), "hello there"], check=True)
    audio = read_wav(path)
    assert audio.sample_rate == 22050 and audio.samples.dtype == np.int16
    assert audio.info.channels == 1 and not audio.info.downmixed
    assert audio.info.frames == len(audio.samples)
    assert audio.info.duration_s == pytest.approx(len(audio.samples) / 22050)
    assert not is_silent(audio.samples, audio.sample_rate)


def test_stereo_is_downmixed_and_reported(tmp_path: Path) -> None:
    left = tone(440, 16000, 0.5)
    right = np.zeros_like(left)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 16000, channels=2)
    audio = read_wav(path)
    assert audio.info.channels == 2 and audio.info.downmixed
    assert "2 channels averaged to mono" in audio.info.notes
    assert audio.samples.shape == left.shape
    assert np.abs(audio.samples.astype(int) - left.astype(int) / 2).max() <= 1


@pytest.mark.parametrize("width", [1, 4])
def test_unsupported_sample_width(tmp_path: Path, width: int) -> None:
    data = np.zeros(1600 * width, dtype=np.uint8)
    path = write_wav(tmp_path / f"w{width}.wav", data, 16000, width=width)
    with pytest.raises(AudioError, match=rf"w{width}\.wav.*{width * 8}-bit samples"):
        read_wav(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cut.wav", tone(440, 16000, 1.0), 16000)
    path.write_bytes(path.read_bytes()[:-10_001])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated: the header declares 16000 frames"):
        read_wav(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "head.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    with pytest.raises(AudioError, match=r"head\.wav: not a readable WAV file"):
        read_wav(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match=r"noise\.bin: not a readable WAV file"):
        read_wav(path)


def test_zero_frames(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav: the file holds 0 audio frames"):
        read_wav(path)


def test_float_wav_is_refused(tmp_path: Path) -> None:
    data = np.zeros(100, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data
    path = tmp_path / "float.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match=r"float\.wav: unsupported WAV encoding"):
        read_wav(path)


def test_missing_file_and_bad_rate(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nothere\.wav: cannot read"):
        read_wav(tmp_path / "nothere.wav")
    path = write_wav(tmp_path / "slow.wav", np.zeros(400, dtype=np.int16), 4000)
    with pytest.raises(AudioError, match="unsupported sample rate 4000 Hz"):
        read_wav(path)


def test_to_mono_int16_accepts_bytes_floats_and_frames() -> None:
    x = tone(300, 16000, 0.1)
    assert np.array_equal(to_mono_int16(x.tobytes()), x)
    floats = x.astype(np.float64) / 32767
    assert np.abs(to_mono_int16(floats).astype(int) - x).max() <= 1
    assert np.array_equal(to_mono_int16(np.stack([x, x], axis=1)), x)
    with pytest.raises(AudioError, match="whole number of 16-bit samples"):
        to_mono_int16(b"\x00\x01\x02")
    with pytest.raises(AudioError, match="unsupported sample type"):
        to_mono_int16(np.zeros(4, dtype=np.int32))


# --- resampling -------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 16000])
def test_chunked_resampling_equals_one_shot(rate: int) -> None:
    x = (RNG.standard_normal(rate * 2) * 4000).astype(np.int16)
    one = resample(x, rate)
    assert len(one) == math.ceil(len(x) * 16000 / rate)
    r = Resampler(rate)
    parts, i = [], 0
    while i < len(x):
        n = int(RNG.integers(1, rate // 3))
        parts.append(r.process(x[i : i + n]))
        i += n
    parts.append(r.flush())
    assert np.array_equal(np.concatenate(parts), one)


def test_odd_rate_uses_the_same_filter() -> None:
    rate = 44_056  # a period too long for one matrix: the gather path
    x = (RNG.standard_normal(rate) * 4000).astype(np.int16)
    r = Resampler(rate)
    chunked = np.concatenate([r.process(x[: rate // 3]), r.process(x[rate // 3 :]), r.flush()])
    assert np.array_equal(chunked, resample(x, rate))
    assert peak_hz(resample(tone(1000, rate, 1.0), rate), 16000) == pytest.approx(1000, abs=2)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0])
def test_sine_frequency_and_level_preserved(rate: int, freq: float) -> None:
    x = tone(freq, rate, 1.0)
    y = resample(x, rate)
    assert peak_hz(y, 16000) == pytest.approx(freq, abs=2)
    assert rms_dbfs(y[800:-800]) == pytest.approx(rms_dbfs(x[rate // 20 : -rate // 20]), abs=0.1)


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_downsampling_removes_what_would_alias(rate: int) -> None:
    # 10.5 kHz would fold to 5.5 kHz at 16 kHz without the anti-aliasing filter
    y = resample(tone(10_500, rate, 1.0), rate)
    assert rms_dbfs(y[800:-800]) < -80


def test_resampling_keeps_time_alignment() -> None:
    rate = 44100
    x = np.zeros(rate * 2, dtype=np.int16)
    x[rate] = 30000  # a click at exactly 1.0 s
    y = resample(x, rate)
    assert abs(int(np.argmax(np.abs(y))) - 16000) <= 1


def test_resampler_rejects_unsupported_rate() -> None:
    with pytest.raises(AudioError, match="unsupported sample rate 500 Hz"):
        Resampler(500)


# --- levels and silence -----------------------------------------------------------------


def test_rms_dbfs() -> None:
    assert rms_dbfs(tone(1000, 16000, 1.0, amplitude=32767)) == pytest.approx(-3.01, abs=0.02)
    assert rms_dbfs(np.zeros(100, dtype=np.int16)) == -math.inf
    assert rms_dbfs(np.zeros(0, dtype=np.int16)) == -math.inf


def test_silence_detection() -> None:
    rate = 16000
    zeros = np.zeros(rate * 2, dtype=np.int16)
    hiss = np.rint(RNG.standard_normal(rate * 2) * 8).astype(np.int16)  # about -72 dBFS
    offset = np.full(rate * 2, 3000, dtype=np.int16) + hiss  # DC offset is not sound
    assert is_silent(zeros, rate) and is_silent(hiss, rate) and is_silent(offset, rate)
    speechy = hiss.copy()
    speechy[rate : rate + 480] += tone(300, rate, 0.03, amplitude=2000)  # one 30 ms burst
    assert not is_silent(speechy, rate)
    assert is_silent(speechy, rate, threshold_dbfs=-10)


def test_level_meter_streams_like_one_shot() -> None:
    rate = 22050
    x = np.concatenate([np.zeros(rate // 2, dtype=np.int16), tone(500, rate, 0.5, 3000)])
    meter = LevelMeter(rate)
    for i in range(0, len(x), 1234):
        meter.update(x[i : i + 1234])
    meter.finish()
    levels = frame_levels(x, rate)
    assert meter.frames == len(levels) + (1 if len(x) % round(rate * 0.03) >= 220 else 0)
    assert meter.peak_dbfs == pytest.approx(float(levels.max()), abs=0.01)
    assert meter.loud_frames > 0 and not meter.silent
