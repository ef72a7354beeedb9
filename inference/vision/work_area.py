"""Where a demonstration's work is looked for: the work area, less the candidate's face.

Motion is counted on a small grayscale copy of each frame (see ``inference.vision.motion``);
:func:`area_mask` says which of its pixels count: those inside the work area (the whole
picture when the task sets none) and outside every face's exclusion zone. A talking head
moves more than its face box: the zone is the face box grown by :data:`FACE_MARGIN` (hair,
ears, chin and neck, the shoulders' shrugs just under them), so speaking to the camera is
not taken for work.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from inference.findings import Box, WorkArea

Mask = npt.NDArray[np.bool_]

FACE_MARGIN = (0.6, 0.6, 0.6, 1.2)
"""Growth of a face box into its exclusion zone, in face widths (left, right) and face
heights (above, below)."""


def face_zone(box: Box) -> tuple[float, float, float, float]:
    """The exclusion zone (x0, y0, x1, y1), 0-1 of the frame, of a face box."""
    left, right, above, below = FACE_MARGIN
    return (
        box.x - left * box.w,
        box.y - above * box.h,
        box.x + box.w * (1 + right),
        box.y + box.h * (1 + below),
    )


def area_mask(
    shape: tuple[int, int], area: WorkArea | None, faces: Iterable[Box] = ()
) -> Mask:
    """Pixels of an image of ``shape`` (height, width) that count: inside ``area`` (all of
    the image when None) and outside every face's exclusion zone."""
    h, w = shape
    mask = np.zeros((h, w), np.bool_)
    if area is None:
        mask[...] = True
    else:
        mask[_span(area.y, area.y + area.height, h), _span(area.x, area.x + area.width, w)] = True
    for face in faces:
        x0, y0, x1, y1 = face_zone(face)
        mask[_span(y0, y1, h), _span(x0, x1, w)] = False
    return mask


def in_area(box: Box, area: WorkArea | None) -> bool:
    """Whether a (hand) box's centre lies in the work area (anywhere when None)."""
    if area is None:
        return True
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return area.x <= cx <= area.x + area.width and area.y <= cy <= area.y + area.height


def _span(start: float, end: float, length: int) -> slice:
    """Pixel rows (or columns) from ``start`` to ``end`` (0-1), clipped to the image."""
    return slice(min(max(round(start * length), 0), length), min(max(round(end * length), 0),
                                                                   length))


__all__ = ["FACE_MARGIN", "area_mask", "face_zone", "in_area"]
