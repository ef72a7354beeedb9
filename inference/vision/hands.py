"""Hands in a frame, with MediaPipe's lite hand models: palm detection, then hand landmarks.

Palm detection (192x192, 2016 anchors, 7 keypoints) runs on the whole frame, letterboxed as
the face detector does but with pixels scaled to 0-1. Each palm gives the hand's region as
MediaPipe derives it: the palm box turned so that the wrist (keypoint 0) lies below the
middle finger's knuckle (keypoint 2), moved half a box towards the fingers and widened to a
square 2.6 times the box's long side. That square, resampled upright to 224x224, goes to
the landmark model, which gives 21 landmarks and the hand's presence (0-1). A hand is kept
when its presence reaches ``min_presence``; its box is the landmarks' bounding box.

Each frame is searched afresh (no tracking between frames): analysed frames are sampled a
few times a second, too far apart for one frame's hands to seed the next frame's crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import Box
from inference.models.tflite import TFLiteModel
from inference.vision.anchors import Decoder, logit, sigmoid, ssd_anchors, weighted_nms
from inference.vision.crops import crop_to_image, lookup_table, rotated_crop
from inference.vision.errors import check_frame

PALM_INPUT = 192
LANDMARK_INPUT = 224
PALM_COLUMNS = 18
"""Box (4) and 7 keypoints (x, y): wrist, index knuckle, middle knuckle, ring knuckle,
pinky knuckle, thumb base, thumb joint."""
ROI_SCALE = 2.6
ROI_SHIFT = 0.5
"""The hand's square is moved this share of the palm box's height towards the fingers."""
PALM_FILE = "palm_detection_lite.tflite"
LANDMARK_FILE = "hand_landmark_lite.tflite"
_TO_UNIT = lookup_table(0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Hand:
    """One hand: its box (landmarks' bounds) in 0-1 of the frame, presence and the 21
    landmarks (x, y) in 0-1 of the frame (wrist first)."""

    box: Box
    presence: float
    landmarks: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Palm:
    """A palm detection in frame pixels: centre, size, score, and the hand's rotation
    (radians, clockwise from fingers-up)."""

    cx: float
    cy: float
    w: float
    h: float
    score: float
    rotation: float

    def hand_square(self) -> tuple[float, float, float]:
        """Centre and side (pixels) of the square the landmark model reads."""
        cx = self.cx + ROI_SHIFT * self.h * math.sin(self.rotation)
        cy = self.cy - ROI_SHIFT * self.h * math.cos(self.rotation)
        return cx, cy, max(self.w, self.h) * ROI_SCALE


class HandTracker:
    """Palm detection then hand landmarks on BGR frames: ``find(frame)`` -> hands."""

    def __init__(
        self,
        palm_model: TFLiteModel,
        landmark_model: TFLiteModel,
        *,
        min_score: float = 0.5,
        min_presence: float = 0.5,
        max_hands: int = 2,
        iou_threshold: float = 0.3,
    ) -> None:
        if palm_model.inputs[0].shape != (1, PALM_INPUT, PALM_INPUT, 3):
            raise ValueError(f"{palm_model.path.name} is not a 192x192 palm detection model")
        if landmark_model.inputs[0].shape != (1, LANDMARK_INPUT, LANDMARK_INPUT, 3):
            raise ValueError(f"{landmark_model.path.name} is not a 224x224 hand landmark model")
        if not 0 < min_score < 1:
            raise ValueError(f"min_score must be between 0 and 1, got {min_score}")
        self.palm_model, self.landmark_model = palm_model, landmark_model
        self.min_presence, self.max_hands = min_presence, max_hands
        self.iou_threshold = iou_threshold
        self.anchors = ssd_anchors(PALM_INPUT)
        boxes = next(s for s in palm_model.outputs if s.shape[-1] == PALM_COLUMNS)
        if boxes.shape[1] != len(self.anchors):
            raise ValueError(
                f"{palm_model.path.name}: {boxes.shape[1]} boxes, expected {len(self.anchors)}"
            )
        self._box_out = palm_model.outputs.index(boxes)
        self._score_out = 1 - self._box_out
        sizes = [math.prod(s.shape) for s in landmark_model.outputs]
        self._points_out = sizes.index(63)  # the first 63-value output: x, y, z in crop pixels
        self._presence_out = sizes.index(1)  # then the hand-presence score
        self._min_logit = logit(min_score)
        self._canvas = np.zeros((PALM_INPUT, PALM_INPUT, 3), np.uint8)
        self._decoders: dict[tuple[int, int], Decoder] = {}
        self._crop = np.zeros((LANDMARK_INPUT, LANDMARK_INPUT, 3), np.uint8)

    @classmethod
    def load(cls, directory: str | Path, *, num_threads: int = 1) -> HandTracker:
        """The tracker from an installed hand model's directory."""
        root = Path(directory)
        return cls(
            TFLiteModel(root / PALM_FILE, num_threads=num_threads),
            TFLiteModel(root / LANDMARK_FILE, num_threads=num_threads),
        )

    def find(self, frame: npt.NDArray[np.uint8]) -> list[Hand]:
        """The hands in a BGR frame, most certain first (at most ``max_hands``)."""
        check_frame(frame)
        hands: list[Hand] = []
        for palm in self.palms(frame)[: self.max_hands]:
            hand = self._landmarks(frame, palm)
            if hand is not None and hand.presence >= self.min_presence:
                hands.append(hand)
        return sorted(hands, key=lambda h: -h.presence)

    def palms(self, frame: npt.NDArray[np.uint8]) -> list[Palm]:
        """Palms in a BGR frame, best score first, in frame pixels."""
        h, w = frame.shape[:2]
        scale = PALM_INPUT / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (PALM_INPUT - nw) // 2, (PALM_INPUT - nh) // 2
        self._canvas[...] = 0
        inner = self._canvas[py : py + nh, px : px + nw]
        cv2.resize(frame, (nw, nh), dst=inner, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(self._canvas, cv2.COLOR_BGR2RGB)
        self.palm_model.input_view()[0][...] = cv2.LUT(rgb, _TO_UNIT)
        self.palm_model.invoke(copy_outputs=False)
        logits = self.palm_model.output_view(self._score_out).reshape(-1)
        keep = np.flatnonzero(logits >= self._min_logit)
        kept = logits[keep].tolist()
        del logits  # views of the runtime's memory must be gone before its next invoke
        if not kept:
            return []
        decoder = self._decoders.get((w, h))
        if decoder is None:  # one per frame size: a recording keeps its size
            if len(self._decoders) >= 16:
                self._decoders.clear()
            decoder = Decoder(self.anchors, PALM_INPUT, (px, py), (nw, nh), columns=PALM_COLUMNS)
            self._decoders[(w, h)] = decoder
        rows = decoder(self.palm_model.output_view(self._box_out)[0], keep).tolist()
        merged = weighted_nms(rows, [sigmoid(v) for v in kept], self.iou_threshold)
        return [_palm(row, score, w, h) for row, score in merged]

    def _landmarks(self, frame: npt.NDArray[np.uint8], palm: Palm) -> Hand | None:
        cx, cy, side = palm.hand_square()
        if side < 1:
            return None
        crop, matrix = rotated_crop(frame, cx, cy, side, palm.rotation, LANDMARK_INPUT,
                                    self._crop)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        self.landmark_model.input_view()[0][...] = cv2.LUT(rgb, _TO_UNIT)
        self.landmark_model.invoke(copy_outputs=False)
        presence = float(self.landmark_model.output_view(self._presence_out).reshape(-1)[0])
        raw = np.array(self.landmark_model.output_view(self._points_out), dtype=np.float32)
        points = crop_to_image(raw.reshape(21, 3), matrix)
        h, w = frame.shape[:2]
        xs, ys = np.clip(points[:, 0] / w, 0.0, 1.0), np.clip(points[:, 1] / h, 0.0, 1.0)
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
        return Hand(
            box=Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0, score=presence),
            presence=presence,
            landmarks=tuple((float(x), float(y)) for x, y in zip(xs, ys, strict=True)),
        )


def _palm(row: list[float], score: float, width: int, height: int) -> Palm:
    """A decoded row (0-1 of the frame) in frame pixels, with the hand's rotation."""
    wrist_x, wrist_y = row[4] * width, row[5] * height
    knuckle_x, knuckle_y = row[8] * width, row[9] * height
    rotation = math.pi / 2 - math.atan2(-(knuckle_y - wrist_y), knuckle_x - wrist_x)
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    return Palm(
        cx=row[0] * width, cy=row[1] * height, w=row[2] * width, h=row[3] * height,
        score=score, rotation=rotation,
    )


__all__ = ["LANDMARK_FILE", "PALM_FILE", "Hand", "HandTracker", "Palm"]
