"""The camera snapshot drawn with half blocks: exact colours, fitted size, bad bytes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rich.color import Color

from tui.halfblock import UPPER_HALF, decode, jpeg_to_text, render
from tui.screens.selftest import meter


def test_each_cell_is_an_upper_half_block_with_the_two_pixels_as_colours() -> None:
    rgb = np.zeros((4, 2, 3), np.uint8)
    rgb[0::2] = (255, 0, 0)   # even rows red
    rgb[1::2] = (0, 0, 255)   # odd rows blue
    text = render(rgb, columns=2, rows=2)
    assert text.plain == f"{UPPER_HALF * 2}\n{UPPER_HALF * 2}"
    for span in text.spans:
        assert span.style.color == Color.from_rgb(255, 0, 0)  # type: ignore[union-attr]
        assert span.style.bgcolor == Color.from_rgb(0, 0, 255)  # type: ignore[union-attr]


def test_a_jpeg_is_fitted_into_the_cells_keeping_its_aspect() -> None:
    image = np.full((240, 320, 3), 128, np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    lines = jpeg_to_text(jpeg.tobytes(), columns=36, rows=9).plain.split("\n")
    assert len(lines) == 9 and {len(line) for line in lines} == {24}  # 320x240 -> 24x18 px


def test_bytes_that_are_no_image_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not a readable JPEG"):
        decode(b"not a jpeg")


def test_the_level_meter_spans_minus_60_to_0_dbfs() -> None:
    assert meter(-60.0, 10).count("█") == 0
    assert meter(-30.0, 10).count("█") == 5
    assert meter(0.0, 10).count("█") == 10
    assert "█" not in meter(None, 10)
