"""Errors of the vision package and the frame check every entry point runs first."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from inference.errors import InferenceError
from inference.media import MediaError as RecordingError


class VisionError(InferenceError, ValueError):
    """Bad input to the vision analysis (a frame or a media file)."""


class FrameError(VisionError):
    """A frame is not an 8-bit colour image (H x W x 3 uint8, BGR as OpenCV reads it)."""


class MediaError(VisionError, RecordingError):
    """A video file is missing, unreadable, corrupt or holds no decodable frame (also an
    :class:`inference.media.MediaError`, so one handler catches every unreadable recording)."""


MIN_SIDE = 16
"""Smallest frame side analysed, pixels."""


def check_frame(frame: Any, *, name: str = "frame") -> npt.NDArray[np.uint8]:
    """``frame`` itself when it is an H x W x 3 uint8 array of at least 16x16; else FrameError."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"{name} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"{name} must be uint8 (8-bit BGR), got dtype {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"{name} must have shape (height, width, 3), got {frame.shape}")
    if min(frame.shape[:2]) < MIN_SIDE:
        raise FrameError(f"{name} is too small to analyse: {frame.shape[1]}x{frame.shape[0]}")
    return frame


__all__ = ["MIN_SIDE", "FrameError", "MediaError", "VisionError", "check_frame"]
