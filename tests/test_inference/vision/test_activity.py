"""Activity of skill demonstrations, frame sampling, the rate controller and damaged media."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from inference.errors import InferenceError
from inference.findings import Pause
from inference.media import MediaError as RecordingError
from inference.vision import (
    ActivityMeter,
    MediaError,
    RateController,
    VisionError,
    activity_summary,
    motion_energy,
    probe,
    read_frames,
    sample,
)
from inference.vision.motion import idle_periods, shrink

Image = npt.NDArray[np.uint8]
FPS = 30.0


def square_at(x: int, y: int = 100, size: int = 60) -> Image:
    """A 320x240 gray picture with a white square whose left edge is at ``x``."""
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[y : y + size, x : x + size] = 255
    return frame


def write_video(path: Path, frames: Iterator[Image], fps: float = FPS) -> Path:
    first = next(frames)
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    writer.write(first)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def timed(position: Callable[[float], int], seconds: float, fps: float) -> Iterator[Image]:
    """Frames at ``fps`` for ``seconds``, the square at ``position(t)``."""
    for i in range(round(seconds * fps)):
        yield square_at(position(i / fps))


def moving(t: float) -> int:
    return 10 + round(40 * t) % 200


# -- motion energy and idle periods ------------------------------------------------------------


def test_motion_energy_is_the_share_of_changed_pixels() -> None:
    still = shrink(square_at(50))
    assert motion_energy(still, still) == 0.0
    moved = shrink(square_at(100))
    energy = motion_energy(still, moved)
    assert 0.02 < energy < 0.2
    assert (
        motion_energy(
            shrink(np.zeros((240, 320, 3), np.uint8)), shrink(np.full((240, 320, 3), 255, np.uint8))
        )
        == 1.0
    )
    with pytest.raises(ValueError, match="differ in size"):
        motion_energy(still, shrink(np.zeros((240, 240, 3), np.uint8)))


def test_sensor_noise_is_not_motion() -> None:
    rng = np.random.default_rng(7)
    base = square_at(50).astype(np.int16)
    noisy = [
        np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8) for _ in range(2)
    ]
    assert motion_energy(shrink(noisy[0]), shrink(noisy[1])) < 0.005


def test_a_static_video_is_one_idle_period(tmp_path: Path) -> None:
    video = write_video(tmp_path / "still.avi", timed(lambda t: 50, 6.0, FPS))
    summary = activity_summary(read_frames(video), time_limit_s=10.0)
    assert summary.active_ratio == 0.0
    (idle,) = summary.idle_periods
    assert idle.start == 0.0 and idle.end == pytest.approx(5.8)
    assert summary.duration_s == pytest.approx(5.8)
    assert summary.within_limit is True and summary.time_limit_s == 10.0
    assert len(summary.timeline) == 29 and all(p.energy == 0.0 for p in summary.timeline)


def test_a_moving_square_is_active(tmp_path: Path) -> None:
    video = write_video(tmp_path / "moving.avi", timed(moving, 4.0, FPS))
    summary = activity_summary(read_frames(video), time_limit_s=3.0)
    assert summary.active_ratio == 1.0
    assert summary.idle_periods == ()
    assert all(p.energy > 0.01 for p in summary.timeline)
    assert summary.within_limit is False  # 3.8 s against a 3 s limit


def test_an_idle_stretch_in_the_middle_is_found(tmp_path: Path) -> None:
    def position(t: float) -> int:  # moves, stops from 3 s to 6 s, moves again
        return moving(min(t, 3.0) + max(t - 6.0, 0.0))

    video = write_video(tmp_path / "pause.avi", timed(position, 9.0, FPS))
    summary = activity_summary(read_frames(video), time_limit_s=60.0)
    assert len(summary.idle_periods) == 1
    idle = summary.idle_periods[0]
    assert idle.start == pytest.approx(3.0, abs=0.01)
    assert idle.end == pytest.approx(6.0, abs=0.01)
    assert summary.active_ratio == pytest.approx((8.8 - 3.0) / 8.8, abs=0.01)


def test_short_stillness_is_not_an_idle_period() -> None:
    times = [i * 0.2 for i in range(20)]
    energies = [0.1] * 5 + [0.0] * 5 + [0.1] * 9  # still from 1.0 s to 2.0 s
    assert idle_periods(times, energies, threshold=0.005, min_idle_s=2.0) == ()
    assert idle_periods(times, energies, threshold=0.005, min_idle_s=1.0) == (
        Pause(start=1.0, end=2.0),
    )


def test_the_meter_streams_frame_by_frame() -> None:
    meter = ActivityMeter(min_idle_s=0.5)
    assert meter.update(0.0, square_at(10)) is None
    point = meter.update(0.2, square_at(40))
    assert point is not None and point.t == 0.2 and point.energy > 0.01
    with pytest.raises(ValueError, match="not after"):
        meter.update(0.2, square_at(40))
    for i in range(2, 8):
        meter.update(i * 0.2, square_at(40))
    summary = meter.summary(time_limit_s=1.0, duration_s=1.5)
    assert summary.duration_s == 1.5 and summary.within_limit is False
    (idle,) = summary.idle_periods
    assert idle.start == 0.2 and idle.end == pytest.approx(1.4)
    with pytest.raises(ValueError, match="time_limit_s"):
        meter.summary(time_limit_s=0)


def test_a_meter_with_one_frame_or_none() -> None:
    assert ActivityMeter().summary(time_limit_s=5).active_ratio == 0.0
    meter = ActivityMeter()
    meter.update(0.0, square_at(10))
    summary = meter.summary(time_limit_s=5)
    assert summary.timeline == () and summary.duration_s == 0.0


# -- frame sampling ------------------------------------------------------------------------------


def test_sampling_a_30_fps_clip_at_5_fps(crema_clips: dict[str, Path]) -> None:
    clip = crema_clips["ANG"]
    info = probe(clip)
    assert (info.width, info.height) == (480, 360)
    assert info.fps is not None and info.fps == pytest.approx(30, abs=0.1)
    frames = list(read_frames(clip, fps=5.0))
    assert info.duration_s is not None
    assert len(frames) == pytest.approx(info.duration_s * 5, abs=1)
    assert [f.index for f in frames] == list(range(0, 6 * len(frames), 6))
    steps = np.diff([f.t for f in frames])
    assert np.allclose(steps, 6 / info.fps)
    assert frames[0].t == 0.0 and frames[0].image.shape == (360, 480, 3)


def test_sampling_rates(tmp_path: Path) -> None:
    video = write_video(tmp_path / "three.avi", timed(moving, 3.0, FPS))
    assert [f.t for f in read_frames(video)] == pytest.approx([i * 0.2 for i in range(15)])
    assert len(list(read_frames(video, fps=10))) == 30
    assert len(list(read_frames(video, fps=30))) == 90
    assert len(list(read_frames(video, fps=1))) == 3
    assert len(list(read_frames(video, max_frames=4))) == 4


def test_the_rate_drops_under_slow_analysis_and_recovers() -> None:
    rate = RateController(5.0, min_fps=1.0)
    assert rate.report(0.05) == 5.0  # well within the 0.2 s budget
    slow = rate.report(0.5)  # half a second for a frame due every 0.2 s
    assert slow <= 5.0 * 0.7 and slow <= 0.9 / 0.5
    for _ in range(5):
        rate.report(2.0)
    assert rate.rate == 1.0  # never below the floor
    for _ in range(100):
        if rate.report(0.02) == 5.0:
            break
    assert rate.rate == 5.0  # back to the target, never above it
    assert rate.report(0.02, cpu_load=0.95) < 5.0  # a busy CPU also slows it
    before = rate.rate
    rate.report(0.02, cpu_load=0.7)  # neither busy nor calm: hold
    assert rate.rate == before


def test_a_slow_consumer_skips_frames_instead_of_queueing() -> None:
    rate = RateController(5.0)
    source = ((i / FPS, square_at(10)) for i in range(round(20 * FPS)))  # 20 s at 30 fps
    analysed: list[float] = []
    for frame in sample(source, rate):
        analysed.append(frame.t)
        rate.report(0.6 if frame.t < 10 else 0.01)  # slow for 10 s, then fast
    first = [t for t in analysed if t < 10]
    later = [t for t in analysed if t >= 15]
    assert len(first) < 25  # well under 5 fps x 10 s
    assert len(later) == pytest.approx(25, abs=2)  # back at 5 fps
    assert all(b > a for a, b in itertools.pairwise(analysed))


def test_the_schedule_does_not_burst_after_a_gap() -> None:
    rate = RateController(5.0)
    times = [0.0, 0.1, 0.2, 5.0, 5.05, 5.1, 5.2, 5.25]
    due = [t for t in times if rate.due(t)]
    assert due == [0.0, 0.2, 5.0, 5.2]


def test_controller_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="target_fps"):
        RateController(0)
    with pytest.raises(ValueError, match="min_fps"):
        RateController(5, min_fps=6)


# -- damaged and wrong media ---------------------------------------------------------------------


def test_random_bytes_are_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "x.mp4"
    junk.write_bytes(os.urandom(20_000))
    with pytest.raises(MediaError, match=r"x\.mp4") as caught:
        read_frames(junk)
    assert isinstance(caught.value, VisionError) and isinstance(caught.value, ValueError)
    assert isinstance(caught.value, RecordingError) and isinstance(caught.value, InferenceError)
    with pytest.raises(MediaError, match=r"x\.mp4"):
        probe(junk)


def test_a_truncated_clip_gives_the_frames_before_the_damage(
    crema_clips: dict[str, Path], tmp_path: Path
) -> None:
    data = crema_clips["HAP"].read_bytes()
    whole = len(list(read_frames(crema_clips["HAP"])))
    half = tmp_path / "half.flv"
    half.write_bytes(data[: len(data) // 2])
    partial = list(read_frames(half))
    assert 1 <= len(partial) < whole
    assert all(f.image.shape == (360, 480, 3) for f in partial)


def test_a_clip_cut_before_its_first_frame_is_a_clear_error(
    crema_clips: dict[str, Path], tmp_path: Path
) -> None:
    stub = tmp_path / "stub.flv"
    stub.write_bytes(crema_clips["HAP"].read_bytes()[:2000])
    with pytest.raises(MediaError, match=r"stub\.flv"):
        list(read_frames(stub))


def test_missing_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"not found.*nothing\.mp4"):
        read_frames(tmp_path / "nothing.mp4")
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 200)
    with pytest.raises(MediaError, match=r"notes\.txt"):
        list(read_frames(text))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4"):
        list(read_frames(empty))
