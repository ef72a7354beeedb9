"""Model self-test: each installed model is verified, loaded and run once on a made-up sample.

The samples are generated here (a second of a quiet tone for speech models, a drawn face
for the face models, a drawn hand for the hand model), so the test needs nothing but the
installed models. A model that fails verification, loading or running is reported with the
reason; the others still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from inference.errors import InferenceError
from inference.models.store import InstalledModel, ModelStore, VerifiedModel
from inference.models.tflite import TFLiteModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
IMAGE_SIZE = (320, 240)  # width, height

Image = npt.NDArray[np.uint8]
Runner = Callable[[VerifiedModel], str]


def run_all(store: ModelStore) -> list[dict[str, Any]]:
    """One result per installed model: ``{name, kind, ok, ms, detail}``."""
    try:
        installed = store.installed()
    except InferenceError as exc:
        return [{"name": "index", "kind": "index", "ok": False, "ms": 0.0, "detail": str(exc)}]
    return [run_one(store, m) for m in installed]


def run_one(store: ModelStore, model: InstalledModel) -> dict[str, Any]:
    kind = model.spec.kind
    started = time.perf_counter()
    runner = RUNNERS.get(kind)
    try:
        if runner is None:
            raise InferenceError(f"no self-test for models of kind {kind}")
        verified = store.open(model.name)
        detail = runner(verified)
        ok = True
    except Exception as exc:  # any failure of one model is its result, not the request's
        log.warning("model self-test: %s failed: %s", model.name, exc)
        ok, detail = False, str(exc) or type(exc).__name__
    ms = (time.perf_counter() - started) * 1000.0
    return {"name": model.name, "kind": kind, "ok": ok, "ms": round(ms, 1), "detail": detail}


# --- samples ----------------------------------------------------------------------------------

def tone(seconds: float = 1.0, freq: float = 440.0, amplitude: float = 0.05
         ) -> npt.NDArray[np.int16]:
    """A quiet sine tone as int16 samples at :data:`SAMPLE_RATE`."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def face_image() -> Image:
    """A drawn face on a grey background (BGR): skin oval, eyes, nose and mouth."""
    w, h = IMAGE_SIZE
    image = np.full((h, w, 3), 110, np.uint8)
    cx, cy = w // 2, h // 2
    cv2.ellipse(image, (cx, cy), (55, 72), 0, 0, 360, (150, 180, 225), -1)
    for dx in (-22, 22):
        cv2.ellipse(image, (cx + dx, cy - 18), (10, 6), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(image, (cx + dx, cy - 18), 4, (40, 30, 30), -1)
    cv2.line(image, (cx, cy - 8), (cx - 5, cy + 14), (110, 130, 180), 2)
    cv2.ellipse(image, (cx, cy + 32), (20, 8), 0, 0, 180, (80, 60, 160), 3)
    return image


def face_box() -> Any:
    """Where :func:`face_image` drew the face, as the detector would report it."""
    from inference.vision.faces import Detection

    w, h = IMAGE_SIZE
    cx, cy = 0.5, 0.5
    return Detection(x=cx - 55 / w, y=cy - 72 / h, w=110 / w, h=144 / h, score=1.0,
                     keypoints=((cx - 22 / w, cy - 18 / h), (cx + 22 / w, cy - 18 / h),
                                (cx, cy + 4 / h), (cx, cy + 32 / h),
                                (cx - 50 / w, cy - 10 / h), (cx + 50 / w, cy - 10 / h)))


# --- one runner per kind ----------------------------------------------------------------------

def run_speech(model: VerifiedModel) -> str:
    """Load the model with its own backend and decode a second of tone rising out of
    silence (so that the pause detector passes it to the decoder)."""
    from inference.speech.recognizer import BACKENDS
    from inference.speech.whisper import WhisperSettings

    languages = model.spec.served_languages() or ("und",)
    recognizer = BACKENDS[model.spec.speech_backend](model, languages, WhisperSettings())
    stream = recognizer.stream(languages[0], partials=False)
    stream.feed(np.zeros(SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE)
    stream.feed(tone(), SAMPLE_RATE)
    transcript = stream.finish()
    return (f"{model.spec.speech_backend} recognised 1 s of a tone ({languages[0]}):"
            f" {len(transcript.words)} word(s), {'silent' if transcript.silent else 'not silent'}")


def run_face_detection(model: VerifiedModel) -> str:
    from inference.vision.faces import FaceDetector

    faces = FaceDetector(TFLiteModel(model.path, num_threads=1)).detect(face_image())
    return f"ran on a drawn face: {len(faces)} face(s) found"


def run_face_landmarks(model: VerifiedModel) -> str:
    from inference.vision.landmarks import FaceMesh

    mesh = FaceMesh(TFLiteModel(model.path, num_threads=1)).estimate(face_image(), face_box())
    if mesh is None:
        raise InferenceError("the face mesh model gave no landmarks for the drawn face")
    return f"ran on a drawn face: {len(mesh.points)} landmarks, presence {mesh.presence:.2f}"


def run_expression(model: VerifiedModel) -> str:
    from inference.vision.expression import ExpressionClassifier, top_expression

    found = ExpressionClassifier(TFLiteModel(model.path, num_threads=1)).classify(
        face_image(), face_box())
    if found is None:
        raise InferenceError("the expression model gave no result for the drawn face")
    return f"ran on a drawn face: {len(found)} classes, top '{top_expression(found)}'"


def hand_image() -> Image:
    """A drawn open hand on a grey background (BGR): a palm and five fingers."""
    w, h = IMAGE_SIZE
    image = np.full((h, w, 3), 110, np.uint8)
    skin = (150, 180, 225)
    cx, cy = w // 2, h // 2 + 40
    cv2.ellipse(image, (cx, cy), (38, 45), 0, 0, 360, skin, -1)
    for dx, length in ((-30, 55), (-12, 75), (6, 80), (24, 70)):
        cv2.line(image, (cx + dx, cy - 25), (cx + dx, cy - 25 - length), skin, 14)
    cv2.line(image, (cx - 35, cy + 5), (cx - 80, cy - 30), skin, 16)
    return image


def run_hands(model: VerifiedModel) -> str:
    from inference.vision.hands import HandTracker

    root = model.path if model.path.is_dir() else model.path.parent
    tracker = HandTracker.load(root, num_threads=1)
    palms = tracker.palms(hand_image())
    hands = tracker.find(hand_image())
    return f"ran on a drawn hand: {len(palms)} palm(s), {len(hands)} hand(s) found"


RUNNERS: dict[str, Runner] = {
    "speech": run_speech,
    "face_detection": run_face_detection,
    "face_landmarks": run_face_landmarks,
    "expression": run_expression,
    "hands": run_hands,
}
