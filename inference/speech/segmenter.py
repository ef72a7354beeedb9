"""Cutting an answer into chunks at the speaker's pauses, as the audio arrives.

Whisper decodes a window of up to 30 s at a time, so an answer is decoded chunk by chunk
while the candidate goes on: once at least ``min_chunk_s`` of audio is pending, the chunk
ends inside the next pause of ``pause_s`` or more, half that length into it (a cut there
splits no word);
a chunk with no such pause is cut at its quietest frame before ``max_chunk_s``. At the end
of the answer only the last chunk is left to decode, so the time from the end of an answer
to its transcript does not grow with the answer's length.

Loudness is judged per 30 ms frame against the louder of the silence threshold and the
background level (the 10th percentile of recent frames) plus a margin, so a humming room
does not read as continuous speech. The cuts depend only on the audio, never on how it
was chunked when fed, so streaming and a one-shot pass give the same chunks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from inference.speech.audio import FRAME_S, SILENCE_DBFS, TARGET_RATE, Int16Array, frame_levels

FRAME = round(TARGET_RATE * FRAME_S)
BACKGROUND_MARGIN_DB = 12.0
"""A frame is speech when this much louder than the background level (and above silence)."""
FLOOR_DBFS = -120.0
"""Digital silence (-inf dBFS) is counted as this level."""
BACKGROUND_FRAMES = 330
"""Frames (about 10 s) over which the background level is estimated."""


@dataclass(frozen=True)
class Chunk:
    """Samples ``start`` to ``end`` (16 kHz, from the start of the answer); ``loud`` is
    False when no frame in it was speech, so there is nothing to decode."""

    start: int
    end: int
    loud: bool

    @property
    def start_s(self) -> float:
        return self.start / TARGET_RATE

    @property
    def end_s(self) -> float:
        return self.end / TARGET_RATE


class PauseSegmenter:
    """Streaming cuts of 16 kHz audio; :meth:`feed` returns the chunks completed."""

    def __init__(self, *, min_chunk_s: float = 5.0, max_chunk_s: float = 25.0,
                 pause_s: float = 0.5, silence_dbfs: float = SILENCE_DBFS) -> None:
        if not 0 < min_chunk_s < max_chunk_s <= 30:
            raise ValueError("chunks need 0 < min_chunk_s < max_chunk_s <= 30 seconds")
        self.min_frames = round(min_chunk_s / FRAME_S)
        self.max_frames = round(max_chunk_s / FRAME_S)
        self.pause_frames = max(1, round(pause_s / FRAME_S))
        self.silence_dbfs = silence_dbfs
        self._rest: Int16Array = np.zeros(0, dtype=np.int16)
        self._recent: deque[float] = deque(maxlen=BACKGROUND_FRAMES)
        self._loud: list[bool] = []  # per frame of the pending chunk
        self._start = 0  # first frame of the pending chunk
        self._quiet_run = 0  # quiet frames ending at the latest frame
        self._samples = 0

    def feed(self, samples: Int16Array) -> list[Chunk]:
        """Add 16 kHz samples; the chunks that ended within them, in order."""
        self._samples += len(samples)
        x = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        whole = len(x) // FRAME * FRAME
        self._rest = x[whole:]
        done: list[Chunk] = []
        levels = np.maximum(frame_levels(x[:whole], TARGET_RATE, FRAME_S), FLOOR_DBFS)
        for level in levels:
            self._recent.append(float(level))
            loud = self._is_loud(float(level))
            self._loud.append(loud)
            self._quiet_run = 0 if loud else self._quiet_run + 1
            pending = len(self._loud)
            if pending >= self.min_frames and self._quiet_run >= self.pause_frames:
                done.append(self._cut(pending - self._quiet_run // 2))
            elif pending >= self.max_frames:
                done.append(self._cut(self._quietest_cut()))
        return done

    def flush(self) -> Chunk | None:
        """The last chunk (everything not yet cut), or None when nothing is pending."""
        end = self._samples
        start = self._start * FRAME
        if end <= start:
            return None
        chunk = Chunk(start, end, any(self._loud) or self._rest_loud())
        self._loud, self._start, self._quiet_run = [], -(-end // FRAME), 0
        self._rest = np.zeros(0, dtype=np.int16)
        return chunk

    def _is_loud(self, level: float) -> bool:
        background = float(np.percentile(np.fromiter(self._recent, dtype=np.float64), 10))
        return level > max(self.silence_dbfs, background + BACKGROUND_MARGIN_DB)

    def _rest_loud(self) -> bool:
        if len(self._rest) < FRAME // 3:
            return False
        level = frame_levels(self._rest, TARGET_RATE, len(self._rest) / TARGET_RATE)
        return bool(level.size) and self._is_loud(max(float(level[0]), FLOOR_DBFS))

    def _quietest_cut(self) -> int:
        """Where to cut a chunk with no pause: after the longest quiet run in its last
        third, or at the end when it has none."""
        best, best_len, run = len(self._loud), 0, 0
        for i in range(len(self._loud) * 2 // 3, len(self._loud)):
            run = 0 if self._loud[i] else run + 1
            if run > best_len:
                best, best_len = i + 1 - run // 2, run
        return best

    def _cut(self, frames: int) -> Chunk:
        """End the pending chunk after ``frames`` of its frames; the rest stays pending."""
        loud = any(self._loud[:frames])
        chunk = Chunk(self._start * FRAME, (self._start + frames) * FRAME, loud)
        self._loud = self._loud[frames:]
        self._start += frames
        self._quiet_run = min(self._quiet_run, len(self._loud))
        return chunk
