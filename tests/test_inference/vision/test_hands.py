"""The hand tracker: MediaPipe's lite palm and hand-landmark models with the product's own
pre- and post-processing."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.models.tflite import TFLiteModel
from inference.vision.frames import read_frames
from inference.vision.hands import LANDMARK_FILE, PALM_FILE, HandTracker, Palm, _palm
from kiosk.rigs.samples import ModelPaths


@pytest.fixture(scope="module")
def tracker(model_files: ModelPaths) -> HandTracker:
    return HandTracker.load(model_files.hands)


#: Where the fingertips are in the photograph, measured by eye (0-1 of the picture).
FINGERTIPS = {4: (0.39, 0.04), 8: (0.77, 0.29), 12: (0.85, 0.54), 16: (0.82, 0.67),
              20: (0.69, 0.90)}


def test_a_real_hand_is_found_with_its_fingertips(tracker: HandTracker, hand_photo: Path) -> None:
    image = cv2.imread(str(hand_photo))
    assert image is not None
    hands = tracker.find(np.ascontiguousarray(image, dtype=np.uint8))
    assert len(hands) == 1 and hands[0].presence > 0.9
    for index, (x, y) in FINGERTIPS.items():
        found = hands[0].landmarks[index]
        assert math.dist(found, (x, y)) < 0.06, (index, found)


def test_a_real_hand_small_in_a_larger_picture_is_placed_where_it_is(
    tracker: HandTracker, hand_photo: Path
) -> None:
    """The photograph shrunk to a quarter and set in the middle of a grey table: the hand's
    box is inside the photograph's place, and the whole hand is found, not a finger."""
    image = cv2.imread(str(hand_photo))
    assert image is not None
    table = np.full((480, 640, 3), 200, np.uint8)
    table[120:360, 160:480] = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
    hands = tracker.find(table)
    assert len(hands) == 1 and hands[0].presence > 0.9
    box = hands[0].box
    assert 0.24 <= box.x < box.x + box.w <= 0.76 and 0.24 <= box.y < box.y + box.h <= 0.76
    assert box.w > 0.3 and box.h > 0.3


def test_no_hands_in_a_portrait(tracker: HandTracker, astronaut: Path) -> None:
    read = cv2.imread(str(astronaut))
    assert read is not None
    image = np.ascontiguousarray(read, dtype=np.uint8)
    assert tracker.palms(image) == [] and tracker.find(image) == []


def test_no_hands_on_a_person_talking_to_the_camera(
    tracker: HandTracker, crema_clips: dict[str, Path]
) -> None:
    frames = [f.image for code in ("ANG", "HAP") for f in read_frames(crema_clips[code], fps=5)]
    assert len(frames) >= 15
    assert all(tracker.find(frame) == [] for frame in frames)


def test_a_flat_picture_has_no_palm(tracker: HandTracker) -> None:
    assert tracker.find(np.full((360, 480, 3), 128, np.uint8)) == []


def test_an_upright_hand_is_read_above_its_palm() -> None:
    # wrist (keypoint 0) below the middle knuckle (keypoint 2): fingers up, no rotation
    row = [0.5, 0.5, 0.2, 0.2, 0.5, 0.6, 0.0, 0.0, 0.5, 0.4] + [0.0] * 8
    palm = _palm(row, 0.9, 100, 100)
    assert palm.rotation == pytest.approx(0.0)
    cx, cy, side = palm.hand_square()
    assert (cx, cy) == pytest.approx((50.0, 40.0))  # half a palm towards the fingers
    assert side == pytest.approx(52.0)  # 2.6 palm sizes


def test_a_hand_pointing_right_is_turned_upright_and_read_to_the_right() -> None:
    row = [0.5, 0.5, 0.2, 0.2, 0.4, 0.5, 0.0, 0.0, 0.6, 0.5] + [0.0] * 8
    palm = _palm(row, 0.9, 100, 100)
    assert palm.rotation == pytest.approx(math.pi / 2)
    cx, cy, _ = palm.hand_square()
    assert (cx, cy) == pytest.approx((60.0, 50.0))


def test_a_hand_pointing_down_is_read_below_its_palm() -> None:
    palm = Palm(cx=50, cy=50, w=20, h=20, score=0.9, rotation=math.pi)
    cx, cy, _ = palm.hand_square()
    assert (cx, cy) == pytest.approx((50.0, 60.0))


def test_models_of_the_wrong_shape_are_refused(model_files: ModelPaths) -> None:
    palm = TFLiteModel(model_files.hands / PALM_FILE)
    landmarks = TFLiteModel(model_files.hands / LANDMARK_FILE)
    with pytest.raises(ValueError, match="not a 192x192 palm detection model"):
        HandTracker(landmarks, landmarks)
    with pytest.raises(ValueError, match="not a 224x224 hand landmark model"):
        HandTracker(palm, palm)


def test_a_turned_hand_is_read_from_the_same_pixels(
    tracker: HandTracker, astronaut: Path
) -> None:
    """The landmark crop follows the palm's rotation: the picture and the palm turned a
    quarter clockwise give the same crop, so the same landmarks, turned with the picture."""
    read = cv2.imread(str(astronaut))
    assert read is not None
    image = np.ascontiguousarray(read, dtype=np.uint8)
    side = image.shape[0]
    upright = Palm(cx=256, cy=300, w=90, h=90, score=0.9, rotation=0.0)
    turned = Palm(cx=side - 1 - 300, cy=256, w=90, h=90, score=0.9, rotation=math.pi / 2)
    a = tracker._landmarks(image, upright)
    b = tracker._landmarks(np.ascontiguousarray(cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)),
                           turned)
    assert a is not None and b is not None
    assert b.presence == pytest.approx(a.presence, abs=0.02)
    expected = np.array([((side - 1) / side - y, x) for x, y in a.landmarks])
    assert np.abs(np.array(b.landmarks) - expected).max() < 0.01
