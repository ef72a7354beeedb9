"""Face analysis frames per second on one core, against raw TFLite invokes of the same models.

Ours: ``FaceAnalyzer.analyse`` on frames sampled at 5 fps from the CREMA-D clips (480x360,
one face): BlazeFace detection with anchor decoding and weighted NMS, the face mesh on
the face's crop with the head-pose fit, the expression model on the face's gray crop, and
the pydantic records. Baseline: the bare ``Interpreter`` of each model (set_tensor, invoke,
get_tensor) on inputs our pipeline prepared for the same frames, as many invokes per frame
as ours made, so the ratio is the cost of our pre- and post-processing. Both sides run with
``num_threads=1`` and OpenCV on one thread; rounds alternate which side runs first and the
table quotes the median round.

Also: model load time (our ``TFLiteModel`` against a bare ``Interpreter`` + allocate) and
the activity meter's per-frame cost against the same OpenCV calls made bare.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.common import (
    Row,
    crema_clips,
    median,
    model_files,
    peak_rss_mib,
    percentile_rows,
    progress,
    ratio,
)
from inference.models.tflite import TFLiteModel, interpreter_class
from inference.vision import ActivityMeter, FaceAnalyzer, read_frames

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Plan:
    clips: int
    rounds: int
    load_rounds: int


#: Frames per activity-meter round (the clips' frames repeated).
MOTION_UPDATES = 1000

FULL = Plan(clips=6, rounds=7, load_rounds=7)
QUICK = Plan(clips=1, rounds=3, load_rounds=3)


@dataclass(frozen=True)
class Round:
    per_s: float
    latencies_ms: list[float]


def _frames(paths: list[Path]) -> list[Image]:
    return [f.image for p in paths for f in read_frames(p, fps=5.0)]


def _timed(step: Callable[[int], object], count: int) -> Round:
    latencies: list[float] = []
    started = time.perf_counter_ns()
    for i in range(count):
        t0 = time.perf_counter_ns()
        step(i)
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
    wall_s = (time.perf_counter_ns() - started) / 1e9
    return Round(count / wall_s, latencies)


class Raw:
    """The three models on bare interpreters, fed inputs captured from our pipeline."""

    def __init__(self, paths: list[Path]) -> None:
        cls = interpreter_class()
        self.models: list[tuple[Any, int, list[int]]] = []  # interpreter, input, outputs
        for path in paths:
            interpreter = cls(model_path=str(path), num_threads=1)
            interpreter.allocate_tensors()
            self.models.append(
                (
                    interpreter,
                    interpreter.get_input_details()[0]["index"],
                    [d["index"] for d in interpreter.get_output_details()],
                )
            )
        self.inputs: list[list[list[npt.NDArray[np.float32]]]] = []  # frame, model, invokes

    def step(self, index: int) -> None:
        for (interpreter, in_index, outs), inputs in zip(
            self.models, self.inputs[index], strict=True
        ):
            for array in inputs:
                interpreter.set_tensor(in_index, array)
                interpreter.invoke()
                for out in outs:
                    interpreter.get_tensor(out)


def _capture(analyzer: FaceAnalyzer, frames: list[Image], raw: Raw) -> None:
    """Run ours once, recording each model's prepared inputs per frame (the warm-up)."""
    parts: list[Any] = [analyzer.detector, analyzer.mesh, analyzer.expression]
    for frame in frames:
        seen: list[list[npt.NDArray[np.float32]]] = [[] for _ in parts]
        originals = []
        for slot, part in zip(seen, parts, strict=True):
            model = part.model
            original = model.invoke

            def recording(
                *,
                copy_outputs: bool = True,
                _model: Any = model,
                _invoke: Any = original,
                _slot: list[Any] = slot,
            ) -> list[Any]:
                _slot.append(_model.input_view().copy())
                result: list[Any] = _invoke(copy_outputs=copy_outputs)
                return result

            model.invoke = recording
            originals.append((model, original))
        analyzer.analyse(frame, 0.0)
        for model, original in originals:
            model.invoke = original
        raw.inputs.append(seen)


def _load_times(paths: list[Path], rounds: int) -> tuple[list[float], list[float]]:
    cls = interpreter_class()
    ours: list[float] = []
    bare: list[float] = []
    for index in range(rounds):

        def mine() -> None:
            for p in paths:
                TFLiteModel(p, num_threads=1)

        def theirs() -> None:
            for p in paths:
                cls(model_path=str(p), num_threads=1).allocate_tensors()

        order = (mine, theirs) if index % 2 == 0 else (theirs, mine)
        for fn in order:
            t0 = time.perf_counter_ns()
            fn()
            (ours if fn is mine else bare).append((time.perf_counter_ns() - t0) / 1e6)
    return ours, bare


def _repeated(frames: list[Image], count: int) -> list[Image]:
    """``frames`` over and over, at least ``count`` of them."""
    return frames * max(1, -(-count // len(frames)))


def _motion_rounds(frames: list[Image], rounds: int) -> tuple[list[float], list[float]]:
    def mine() -> float:
        meter = ActivityMeter()
        return _timed(lambda i: meter.update(i * 0.2, frames[i]), len(frames)).per_s

    def theirs() -> float:
        previous: list[Any] = []

        def step(i: int) -> None:
            frame = frames[i]
            h, w = frame.shape[:2]
            small = cv2.cvtColor(
                cv2.resize(frame, (w // 6, h // 6), interpolation=cv2.INTER_AREA),
                cv2.COLOR_BGR2GRAY,
            )
            if previous:
                np.count_nonzero(cv2.absdiff(previous[0], small) > 12)
            previous[:] = [small]

        return _timed(step, len(frames)).per_s

    ours: list[float] = []
    bare: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            ours.append(mine())
            bare.append(theirs())
        else:
            bare.append(theirs())
            ours.append(mine())
    return ours, bare


def run(quick: bool) -> list[Row]:
    plan = QUICK if quick else FULL
    cv2.setNumThreads(1)
    models = model_files()
    paths = [models.face_detection, models.face_landmarks, models.expression]
    clips = [crema_clips()[code] for code in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
    frames = _frames(clips[: plan.clips])
    progress(f"vision: {len(frames)} frames from {plan.clips} clip(s)")

    analyzer = FaceAnalyzer.load(*paths, expression=True, num_threads=1)
    raw = Raw(paths)
    _capture(analyzer, frames, raw)
    invokes = sum(len(m) for f in raw.inputs for m in f) / len(frames)
    raw.step(0)

    ours_rounds: list[Round] = []
    raw_rounds: list[Round] = []
    for index in range(plan.rounds):
        progress(f"vision: round {index + 1}/{plan.rounds}")
        gc.collect()
        if index % 2 == 0:
            ours_rounds.append(_timed(lambda i: analyzer.analyse(frames[i], i * 0.2), len(frames)))
            raw_rounds.append(_timed(raw.step, len(frames)))
        else:
            raw_rounds.append(_timed(raw.step, len(frames)))
            ours_rounds.append(_timed(lambda i: analyzer.analyse(frames[i], i * 0.2), len(frames)))

    progress("vision: model load times")
    load_ours, load_raw = _load_times(paths, plan.load_rounds)
    progress("vision: activity meter")
    # A frame takes a fraction of a millisecond: each round goes through the frames enough
    # times to last a few hundred milliseconds, or scheduling noise decides the ratio.
    motion = _repeated(frames, MOTION_UPDATES)
    motion_ours, motion_raw = _motion_rounds(motion, plan.rounds)

    rss = peak_rss_mib()
    ours_rate = median([r.per_s for r in ours_rounds])
    raw_rate = median([r.per_s for r in raw_rounds])
    spread = (
        f"ours {min(r.per_s for r in ours_rounds):.0f}–"
        f"{max(r.per_s for r in ours_rounds):.0f}, raw "
        f"{min(r.per_s for r in raw_rounds):.0f}–{max(r.per_s for r in raw_rounds):.0f}"
    )
    load_mine, load_bare = median(load_ours), median(load_raw)
    m_ours, m_raw = median(motion_ours), median(motion_raw)
    rows = [
        Row(
            benchmark="vision: analysed frames/s (detect + mesh + expression, 1 thread)",
            ours=ours_rate,
            baseline=raw_rate,
            ratio=ratio(ours_rate, raw_rate),
            unit="frames/s",
            better="higher",
            peak_rss_mib=rss,
            notes=f"median of {plan.rounds} rounds × {len(frames)} CREMA-D frames (480x360, "
            f"1 face); {invokes:.1f} model invokes per frame both sides; range "
            f"{spread}; baseline = bare Interpreter invokes on inputs we prepared",
        ),
        Row(
            benchmark="vision: load the three models",
            ours=load_mine,
            baseline=load_bare,
            ratio=ratio(load_mine, load_bare),
            unit="ms",
            better="lower",
            peak_rss_mib=rss,
            notes=f"median of {plan.load_rounds}; face detection + face mesh + expression, "
            "num_threads=1; baseline = bare Interpreter + allocate_tensors",
        ),
        Row(
            benchmark="vision: activity meter frames/s",
            ours=m_ours,
            baseline=m_raw,
            ratio=ratio(m_ours, m_raw),
            unit="frames/s",
            better="higher",
            peak_rss_mib=rss,
            notes=f"median of {plan.rounds} rounds × {len(motion)} frames; "
            "ActivityMeter.update vs the bare OpenCV shrink + absdiff + count",
        ),
    ]
    rows += percentile_rows(
        "vision: per-frame analysis latency",
        [x for r in ours_rounds for x in r.latencies_ms],
        [x for r in raw_rounds for x in r.latencies_ms],
        "ms",
        "FaceAnalyzer.analyse vs bare invokes",
        rss,
    )
    return rows
