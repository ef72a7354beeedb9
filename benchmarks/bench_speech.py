"""Speech recognition cost of our streaming pipeline, against raw vosk decoding the same audio.

Audio: Korean sentences from the example job package spoken by espeak-ng (22050 Hz), joined
with short gaps into a ~10 s and a ~2 min answer (quick mode: ~5 s and ~25 s; more than
20 s, so vosk ends at least one segment before the end).

Ours: a :class:`SpeechStream` (live captions on) fed the 22050 Hz capture in 0.2 s chunks
as int16 bytes: resampling to 16 kHz, the level meter and silence check, seeded dither,
0.2 s blocks into vosk, segment results and partial captions parsed, then ``finish()``
and the :class:`Transcript`. Baseline: a bare ``KaldiRecognizer`` on the same loaded model,
fed the exact 16 kHz bytes our pipeline gives vosk (resampled and dithered beforehand) in
the same 0.2 s blocks, ``Result()`` at each endpoint and ``FinalResult()`` at the end. The
decoding work is identical, so the ratio is our pipeline's own cost. Rounds alternate which
side runs first; the table quotes medians.

Latency is the time from the last chunk fed to the final transcript (ours: ``finish()``;
raw: ``FinalResult()``). Model load: our cache's cold load (the dither-free overlay and
``vosk.Model``) against a bare ``vosk.Model`` of the same directory.
"""

from __future__ import annotations

import gc
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import vosk

from benchmarks.common import (
    Row,
    median,
    model_files,
    peak_rss_mib,
    progress,
    ratio,
    scratch_dir,
)
from inference.speech.audio import TARGET_RATE, read_wav, resample
from inference.speech.vosk import BLOCK_SAMPLES, SpeechRecognizer, dither
from inference.speech.vosk_models import ModelCache

Samples = npt.NDArray[np.int16]
CAPTURE_RATE = 22050
CHUNK_S = 0.2
PACKAGE = (
    Path(__file__).resolve().parent.parent / "device" / "examples" / "assembly-line-operator.json"
)


@dataclass(frozen=True)
class Plan:
    short_s: float
    long_s: float
    short_rounds: int
    long_rounds: int
    load_rounds: int


FULL = Plan(short_s=10, long_s=120, short_rounds=5, long_rounds=3, load_rounds=3)
QUICK = Plan(short_s=5, long_s=25, short_rounds=3, long_rounds=2, load_rounds=2)


@dataclass(frozen=True)
class Timing:
    total_s: float
    latency_s: float
    cpu_s: float  # this thread's CPU time: less disturbed by other processes than wall time


def _sentences() -> list[str]:
    """Korean sentences of the example package: prompts, descriptions, consent text."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "ko" and isinstance(value, str) and len(value) > 15:
                    found.extend(s.strip() + "." for s in value.split(".") if len(s.strip()) > 8)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(PACKAGE.read_text("utf-8")))
    return found


def _answer(folder: Path, seconds: float) -> Samples:
    """espeak-ng sentences with 0.4 s gaps until ``seconds`` of 22050 Hz audio."""
    gap = np.zeros(int(0.4 * CAPTURE_RATE), dtype=np.int16)
    parts: list[Samples] = []
    total = 0
    for index, sentence in enumerate(_sentences() * 4):
        path = folder / f"s{index}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), sentence], check=True)
        audio = read_wav(path)
        if audio.sample_rate != CAPTURE_RATE:
            raise RuntimeError(f"espeak-ng wrote {audio.sample_rate} Hz, expected {CAPTURE_RATE}")
        parts += [audio.samples, gap]
        total += len(audio.samples) + len(gap)
        if total >= seconds * CAPTURE_RATE:
            break
    return np.concatenate(parts)[: int(seconds * CAPTURE_RATE)]


def _vosk_bytes(samples: Samples) -> list[bytes]:
    """The 16 kHz blocks our stream hands vosk for ``samples``: resampled, then dithered."""
    x = resample(samples, CAPTURE_RATE)
    return [
        dither(x[i : i + BLOCK_SAMPLES], n).tobytes()
        for n, i in enumerate(range(0, len(x), BLOCK_SAMPLES))
    ]


def _ours(recognizer: SpeechRecognizer, samples: Samples) -> tuple[Timing, int]:
    step = int(CHUNK_S * CAPTURE_RATE)
    chunks = [samples[i : i + step].tobytes() for i in range(0, len(samples), step)]
    cpu, started = time.thread_time(), time.perf_counter()
    stream = recognizer.stream("ko", partials=True)
    for chunk in chunks:
        stream.feed(chunk, CAPTURE_RATE)
    ended = time.perf_counter()
    transcript = stream.finish()
    done = time.perf_counter()
    return Timing(done - started, done - ended, time.thread_time() - cpu), len(transcript.words)


def _raw(model: Any, blocks: list[bytes]) -> tuple[Timing, int]:
    cpu, started = time.thread_time(), time.perf_counter()
    rec = vosk.KaldiRecognizer(model, TARGET_RATE)
    rec.SetWords(True)
    words = 0
    for block in blocks:
        if rec.AcceptWaveform(block):
            words += len(json.loads(rec.Result()).get("result", ()))
    ended = time.perf_counter()
    words += len(json.loads(rec.FinalResult()).get("result", ()))
    done = time.perf_counter()
    return Timing(done - started, done - ended, time.thread_time() - cpu), words


def _rounds(
    recognizer: SpeechRecognizer, samples: Samples, rounds: int, label: str
) -> tuple[list[Timing], list[Timing]]:
    model = recognizer.model("ko")
    blocks = _vosk_bytes(samples)
    ours: list[Timing] = []
    raw: list[Timing] = []
    for index in range(rounds):
        progress(f"speech: {label} answer, round {index + 1}/{rounds}")
        gc.collect()
        heard = {}
        for side in ("ours", "raw") if index % 2 == 0 else ("raw", "ours"):
            if side == "ours":
                timing, heard[side] = _ours(recognizer, samples)
                ours.append(timing)
            else:
                timing, heard[side] = _raw(model, blocks)
                raw.append(timing)
        n_ours, n_raw = heard["ours"], heard["raw"]
        if n_ours != n_raw:
            raise RuntimeError(f"ours heard {n_ours} words, raw vosk {n_raw}: not the same work")
    return ours, raw


def _load_times(model_dir: Path, rounds: int) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    raw: list[float] = []
    for index in range(rounds):
        progress(f"speech: model load, round {index + 1}/{rounds}")
        for side in (0, 1) if index % 2 == 0 else (1, 0):
            gc.collect()
            t0 = time.perf_counter()
            if side == 0:
                model = ModelCache().get(model_dir)
                ours.append(time.perf_counter() - t0)
            else:
                model = vosk.Model(str(model_dir))
                raw.append(time.perf_counter() - t0)
            del model
    return ours, raw


def run(quick: bool) -> list[Row]:
    plan = QUICK if quick else FULL
    models = model_files()
    ref = models.store.get("vosk-model-small-ko").ref()
    recognizer = SpeechRecognizer({"ko": models.vosk_ko}, refs={"ko": ref})
    with scratch_dir("speech") as folder:
        progress("speech: synthesising answers with espeak-ng")
        short = _answer(folder, plan.short_s)
        long = _answer(folder, plan.long_s)
    recognizer.preload()
    _ours(recognizer, short[: CAPTURE_RATE * 2])  # warm-up
    results = [
        (short, _rounds(recognizer, short, plan.short_rounds, f"{plan.short_s:.0f} s")),
        (long, _rounds(recognizer, long, plan.long_rounds, f"{plan.long_s:.0f} s")),
    ]
    load_ours, load_raw = _load_times(models.vosk_ko, plan.load_rounds)
    rss = peak_rss_mib()

    rows: list[Row] = []
    for samples, (ours, raw) in results:
        seconds = len(samples) / CAPTURE_RATE
        name = f"{seconds:.0f} s answer"
        mine, bare = median([t.total_s for t in ours]), median([t.total_s for t in raw])
        spread = (
            f"ours {min(t.total_s for t in ours):.2f}–{max(t.total_s for t in ours):.2f} s, "
            f"raw {min(t.total_s for t in raw):.2f}–{max(t.total_s for t in raw):.2f} s"
        )
        cpu_ratio = median([t.cpu_s for t in ours]) / median([t.cpu_s for t in raw])
        rows.append(
            Row(
                f"speech: decode time, {name}",
                mine,
                bare,
                ratio(mine, bare),
                "s",
                "lower",
                rss,
                f"median of {len(ours)} rounds ({spread}); CPU-time ratio {cpu_ratio:.3f}; "
                "22050 Hz capture in 0.2 s chunks vs raw vosk fed our 16 kHz blocks; "
                "target ratio <= 1.05",
            )
        )
        rtf, rtf_raw = mine / seconds, bare / seconds
        rows.append(
            Row(
                f"speech: real-time factor, {name}",
                rtf,
                rtf_raw,
                ratio(rtf, rtf_raw),
                "x real time",
                "lower",
                rss,
                "decode time / audio length",
            )
        )
        late = median([t.latency_s for t in ours]) * 1000
        late_raw = median([t.latency_s for t in raw]) * 1000
        rows.append(
            Row(
                f"speech: end-of-answer latency, {name}",
                late,
                late_raw,
                ratio(late, late_raw),
                "ms",
                "lower",
                rss,
                "last chunk fed -> final Transcript (ours: finish()) vs FinalResult() "
                f"(raw); max ours {max(t.latency_s for t in ours) * 1000:.0f} ms; "
                "target <= 500 ms",
            )
        )
    mine, bare = median(load_ours), median(load_raw)
    rows.append(
        Row(
            "speech: model load (ko small)",
            mine,
            bare,
            ratio(mine, bare),
            "s",
            "lower",
            rss,
            f"median of {len(load_ours)}; ours: cache cold load with the dither-free "
            "overlay; raw: vosk.Model(dir)",
        )
    )
    return rows
