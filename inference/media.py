"""Recorded media files: which is which, and the audio track of a video (through ffmpeg)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

from inference.errors import InferenceError

AUDIO_SUFFIXES = frozenset({".wav"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".flv", ".webm", ".h264", ".m4v"})


class MediaError(InferenceError, ValueError):
    """A recording that cannot be read: names the file and what is wrong."""


def kind_of(path: Path) -> str:
    """'audio' or 'video' from the file name; a clear error for anything else."""
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise MediaError(
        f"{path}: unsupported recording type '{suffix or '(none)'}' (audio: .wav; video: "
        + ", ".join(sorted(VIDEO_SUFFIXES))
        + ")"
    )


def extract_audio(video: Path, dest: Path, sample_rate: int = 16_000) -> Path | None:
    """Write the video's audio track to ``dest`` as 16-bit mono WAV; None when it has none."""
    if not video.is_file():
        raise MediaError(f"{video}: no such file")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MediaError(
            f"{video}: ffmpeg is needed to read the audio of a video; install the 'ffmpeg' package"
        )
    result = subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(sample_rate),
            "-sample_fmt",
            "s16",
            "-f",
            "wav",
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        if "does not contain any stream" in reason or "Output file #0 does not contain" in reason:
            return None
        raise MediaError(f"{video}: cannot read its audio: {reason}")
    try:
        with wave.open(str(dest), "rb") as w:
            if w.getnframes() == 0:
                return None
    except (wave.Error, EOFError) as exc:
        raise MediaError(f"{video}: its audio track could not be decoded: {exc}") from exc
    return dest
