"""A JPEG drawn in the terminal: two pixels per cell with the upper half block "▀"
(foreground = upper pixel, background = lower pixel)."""

from __future__ import annotations

import cv2
import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

UPPER_HALF = "▀"


def decode(jpeg: bytes) -> np.ndarray:
    """The image as RGB rows; ValueError when the bytes are not an image."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the camera snapshot is not a readable JPEG")
    return np.ascontiguousarray(image[:, :, ::-1])


def render(rgb: np.ndarray, columns: int, rows: int) -> Text:
    """Fit the image into ``columns`` x ``rows`` cells, keeping its aspect ratio."""
    height, width = rgb.shape[:2]
    scale = min(columns / width, 2 * rows / height)
    w = max(1, round(width * scale))
    h = max(2, round(height * scale))
    h += h % 2
    small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    text = Text(no_wrap=True, overflow="crop")
    styles: dict[tuple[int, ...], Style] = {}
    for y in range(0, h, 2):
        for x in range(w):
            top, bottom = small[y, x], small[y + 1, x]
            key = (*top.tolist(), *bottom.tolist())
            style = styles.get(key)
            if style is None:
                style = styles[key] = Style(color=Color.from_rgb(*top.tolist()),
                                            bgcolor=Color.from_rgb(*bottom.tolist()))
            text.append(UPPER_HALF, style)
        if y + 2 < h:
            text.append("\n")
    return text


def jpeg_to_text(jpeg: bytes, columns: int, rows: int) -> Text:
    return render(decode(jpeg), columns, rows)
