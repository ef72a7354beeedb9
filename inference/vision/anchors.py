"""MediaPipe SSD anchors, box decoding and weighted non-max suppression.

Shared by the BlazeFace face detector and the palm detector. Anchors follow MediaPipe's
``SsdAnchorsCalculator`` with both models' options: 4 layers, strides 8, 16, 16, 16,
offsets 0.5, fixed anchor size; input 128 for faces (896 anchors), 192 for palms (2016). Layers
of the same stride share one grid, each layer adding 2 anchors per cell (the aspect ratio 1
anchor and the interpolated one), so stride 8 gives 16x16 cells x 2 and stride 16 gives
8x8 cells x 6: 896 anchors, ordered row, column, anchor as the model's outputs are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

SHORT_RANGE_STRIDES: tuple[int, ...] = (8, 16, 16, 16)
KEYPOINTS: tuple[str, ...] = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
"""BlazeFace keypoints in output order ("right" is the subject's right, image left)."""


def ssd_anchors(
    input_size: int = 128,
    strides: tuple[int, ...] = SHORT_RANGE_STRIDES,
    anchors_per_layer: int = 2,
    offset: float = 0.5,
) -> FloatArray:
    """Anchor centres, shape (N, 2) as (x, y) in 0-1; fixed size 1x1 so no w/h is kept."""
    grids: list[FloatArray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        cells = math.ceil(input_size / stride)
        centres = (np.arange(cells, dtype=np.float32) + offset) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        grids.append(np.repeat(grid, same * anchors_per_layer, axis=0))
        layer += same
    return np.concatenate(grids).astype(np.float32)


class Decoder:
    """Regressor rows straight to frame coordinates, for one letterbox geometry.

    A row is (x, y, w, h, then x, y of each keypoint) in input pixels relative to its
    anchor; decoded, it is (centre x, centre y, w, h, keypoints...) in 0-1 of the frame.
    ``columns``: the row length (16 for BlazeFace's 6 keypoints, 18 for the palm's 7).
    The letterbox map is affine, so it is folded with the anchors into one multiplier per
    column and one addend per anchor and column: decoding is a multiply and an add.
    """

    def __init__(
        self,
        anchors: FloatArray,
        input_size: int,
        pad: tuple[int, int] = (0, 0),
        inner: tuple[int, int] | None = None,
        columns: int = 16,
    ) -> None:
        width, height = inner if inner is not None else (input_size, input_size)
        gain = np.array([input_size / width, input_size / height])  # 0-1 of input -> of frame
        shift = -np.array(pad, dtype=np.float64) / (width, height)
        axis = np.arange(columns) % 2  # 0: x-like column, 1: y-like
        self.multiplier = (gain[axis] / input_size).astype(np.float32)
        addend = anchors.astype(np.float64)[:, axis] * gain[axis] + shift[axis]
        addend[:, 2:4] = 0.0  # w and h have no anchor offset (fixed anchor size 1)
        self.addend = addend.astype(np.float32)

    def __call__(self, raw: FloatArray, keep: npt.NDArray[np.intp]) -> FloatArray:
        """Decode the rows ``keep`` of the model's (N, columns) regressor output."""
        rows: FloatArray = raw[keep] * self.multiplier + self.addend[keep]
        return rows


def sigmoid(logit: float, clip: float = 100.0) -> float:
    """A score from a classificator logit, clipped to ``±clip`` first as MediaPipe does."""
    return 1.0 / (1.0 + math.exp(-max(-clip, min(clip, logit))))


def logit(p: float) -> float:
    """The logit whose sigmoid is ``p`` (0 < p < 1): thresholds scores before the sigmoid."""
    return math.log(p / (1.0 - p))


Corners = tuple[float, float, float, float]


def corners(row: Sequence[float]) -> Corners:
    """(x0, y0, x1, y1) of a decoded row (centre x, centre y, w, h, ...)."""
    cx, cy, hw, hh = row[0], row[1], row[2] / 2, row[3] / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


def iou(a: Corners, b: Corners) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 when both are empty)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(
    rows: Sequence[Sequence[float]], scores: Sequence[float], iou_threshold: float = 0.3
) -> list[tuple[list[float], float]]:
    """MediaPipe's weighted NMS over decoded rows (centre x, centre y, w, h, keypoints...).

    Each cluster (the best remaining face and every remaining one overlapping it by IoU >
    threshold) becomes one score-weighted average row, keeping the best score; best first.
    IoU is the same in input and frame coordinates (both axes only scale and shift). Plain
    Python: only the few anchors above the score threshold get here (a handful per face),
    too few for numpy's per-call cost to pay off.
    """
    boxes = [corners(r) for r in rows]
    remaining = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    out: list[tuple[list[float], float]] = []
    while remaining:
        best = remaining[0]
        cluster = [best]
        rest: list[int] = []
        for j in remaining[1:]:
            (cluster if iou(boxes[best], boxes[j]) > iou_threshold else rest).append(j)
        total = sum(scores[j] for j in cluster)
        merged = [0.0] * len(rows[best])  # summed row by row, in the cluster's order
        for j in cluster:
            weight = scores[j]
            merged = [m + weight * v for m, v in zip(merged, rows[j], strict=True)]
        out.append(([m / total for m in merged], scores[best]))
        remaining = rest
    return out


__all__ = [
    "KEYPOINTS",
    "SHORT_RANGE_STRIDES",
    "Corners",
    "Decoder",
    "corners",
    "iou",
    "logit",
    "sigmoid",
    "ssd_anchors",
    "weighted_nms",
]
