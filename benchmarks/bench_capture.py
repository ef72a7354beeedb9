"""The microphone under load: dropped audio, capture CPU, and how soon a recording starts.

All three measurements record from a private PulseAudio daemon's null-sink monitor through
PortAudio's ``pulse`` device (``kiosk/rigs/pulse_rig.py``), 16 kHz mono in 50 ms blocks,
the defaults of ``[capture]``; a tone plays into the sink so real samples flow.

- Under load: two processes run the real analysis pipeline (``Analyzer.spoken`` on a
  CREMA-D answer with faces and expression, over and over) so both cores are busy, while
  a :class:`Microphone` records for 20 s (quick) or 60 s. The target is no dropped block
  and no PortAudio overflow. No baseline: the point is the absolute count, and a bare
  reader under the same load would say nothing about ours.
- Capture CPU: the CPU seconds this process spends while our microphone records 30 s (the
  PortAudio callback queueing, the consumer thread writing a WAV file that is fsynced every
  second and keeping the level), against the raw pyaudio blocking-read loop writing the
  same blocks to a plain file. Rounds alternate which side runs first.
- Start latency: from the ``start_recording`` call to the first block reaching the file
  (the live consumer is called right after the block is written), against the raw loop's
  time from a start flag to its next ``read()``: the block size sets a floor of about half
  a block for both. Start moments are spread by a seeded random pause.

The table quotes medians.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    NO_BASELINE,
    Row,
    crema_clips,
    median,
    model_files,
    peak_rss_mib,
    percentile,
    progress,
    ratio,
    scratch_dir,
)
from device.capture.audio import Microphone
from device.capture.devices import choose_input, input_devices, start_portaudio
from device.config import CaptureConfig
from kiosk.rigs.pulse_rig import PulseRig

RATE = 16_000
BLOCK_FRAMES = 800  # 50 ms


@dataclass(frozen=True)
class Plan:
    load_s: float
    cpu_s: float
    cpu_rounds: int
    starts: int


FULL = Plan(load_s=60, cpu_s=30, cpu_rounds=2, starts=40)
QUICK = Plan(load_s=20, cpu_s=10, cpu_rounds=1, starts=10)

_ANALYSIS_LOOP = r"""
import sys
from pathlib import Path
from inference.content.answer import QuestionVocabulary
from inference.models.store import ModelFiles, ModelStore
from inference.pipeline import Analyzer, Settings
analyzer = Analyzer(ModelFiles.open(ModelStore(Path(sys.argv[1]))), Settings(tflite_threads=1))
analyzer.faces(True)
analyzer.speech.preload("en")
vocab = QuestionVocabulary(item_id="q", language="en", evidence=(("c", ("jacket",), ()),))
print("ready", flush=True)
while True:
    analyzer.spoken(vocab, audio=None, video=Path(sys.argv[2]), expression=True)
    print("answer", flush=True)
"""


def _tone(path: Path, seconds: float) -> Path:
    t = np.arange(round(RATE * seconds)) / RATE
    samples = np.rint(np.sin(2 * np.pi * 440 * t) * 0.2 * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return path


def _cpu_times() -> tuple[int, int]:
    """All cores together since boot, in clock ticks: (busy, total), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class _AnalysisLoad:
    """Two processes analysing one answer after another, until stopped."""

    def __init__(self, store_root: Path, clip: Path, count: int = 2) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", _ANALYSIS_LOOP, str(store_root),
                                        str(clip)], stdout=subprocess.PIPE, text=True)
                      for _ in range(count)]
        self.answers = [0] * count
        self._readers: list[threading.Thread] = []
        ready = [threading.Event() for _ in self.procs]
        for index, proc in enumerate(self.procs):
            reader = threading.Thread(target=self._read, args=(index, proc, ready[index]),
                                      daemon=True)
            reader.start()
            self._readers.append(reader)
        for index, event in enumerate(ready):
            if not event.wait(180):
                self.stop()
                raise RuntimeError(f"analysis process {index} did not load its models in 180 s")

    def _read(self, index: int, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                ready.set()
            elif line.strip() == "answer":
                self.answers[index] += 1

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_first_block(mic: Microphone) -> None:
    deadline = time.monotonic() + 15
    while mic.stats().blocks == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the microphone delivered nothing in 15 s")
        time.sleep(0.01)


def _under_load(rig: PulseRig, work: Path, seconds: float) -> list[Row]:
    models = model_files()
    clip = crema_clips()["HAP"]
    progress("capture: starting 2 analysis processes (loading models)")
    load = _AnalysisLoad(Path(models.store.root), clip)
    try:
        mic = Microphone(CaptureConfig(microphone="pulse"))
        mic.open()
        try:
            _wait_first_block(mic)
            player = rig.play(_tone(work / "load-tone.wav", seconds + 10))
            time.sleep(0.5)
            progress(f"capture: recording {seconds:g} s under full analysis load")
            before, cpu_before, answers_before = mic.stats(), _cpu_times(), sum(load.answers)
            started = time.monotonic()
            mic.start_recording(work / "under-load.wav")
            time.sleep(seconds)
            wall = time.monotonic() - started
            recorded = mic.stop_recording()
            after = mic.stats()
            cpu_after = _cpu_times()
            answers = sum(load.answers) - answers_before
            player.kill()
            player.wait()
        finally:
            mic.close()
    finally:
        load.stop()
    rss = peak_rss_mib()
    dropped = after.dropped_blocks - before.dropped_blocks
    overflows = after.overflows - before.overflows
    expected = wall * 1000 / 50
    blocks = after.blocks - before.blocks
    busy_share = (cpu_after[0] - cpu_before[0]) / max(1, cpu_after[1] - cpu_before[1])
    busy = (f"2 analysis processes ({answers} answers done); all {os.cpu_count()} cores"
            f" {100 * busy_share:.0f}% busy")
    absolute = f"{NO_BASELINE}: an absolute count, target 0"
    return [
        Row(benchmark="capture: under analysis load, dropped blocks", ours=float(dropped),
            baseline=None, ratio=None, unit="blocks", better="lower", peak_rss_mib=rss,
            notes=f"{absolute}; {wall:.0f} s recording, {blocks} of ~{expected:.0f} blocks"
                  f" arrived; {busy}"),
        Row(benchmark="capture: under analysis load, PortAudio overflows",
            ours=float(overflows), baseline=None, ratio=None, unit="flags", better="lower",
            peak_rss_mib=rss,
            notes=f"{absolute}; underruns {after.underruns - before.underruns}"),
        Row(benchmark="capture: under analysis load, recorded / wall time",
            ours=recorded.duration_s / wall, baseline=None, ratio=None,
            unit="s recorded per s", better="higher", peak_rss_mib=rss,
            notes=f"{NO_BASELINE}: an absolute share, target 1.00 (nothing missing from the"
                  " file)"),
    ]


def _ours_cpu(seconds: float, path: Path) -> float:
    mic = Microphone(CaptureConfig(microphone="pulse"))
    mic.open()
    try:
        _wait_first_block(mic)
        cpu = time.process_time()
        mic.start_recording(path)
        time.sleep(seconds)
        mic.stop_recording()
        return time.process_time() - cpu
    finally:
        mic.close()


class _RawReader:
    """The baseline: pyaudio's blocking read in a loop on its own thread, to a plain file."""

    def __init__(self, path: Path | None) -> None:
        import pyaudio

        self.pa = start_portaudio()
        device = choose_input(input_devices(self.pa), "pulse")
        self.stream = self.pa.open(format=pyaudio.paInt16, channels=1, rate=RATE, input=True,
                                   input_device_index=device.index,
                                   frames_per_buffer=BLOCK_FRAMES)
        self.path = path
        self.blocks = 0
        self.start_flag: float | None = None
        self.first_after: list[float] = []  # when the flagged block came
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        sink = open(self.path, "wb") if self.path else None  # noqa: SIM115
        try:
            while self.running:
                data = self.stream.read(BLOCK_FRAMES, exception_on_overflow=False)
                now = time.perf_counter()
                self.blocks += 1
                if self.start_flag is not None and not self.first_after:
                    self.first_after.append(now)
                if sink is not None:
                    sink.write(data)
        finally:
            if sink is not None:
                sink.close()

    def wait_first_block(self) -> None:
        deadline = time.monotonic() + 15
        while self.blocks == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the raw stream delivered nothing in 15 s")
            time.sleep(0.01)

    def next_block_ms(self) -> float:
        """Milliseconds from now to the next block the loop reads."""
        self.first_after.clear()
        flag = self.start_flag = time.perf_counter()
        deadline = time.monotonic() + 5
        try:
            while time.monotonic() < deadline:
                if self.first_after:
                    return (self.first_after[0] - flag) * 1000
                time.sleep(0.002)
        finally:
            self.start_flag = None
        raise RuntimeError("the raw stream got no block in 5 s")

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.stream.stop_stream()
        self.stream.close()
        self.pa.terminate()


def _raw_cpu(seconds: float, path: Path) -> float:
    reader = _RawReader(path)
    try:
        reader.wait_first_block()
        cpu = time.process_time()
        time.sleep(seconds)
        return time.process_time() - cpu
    finally:
        reader.close()


def _cpu(plan: Plan, work: Path) -> list[Row]:
    ours: list[float] = []
    raw: list[float] = []
    sides: list[tuple[list[float], Callable[[float, Path], float]]] = [(ours, _ours_cpu),
                                                                     (raw, _raw_cpu)]
    for index in range(plan.cpu_rounds):
        order = sides if index % 2 == 0 else sides[::-1]
        for out, measure in order:
            progress(f"capture: CPU round {index + 1}/{plan.cpu_rounds},"
                     f" {'ours' if out is ours else 'raw'} ({plan.cpu_s:g} s)")
            out.append(measure(plan.cpu_s, work / "cpu.bin"))
    mine, base = median(ours), median(raw)
    return [Row(benchmark=f"capture: CPU for {plan.cpu_s:g} s of recording", ours=mine,
                baseline=base, ratio=ratio(mine, base), unit="CPU s", better="lower",
                peak_rss_mib=peak_rss_mib(),
                notes=f"median of {plan.cpu_rounds} rounds; {100 * mine / plan.cpu_s:.2f}% of a"
                      " core ours (WAV file fsynced each second, level meter); raw: pyaudio"
                      " blocking read loop to a plain file")]


def _start_latency(plan: Plan, work: Path) -> list[Row]:
    rng = random.Random(7)
    ours: list[float] = []
    mic = Microphone(CaptureConfig(microphone="pulse"))
    mic.open()
    try:
        _wait_first_block(mic)
        for index in range(plan.starts):
            time.sleep(rng.uniform(0.1, 0.3))
            first: list[float] = []

            def take(block: bytes, first: list[float] = first) -> None:
                if not first:
                    first.append(time.perf_counter())

            called = time.perf_counter()
            mic.start_recording(work / f"start-{index}.wav", on_block=take)
            deadline = time.monotonic() + 5
            while not first and time.monotonic() < deadline:
                time.sleep(0.002)
            mic.stop_recording()
            if not first:
                raise RuntimeError("a recording got no block in 5 s")
            ours.append((first[0] - called) * 1000)
    finally:
        mic.close()
    raw: list[float] = []
    reader = _RawReader(None)
    try:
        reader.wait_first_block()
        for _ in range(plan.starts):
            time.sleep(rng.uniform(0.1, 0.3))
            raw.append(reader.next_block_ms())
    finally:
        reader.close()
    mine, base = median(ours), median(raw)
    return [Row(benchmark="capture: start_recording to first recorded block p50", ours=mine,
                baseline=base, ratio=ratio(mine, base), unit="ms", better="lower",
                peak_rss_mib=peak_rss_mib(),
                notes=f"p90 ours {percentile(ours, 90):.1f} ms, raw {percentile(raw, 90):.1f}"
                      f" ms; n={plan.starts}; 50 ms blocks set a ~25 ms floor; raw: start"
                      " flag to the next blocking read")]


def run(quick: bool) -> list[Row]:
    plan = QUICK if quick else FULL
    rows: list[Row] = []
    with scratch_dir("capture") as work, PulseRig() as rig:
        tone: Any = rig.play(_tone(work / "tone.wav", 300))
        try:
            rows += _start_latency(plan, work)
            rows += _cpu(plan, work)
        finally:
            tone.kill()
            tone.wait()
        rows += _under_load(rig, work, plan.load_s)
    return rows
