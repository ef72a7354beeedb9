"""Cutting an answer at the speaker's pauses, as the audio arrives."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from inference.speech.audio import TARGET_RATE
from inference.speech.segmenter import Chunk, PauseSegmenter

Int16 = npt.NDArray[np.int16]


def burst(seconds: float, seed: int = 0, level: float = 6000) -> Int16:
    """Speech-like sound: noise shaped by a 4 Hz syllable envelope."""
    n = int(seconds * TARGET_RATE)
    t = np.arange(n) / TARGET_RATE
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    noise = np.random.default_rng(seed).standard_normal(n)
    return (noise * envelope * level).astype(np.int16)


def quiet(seconds: float, seed: int = 9) -> Int16:
    """A room: low background noise, not digital silence."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * TARGET_RATE)) * 30
            ).astype(np.int16)


def cuts(segmenter: PauseSegmenter, audio: Int16, step: int) -> list[Chunk]:
    found: list[Chunk] = []
    for i in range(0, len(audio), step):
        found += segmenter.feed(audio[i:i + step])
    last = segmenter.flush()
    return [*found, *([last] if last else [])]


def answer() -> Int16:
    """Three phrases of 4 s with 1 s pauses, then a 3 s phrase."""
    return np.concatenate([burst(4, 1), quiet(1), burst(4, 2), quiet(1), burst(4, 3), quiet(1),
                           burst(3, 4)])


def test_chunks_end_in_the_middle_of_pauses_once_long_enough() -> None:
    chunks = cuts(PauseSegmenter(min_chunk_s=3, pause_s=0.5), answer(), TARGET_RATE // 10)
    ends = [c.end_s for c in chunks[:-1]]
    # each cut falls inside a pause (4-5 s, 9-10 s, 14-15 s), never inside a phrase
    assert len(ends) == 3
    for end, (lo, hi) in zip(ends, [(4, 5), (9, 10), (14, 15)], strict=True):
        assert lo < end < hi, ends
    assert chunks[0].start == 0 and chunks[-1].end == len(answer())
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
    assert all(c.loud for c in chunks)


def test_short_phrases_are_kept_together_until_the_minimum() -> None:
    chunks = cuts(PauseSegmenter(min_chunk_s=8, pause_s=0.5), answer(), 4000)
    assert len(chunks) == 2 and 9 < chunks[0].end_s < 10  # in the first pause after 8 s


@pytest.mark.parametrize("step", [160, 1234, 16000, 10**7])
def test_the_cuts_do_not_depend_on_how_the_audio_arrives(step: int) -> None:
    reference = cuts(PauseSegmenter(min_chunk_s=3), answer(), 480)
    assert cuts(PauseSegmenter(min_chunk_s=3), answer(), step) == reference


def test_speech_without_a_pause_is_cut_before_the_whisper_window() -> None:
    chunks = cuts(PauseSegmenter(min_chunk_s=5, max_chunk_s=25), burst(70, 5), 8000)
    assert len(chunks) >= 3
    assert all(c.end_s - c.start_s <= 25.01 for c in chunks)


def test_a_quiet_room_is_no_speech_and_a_steady_hum_neither() -> None:
    silent = cuts(PauseSegmenter(), quiet(12), 1600)
    assert silent and not any(c.loud for c in silent)
    hum = (np.sin(2 * np.pi * 120 * np.arange(12 * TARGET_RATE) / TARGET_RATE) * 3000
           ).astype(np.int16)
    humming = cuts(PauseSegmenter(), np.concatenate([hum, hum]), 1600)
    assert not any(c.loud for c in humming[1:])  # once the background is learnt


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chunk_s"):
        PauseSegmenter(min_chunk_s=10, max_chunk_s=5)
    with pytest.raises(ValueError, match="30"):
        PauseSegmenter(max_chunk_s=40)
