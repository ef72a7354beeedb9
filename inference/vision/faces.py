"""Face detection with MediaPipe's BlazeFace short-range model (128x128, 896 anchors).

Frames of any aspect ratio are scaled to fit 128x128 and centred on a black canvas (the
model's -1), then boxes and keypoints are mapped back to 0-1 frame coordinates. Wide
frames are also searched in square tiles (see :class:`FaceDetector`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import Box
from inference.models.tflite import TFLiteModel
from inference.vision.anchors import (
    Corners,
    Decoder,
    corners,
    iou,
    logit,
    sigmoid,
    ssd_anchors,
    weighted_nms,
)
from inference.vision.crops import lookup_table
from inference.vision.errors import check_frame

INPUT_SIZE = 128
_TO_SIGNED = lookup_table(-1.0, 1.0)
MIN_TILE = 32
"""Smallest tile searched, pixels."""


@dataclass(frozen=True, eq=False)
class Detection:
    """One face: box (x, y, w, h) and 6 keypoints (x, y) in 0-1 frame coordinates.

    The box is not clipped to the frame (a face can hang over its edge); :meth:`to_box`
    clips. Keypoints: right eye, left eye, nose tip, mouth, right ear, left ear.
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: tuple[tuple[float, float], ...] = field(repr=False)

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def to_box(self) -> Box:
        """The record, clipped to the frame."""
        x0, y0 = max(self.x, 0.0), max(self.y, 0.0)
        x1, y1 = min(self.x + self.w, 1.0), min(self.y + self.h, 1.0)
        return Box(x=x0, y=y0, w=max(x1 - x0, 0.0), h=max(y1 - y0, 0.0), score=self.score)


@dataclass(frozen=True, eq=False)
class Scan:
    """What one detector pass over a frame found: faces (best first) and mean luma."""

    faces: list[Detection]
    brightness: float


@dataclass(frozen=True, eq=False)
class _Letterbox:
    """Buffers for one image size: the black 128x128 BGR canvas whose ``inner`` view the
    scaled image is written into (the padding stays black), its RGB copy, and the decoder
    of that geometry."""

    size: tuple[int, int]
    canvas: npt.NDArray[np.uint8]
    inner: npt.NDArray[np.uint8]
    rgb: npt.NDArray[np.uint8]
    decoder: Decoder


class FaceDetector:
    """BlazeFace on BGR uint8 frames: ``scan(frame)`` -> faces, best score first.

    Wide (or tall) frames lose resolution when letterboxed to 128x128, so when the long
    side is at least ``tile_aspect`` times the short one the detector also runs on
    overlapping square tiles (overlap >= half the short side) and merges the results;
    ``tile_aspect=None`` never tiles. A 4:3 frame is not tiled by default. Faces smaller
    than about 0.16 of the frame's long side are missed without tiles (``fine``).
    """

    def __init__(
        self,
        model: TFLiteModel,
        *,
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        max_faces: int = 8,
        max_candidates: int = 64,
        tile_aspect: float | None = 1.5,
        fine_tile: float = 2 / 3,
    ) -> None:
        spec = model.inputs[0]
        if spec.shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{model.path.name} is not a 128x128 BlazeFace model: {spec.shape}")
        if not 0 < min_score < 1:
            raise ValueError(f"min_score must be between 0 and 1, got {min_score}")
        self.model = model
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.max_faces = max_faces
        self.max_candidates = max_candidates
        self.tile_aspect = tile_aspect
        self.fine_tile = fine_tile
        self.anchors = ssd_anchors(INPUT_SIZE)
        regressors = next(s for s in model.outputs if s.shape[-1] == 16)
        if regressors.shape[1] != len(self.anchors):
            raise ValueError(
                f"{model.path.name}: {regressors.shape[1]} boxes, expected "
                f"{len(self.anchors)} anchors"
            )
        self._box_out = model.outputs.index(regressors)
        self._score_out = 1 - self._box_out
        self._letterboxes: dict[tuple[int, ...], _Letterbox] = {}
        self._min_logit = logit(min_score)

    def detect(self, frame: npt.NDArray[np.uint8], *, fine: bool = False) -> list[Detection]:
        """Faces in a BGR frame, best first (at most ``max_faces``)."""
        return self.scan(frame, fine=fine).faces

    def scan(self, frame: npt.NDArray[np.uint8], *, fine: bool = False) -> Scan:
        """Faces in a BGR frame and its mean luma (0-255, from the downscaled frame).

        ``fine`` also searches tiles of ``fine_tile`` x the short side, finding faces down
        to about a tenth of the frame's height at several times the cost (for the framing
        check, not for every analysed frame).
        """
        check_frame(frame)
        h, w = frame.shape[:2]
        found, brightness = self._detect_square(frame, measure=True)
        side = 0
        if fine:
            side = round(self.fine_tile * min(h, w))
        elif self.tile_aspect is not None and max(h, w) >= self.tile_aspect * min(h, w):
            side = min(h, w)
        if side >= MIN_TILE:
            found = _hard_nms(found + self._detect_tiles(frame, side), self.iou_threshold)
        return Scan(faces=found[: self.max_faces], brightness=brightness)

    def _detect_square(
        self, image: npt.NDArray[np.uint8], *, measure: bool = False
    ) -> tuple[list[Detection], float]:
        """Letterbox ``image`` to 128x128, run the model, map faces back to 0-1 of it; and
        with ``measure`` the mean luma of the scaled image (else 0)."""
        box = self._letterboxes.get(image.shape[:2]) or self._letterbox(image.shape[:2])
        cv2.resize(image, box.size, dst=box.inner, interpolation=cv2.INTER_LINEAR)
        brightness = 0.0
        if measure:  # while the scaled image is still in cache
            b, g, r, _ = cv2.mean(box.inner)
            brightness = float(0.114 * b + 0.587 * g + 0.299 * r)
        cv2.cvtColor(box.canvas, cv2.COLOR_BGR2RGB, dst=box.rgb)
        # Black (-1) padding included: the input is written whole, in place, every pass.
        cv2.LUT(box.rgb, _TO_SIGNED, dst=self.model.input_view()[0])
        self.model.invoke(copy_outputs=False)
        logits = self.model.output_view(self._score_out).reshape(-1)
        keep = np.flatnonzero(logits >= self._min_logit)
        if keep.size > self.max_candidates:
            keep = keep[np.argsort(-logits[keep])[: self.max_candidates]]
        kept_logits = logits[keep].tolist()
        del logits  # views of the runtime's memory must be gone before its next invoke
        if not kept_logits:
            return [], brightness
        rows = box.decoder(self.model.output_view(self._box_out)[0], keep).tolist()
        scores = [sigmoid(v) for v in kept_logits]
        faces = [
            _detection(row, score) for row, score in weighted_nms(rows, scores, self.iou_threshold)
        ]
        return faces, brightness

    def _letterbox(self, shape: tuple[int, ...]) -> _Letterbox:
        """The letterbox of an image of ``shape`` (height, width), made once per shape."""
        if len(self._letterboxes) >= 16:  # frames (and tiles) of many sizes: start over
            self._letterboxes.clear()
        h, w = shape[0], shape[1]
        scale = INPUT_SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        box = _Letterbox(
            size=(nw, nh),
            canvas=canvas,
            inner=canvas[py : py + nh, px : px + nw],
            rgb=np.empty_like(canvas),
            decoder=Decoder(self.anchors, INPUT_SIZE, (px, py), (nw, nh)),
        )
        self._letterboxes[(h, w)] = box
        return box

    def _detect_tiles(self, frame: npt.NDArray[np.uint8], side: int) -> list[Detection]:
        """Faces found in a grid of overlapping ``side``-pixel square tiles (overlap at least
        half a tile), in 0-1 of the frame. Faces cut by a tile's inner edge are dropped:
        another tile, or the whole-frame pass, holds them whole."""
        h, w = frame.shape[:2]
        xs, ys = _offsets(w, side), _offsets(h, side)
        margin = 0.01
        found: list[Detection] = []
        for y0 in ys:
            for x0 in xs:
                inner = (x0 > 0, y0 > 0, x0 + side < w, y0 + side < h)
                for face in self._detect_square(frame[y0 : y0 + side, x0 : x0 + side])[0]:
                    cut = (
                        face.x < margin,
                        face.y < margin,
                        face.x + face.w > 1 - margin,
                        face.y + face.h > 1 - margin,
                    )
                    if any(i and c for i, c in zip(inner, cut, strict=True)):
                        continue
                    found.append(_from_tile(face, x0 / w, y0 / h, side / w, side / h))
        return found


def _offsets(length: int, side: int) -> list[int]:
    """Tile starts along one axis: the fewest tiles of ``side`` overlapping by >= side/2."""
    if side >= length:
        return [0]
    count = math.ceil(2 * length / side - 1)
    return [int(v) for v in np.linspace(0, length - side, count).round()]


def _detection(row: Sequence[float], score: float) -> Detection:
    x0, y0, x1, y1 = corners(row)
    points = tuple((row[i], row[i + 1]) for i in range(4, len(row) - 1, 2))
    return Detection(x=x0, y=y0, w=x1 - x0, h=y1 - y0, score=score, keypoints=points)


def _from_tile(face: Detection, x0: float, y0: float, sx: float, sy: float) -> Detection:
    """A face found in a tile at (x0, y0) of size (sx, sy), all 0-1 of the frame."""
    points = tuple((x0 + px * sx, y0 + py * sy) for px, py in face.keypoints)
    return Detection(
        x=x0 + face.x * sx,
        y=y0 + face.y * sy,
        w=face.w * sx,
        h=face.h * sy,
        score=face.score,
        keypoints=points,
    )


def _hard_nms(faces: list[Detection], iou_threshold: float) -> list[Detection]:
    """Best-first faces, dropping any that overlaps a better one by more than the threshold."""
    kept: list[tuple[Detection, Corners]] = []
    for face in sorted(faces, key=lambda f: -f.score):
        box = (face.x, face.y, face.x + face.w, face.y + face.h)
        if all(iou(box, other) <= iou_threshold for _, other in kept):
            kept.append((face, box))
    return [face for face, _ in kept]


__all__ = ["INPUT_SIZE", "Detection", "FaceDetector", "Scan"]
