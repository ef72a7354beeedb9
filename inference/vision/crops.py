"""Square crops of a frame resized for a model, cheap on the common upright case.

An axis-aligned crop is a slice plus ``cv2.resize`` (pixels outside the frame are black);
only a crop that must be rotated pays for ``cv2.warpAffine``, which costs several times as
much on small outputs.
"""

from __future__ import annotations

import math
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


def square_crop(
    image: npt.NDArray[np.uint8],
    cx: float,
    cy: float,
    size: float,
    out: int,
    dst: npt.NDArray[np.uint8] | None = None,
) -> tuple[npt.NDArray[np.uint8], Matrix] | None:
    """The ``size``-pixel square centred on (cx, cy), resized to ``out`` x ``out``.

    Returns the crop and the 2x3 affine taking crop pixels to image pixels, or None when
    the square lies wholly outside the image or is under one pixel. ``dst``: a contiguous
    ``out`` x ``out`` buffer of the image's channels to write the crop into (and return).
    """
    found = _square(image, cx, cy, size)
    if found is None:
        return None
    region, x0, y0, side = found
    crop = cast(
        "npt.NDArray[np.uint8]",
        cv2.resize(region, (out, out), dst=dst, interpolation=cv2.INTER_LINEAR),
    )
    return crop, _affine(x0, y0, side / out)


def square_input(
    image: npt.NDArray[np.uint8],
    cx: float,
    cy: float,
    size: float,
    table: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    scratch: tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]],
) -> Matrix | None:
    """:func:`square_crop` of a BGR image written straight into a model's RGB float input
    ``out`` (contiguous, n x n x 3) as ``table[pixel]``; returns the affine (or None).

    Colour conversion and scaling run at the lower of the two resolutions: a square no
    larger than the input is converted, then resized in float (no rounding to 8 bits on
    the way); a larger one is resized first. ``scratch``: flat uint8 and float32 buffers
    of at least n * n * 3 elements.
    """
    found = _square(image, cx, cy, size)
    if found is None:
        return None
    region, x0, y0, side = found
    n = out.shape[0]
    small, scaled = scratch
    if side <= n:
        count = side * side * 3
        rgb = small[:count].reshape(side, side, 3)
        cv2.cvtColor(region, cv2.COLOR_BGR2RGB, dst=rgb)
        unit = scaled[:count].reshape(side, side, 3)
        cv2.LUT(rgb, table, dst=unit)
        cv2.resize(unit, (n, n), dst=out, interpolation=cv2.INTER_LINEAR)
    else:
        crop = small[: n * n * 3].reshape(n, n, 3)
        cv2.resize(region, (n, n), dst=crop, interpolation=cv2.INTER_LINEAR)
        cv2.cvtColor(crop, cv2.COLOR_BGR2RGB, dst=crop)
        cv2.LUT(crop, table, dst=out)
    return _affine(x0, y0, side / n)


def _square(
    image: npt.NDArray[np.uint8], cx: float, cy: float, size: float
) -> tuple[npt.NDArray[np.uint8], int, int, int] | None:
    """The pixels of the ``size`` square centred on (cx, cy), black beyond the image's
    edge, with its top-left corner and side; None when it misses the image."""
    side = round(size)
    if side < 1:
        return None
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    h, w = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    region: npt.NDArray[Any] = image[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) != (x0, y0, x0 + side, y0 + side):
        region = cv2.copyMakeBorder(
            region,
            cy0 - y0,
            y0 + side - cy1,
            cx0 - x0,
            x0 + side - cx1,
            cv2.BORDER_CONSTANT,
            value=0,
        )
    return region, x0, y0, side


def _affine(x0: int, y0: int, s: float) -> Matrix:
    """Crop pixels to image pixels for a square at (x0, y0) scaled by ``s`` per pixel."""
    return np.array([[s, 0.0, x0 + 0.5 * s - 0.5], [0.0, s, y0 + 0.5 * s - 0.5]])


def rotated_crop(
    image: npt.NDArray[np.uint8],
    cx: float,
    cy: float,
    size: float,
    angle: float,
    out: int,
    dst: npt.NDArray[np.uint8] | None = None,
) -> tuple[npt.NDArray[np.uint8], Matrix]:
    """The square of ``size`` centred on (cx, cy) and turned by ``angle`` radians
    (clockwise in the image), resampled upright to ``out`` x ``out``; and its affine.
    ``dst`` as for :func:`square_crop`."""
    s = size / out
    c, si = math.cos(angle) * s, math.sin(angle) * s
    half = out / 2
    matrix = np.array(
        [
            [c, -si, cx - (c - si) * half],
            [si, c, cy - (si + c) * half],
        ]
    )
    crop: Any = cv2.warpAffine(
        image,
        matrix,
        (out, out),
        dst=dst,
        flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return crop, matrix


def crop_to_image(points: npt.NDArray[np.float32], matrix: Matrix) -> npt.NDArray[np.float32]:
    """(N, 2+) crop-pixel points to image pixels; extra columns (z) scale with the crop."""
    mapped = np.empty_like(points)
    mapped[:, :2] = points[:, :2] @ matrix[:, :2].T.astype(np.float32) + matrix[:, 2]
    if points.shape[1] > 2:
        mapped[:, 2:] = points[:, 2:] * math.hypot(matrix[0, 0], matrix[1, 0])
    return mapped


def lookup_table(low: float, high: float) -> npt.NDArray[np.float32]:
    """A 1x256 float32 table taking 8-bit values 0..255 linearly to ``low``..``high``."""
    table = np.linspace(low, high, 256, dtype=np.float64).astype(np.float32)
    return table.reshape(1, 256)


def to_input(
    image: npt.NDArray[Any], table: npt.NDArray[np.float32], out: npt.NDArray[np.float32]
) -> None:
    """Write ``table[image]`` into the float32 view ``out`` (a model's input) in one pass."""
    if out.flags.c_contiguous:
        cv2.LUT(image, table, dst=out)
    else:
        out[...] = cv2.LUT(image, table)


__all__ = [
    "crop_to_image",
    "lookup_table",
    "rotated_crop",
    "square_crop",
    "square_input",
    "to_input",
]
