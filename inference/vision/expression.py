"""Facial expression from the FER-2013 model (``emotion_model_quantized.tflite``).

Preprocessing as the ``fer`` package does it: the face box made square, widened by a small
margin, cut from the grayscale frame (black beyond the frame's edge), resized to 64x64 and
scaled to -1..1. The output is seven probabilities in :data:`EXPRESSIONS` order.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import EXPRESSIONS
from inference.models.tflite import TFLiteModel
from inference.vision.crops import lookup_table, square_crop, to_input
from inference.vision.faces import Detection

INPUT_SIZE = 64
_TO_SIGNED = lookup_table(-1.0, 1.0)


class ExpressionClassifier:
    """Expression probabilities of a detected face.

    ``margin`` widens the squared face box on each side by that share of its side (``fer``
    adds 10 px to its Haar boxes, which sit higher and larger than BlazeFace's tight box; 0.2
    matched the CREMA-D clips best).
    """

    def __init__(self, model: TFLiteModel, *, margin: float = 0.2) -> None:
        spec = model.inputs[0]
        if spec.shape != (1, INPUT_SIZE, INPUT_SIZE, 1):
            raise ValueError(
                f"{model.path.name} is not a 64x64 grayscale expression model: {spec.shape}"
            )
        if model.outputs[0].shape[-1] != len(EXPRESSIONS):
            raise ValueError(
                f"{model.path.name} has {model.outputs[0].shape[-1]} classes, "
                f"expected {len(EXPRESSIONS)}"
            )
        self.model = model
        self.margin = margin
        self._crop = np.empty((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)  # reused every face
        self._gray = np.empty((INPUT_SIZE, INPUT_SIZE), np.uint8)

    def probabilities(
        self, frame: npt.NDArray[np.uint8], face: Detection
    ) -> npt.NDArray[np.float32] | None:
        """Seven probabilities for ``face`` in the BGR ``frame``; None when the face box lies
        outside the frame."""
        return self.run() if self.prepare(frame, face) else None

    def prepare(self, frame: npt.NDArray[np.uint8], face: Detection) -> bool:
        """Write ``face``'s gray crop into the model's input; False (nothing written) when
        the face box lies outside the frame. :meth:`run` then invokes the model."""
        h, w = frame.shape[:2]
        cx, cy = face.centre
        size = max(face.w * w, face.h * h) * (1 + 2 * self.margin)
        if square_crop(frame, cx * w, cy * h, size, INPUT_SIZE, self._crop) is None:
            return False
        cv2.cvtColor(self._crop, cv2.COLOR_BGR2GRAY, dst=self._gray)
        view = self.model.input_view()
        to_input(self._gray, _TO_SIGNED, view[0, :, :, 0])
        del view  # the runtime will not run while a view of its memory is alive
        return True

    def run(self) -> npt.NDArray[np.float32]:
        """Invoke the model on the input :meth:`prepare` wrote: the seven probabilities."""
        probs: npt.NDArray[np.float32] = self.model.invoke()[0].reshape(-1)
        return probs

    def classify(self, frame: npt.NDArray[np.uint8], face: Detection) -> dict[str, float] | None:
        """``probabilities`` as a dict keyed by :data:`EXPRESSIONS`."""
        probs = self.probabilities(frame, face)
        return None if probs is None else expression_dict(probs)


def expression_dict(probs: npt.NDArray[np.floating]) -> dict[str, float]:
    """Seven probabilities as ``{name: p}``, normalised to sum to 1."""
    values = probs.tolist()
    total = sum(values)
    scale = 1.0 / total if total > 0 else 0.0
    return {name: p * scale for name, p in zip(EXPRESSIONS, values, strict=True)}


def top_expression(expression: dict[str, float]) -> str:
    """The most probable class (first in :data:`EXPRESSIONS` order on a tie)."""
    return max(EXPRESSIONS, key=lambda name: expression.get(name, 0.0))


__all__ = ["INPUT_SIZE", "ExpressionClassifier", "expression_dict", "top_expression"]
