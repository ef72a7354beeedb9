"""Hand tracking frames per second on one core, against raw TFLite invokes of the same models.

Ours: ``HandTracker.find`` on frames of a real hand (the opencv-doc photograph set at twelve
places on a grey table, 640x480) and of a person talking to the camera with no hand in
sight (CREMA-D, 480x360): letterboxing to 192x192, palm detection with anchor decoding and
weighted NMS, then for each palm the rotated 224x224 crop, the landmark model and the
landmarks mapped back to the frame. Baseline: the bare ``Interpreter`` of each model
(set_tensor, invoke, get_tensor) on the inputs our tracker prepared for the same frames, as
many invokes per frame as ours made, so the ratio is the cost of our pre- and
post-processing. Both run with ``num_threads=1`` and OpenCV on one thread; rounds alternate
which side runs first and the table quotes the median round.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.common import (
    CACHE_DIR,
    Row,
    crema_clips,
    median,
    model_files,
    peak_rss_mib,
    progress,
    ratio,
)
from inference.models.tflite import TFLiteModel, interpreter_class
from inference.vision import read_frames
from inference.vision.hands import LANDMARK_FILE, PALM_FILE, HandTracker
from kiosk.rigs.samples import hand_photo

Image = npt.NDArray[np.uint8]
ROUNDS = {False: 9, True: 3}


def _hand_frames() -> list[Image]:
    hand = cv2.imread(str(hand_photo(CACHE_DIR)))
    if hand is None:
        raise RuntimeError("the hand photograph could not be read")
    small = cv2.resize(hand, (240, 180), interpolation=cv2.INTER_AREA)
    frames = []
    for k in range(12):
        frame = np.full((480, 640, 3), 190, np.uint8)
        x, y = 40 + 30 * k, 40 + 20 * (k % 6)
        frame[y:y + 180, x:x + 240] = small
        frames.append(frame)
    return frames


def _face_frames() -> list[Image]:
    return [f.image for f in read_frames(crema_clips()["HAP"], fps=6)][:12]


class Raw:
    """The bare interpreters, replaying the inputs our tracker gave each model per frame."""

    def __init__(self, palm: TFLiteModel, landmark: TFLiteModel) -> None:
        cls = interpreter_class()
        self.interpreters = [cls(model_path=str(m.path), num_threads=1) for m in (palm, landmark)]
        for interpreter in self.interpreters:
            interpreter.allocate_tensors()
        self.inputs: list[list[list[npt.NDArray[np.float32]]]] = []

    def step(self, index: int) -> None:
        for interpreter, arrays in zip(self.interpreters, self.inputs[index], strict=True):
            in_index = interpreter.get_input_details()[0]["index"]
            for array in arrays:
                interpreter.set_tensor(in_index, array)
                interpreter.invoke()
                for out in interpreter.get_output_details():
                    interpreter.get_tensor(out["index"])


def _capture(tracker: HandTracker, frames: list[Image], raw: Raw) -> int:
    """Run ours once, recording each model's prepared inputs per frame; returns hands found."""
    found = 0
    models = (tracker.palm_model, tracker.landmark_model)
    for frame in frames:
        seen: list[list[npt.NDArray[np.float32]]] = [[], []]
        originals = []
        for slot, model in zip(seen, models, strict=True):
            original = model.invoke

            def recording(*, copy_outputs: bool = True, _model: Any = model,
                          _invoke: Any = original, _slot: list[Any] = slot) -> list[Any]:
                _slot.append(_model.input_view().copy())
                result: list[Any] = _invoke(copy_outputs=copy_outputs)
                return result

            model.invoke = recording  # type: ignore[method-assign]
            originals.append((model, original))
        found += len(tracker.find(frame))
        for model, original in originals:
            model.invoke = original  # type: ignore[method-assign]
        raw.inputs.append(seen)
    return found


def _per_s(step: Callable[[int], object], count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        step(i)
    return count / (time.perf_counter() - started)


def _finder(tracker: HandTracker, frames: list[Image]) -> Callable[[int], object]:
    return lambda i: tracker.find(frames[i])


def run(quick: bool) -> list[Row]:
    cv2.setNumThreads(1)
    directory = model_files().hands
    tracker = HandTracker(TFLiteModel(directory / PALM_FILE, num_threads=1),
                          TFLiteModel(directory / LANDMARK_FILE, num_threads=1))
    rows = []
    for label, frames in (("a hand on the table", _hand_frames()),
                          ("a face, no hands", _face_frames())):
        raw = Raw(tracker.palm_model, tracker.landmark_model)
        hands = _capture(tracker, frames, raw)
        ours: list[float] = []
        bare: list[float] = []
        for index in range(ROUNDS[quick]):
            progress(f"hands: {label}, round {index + 1}/{ROUNDS[quick]}")
            gc.collect()
            for side in ("ours", "bare") if index % 2 == 0 else ("bare", "ours"):
                if side == "ours":
                    ours.append(_per_s(_finder(tracker, frames), len(frames)))
                else:
                    bare.append(_per_s(raw.step, len(frames)))
        mine, theirs = median(ours), median(bare)
        rows.append(Row(
            benchmark=f"hands: frames/s, {label}",
            ours=round(mine, 1), baseline=round(theirs, 1),
            ratio=ratio(round(mine, 1), round(theirs, 1)), unit="frames/s", better="higher",
            peak_rss_mib=peak_rss_mib(),
            notes=f"HandTracker.find vs the bare palm and landmark invokes on the same inputs;"
                  f" {len(frames)} frames, {hands} hands found, {1000 / mine:.1f} ms a frame",
        ))
    return rows
