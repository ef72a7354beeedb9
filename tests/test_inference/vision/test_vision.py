"""Face analysis with the real models: detection, head pose, expression, summaries."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from inference.findings import EXPRESSIONS, FrameObservation, VisionSummary
from inference.models.tflite import ModelLoadError, TFLiteModel
from inference.vision import (
    ExpressionClassifier,
    FaceAnalyzer,
    FaceDetector,
    FaceMesh,
    FrameError,
    VisionError,
    read_frames,
    summarise,
)
from inference.vision.anchors import ssd_anchors, weighted_nms
from kiosk.rigs.samples import ModelPaths

Image = npt.NDArray[np.uint8]
CODES = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


@pytest.fixture(scope="module")
def analyzer(model_files: ModelPaths) -> FaceAnalyzer:
    return FaceAnalyzer.load(
        model_files.face_detection, model_files.face_landmarks, model_files.expression
    )


@pytest.fixture(scope="module")
def observed(
    analyzer: FaceAnalyzer, crema_clips: dict[str, Path]
) -> dict[str, list[FrameObservation]]:
    """Every CREMA-D clip sampled at 5 fps and analysed."""
    return {
        code: [analyzer.analyse(f.image, f.t) for f in read_frames(crema_clips[code])]
        for code in CODES
    }


@pytest.fixture(scope="module")
def summaries(
    analyzer: FaceAnalyzer, observed: dict[str, list[FrameObservation]]
) -> dict[str, VisionSummary]:
    return {code: analyzer.summarise(obs) for code, obs in observed.items()}


@pytest.fixture(scope="module")
def frame(crema_clips: dict[str, Path]) -> Image:
    """The first frame of the neutral clip: one actor facing the camera, 480x360."""
    return next(iter(read_frames(crema_clips["NEU"]))).image


@pytest.fixture(scope="module")
def astro(astronaut: Path) -> Image:
    image = cv2.imread(str(astronaut))
    assert image is not None
    return as_image(image)


def as_image(array: Any) -> Image:
    return np.asarray(array, dtype=np.uint8)


def turned(analyzer: FaceAnalyzer, image: Image, degrees: float) -> Image:
    """``image`` with its face warped as if turned by ``degrees`` about a vertical axis
    (a cylinder the width of the face, turned towards the image's right for > 0)."""
    h, w = image.shape[:2]
    face = analyzer.detector.detect(image)[0]
    cx, radius = (face.x + face.w / 2) * w, face.w * w * 0.8
    xs = np.arange(w, dtype=np.float32)
    phi = np.arcsin(np.clip((xs - cx) / radius, -1, 1)) - math.radians(degrees)
    inside = np.abs(xs - cx) < radius
    source = np.where(inside, cx + radius * np.sin(np.clip(phi, -np.pi / 2, np.pi / 2)), xs)
    map_x = np.tile(source.astype(np.float32), (h, 1))
    map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    return as_image(cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR))


# -- detection -----------------------------------------------------------------------------


def test_anchors_match_the_model() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    assert anchors.min() > 0 and anchors.max() < 1
    # 16x16 cells x 2 at stride 8, then 8x8 cells x 6 at stride 16.
    assert np.allclose(anchors[0], [1 / 32, 1 / 32]) and np.allclose(anchors[1], anchors[0])
    assert np.allclose(anchors[512], [1 / 16, 1 / 16])
    assert np.allclose(anchors[512:518], anchors[512])


def test_weighted_nms_merges_a_cluster_and_keeps_a_separate_face() -> None:
    rows = [
        [0.5, 0.5, 0.2, 0.2, *[0.0] * 12],
        [0.52, 0.5, 0.2, 0.2, *[1.0] * 12],
        [0.1, 0.1, 0.1, 0.1, *[0.0] * 12],
    ]
    merged = weighted_nms(rows, [0.75, 0.25, 0.6], 0.3)
    assert [score for _, score in merged] == [0.75, 0.6]
    assert merged[0][0][0] == pytest.approx(0.505)  # 0.75 x 0.5 + 0.25 x 0.52
    assert merged[0][0][4] == pytest.approx(0.25)


@pytest.mark.parametrize("code", CODES)
def test_a_face_is_found_in_every_sampled_frame(
    code: str, observed: dict[str, list[FrameObservation]]
) -> None:
    frames = observed[code]
    assert len(frames) >= 9  # about 2 s at 5 fps
    for obs in frames:
        assert len(obs.faces) == 1, f"{code} at {obs.t:.2f} s: {len(obs.faces)} faces"
        box = obs.faces[0].box
        assert box.x >= 0 and box.y >= 0 and box.x + box.w <= 1 and box.y + box.h <= 1
        assert 0.2 <= box.h <= 0.8
        assert box.score >= 0.5
        assert 60 < obs.brightness < 220


def test_summary_of_a_clip(summaries: dict[str, VisionSummary]) -> None:
    s = summaries["NEU"]
    assert s.frames_analysed >= 9
    assert s.sample_fps == pytest.approx(5.0, abs=0.1)
    assert s.face_present_ratio == 1.0
    assert s.multiple_faces_ratio == 0.0 and s.max_faces == 1
    assert s.mean_face_height is not None and 0.25 < s.mean_face_height < 0.35
    assert s.mean_offset is not None and s.mean_offset < 0.15
    assert s.expression_run is True
    assert s.expression_distribution is not None
    assert set(s.expression_distribution) == set(EXPRESSIONS)
    assert sum(s.expression_distribution.values()) == pytest.approx(1.0, abs=1e-3)
    assert len(s.timeline) == s.frames_analysed
    assert all(p.face and p.faces == 1 and p.expression in EXPRESSIONS for p in s.timeline)
    assert [m.name for m in s.model] == [
        "face_detection_short_range",
        "face_landmark",
        "emotion_model_quantized",
    ]
    assert all(len(m.sha256) == 64 for m in s.model)
    assert VisionSummary.model_validate_json(s.model_dump_json()) == s


# -- head pose -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_actors_face_the_screen(
    code: str, summaries: dict[str, VisionSummary], observed: dict[str, list[FrameObservation]]
) -> None:
    ratio = summaries[code].facing_screen_ratio
    assert ratio is not None and ratio >= 0.9
    for obs in observed[code]:
        face = obs.faces[0]
        assert face.yaw is not None and face.pitch is not None
        assert abs(face.yaw) < 15 and abs(face.pitch) < 15


def test_yaw_follows_a_turn_and_flips_sign_in_a_mirror(
    analyzer: FaceAnalyzer, frame: Image
) -> None:
    def yaw(image: Image) -> float:
        faces = analyzer.analyse(image, 0.0).faces
        assert len(faces) == 1 and faces[0].yaw is not None
        return faces[0].yaw

    straight = yaw(frame)
    right, left = yaw(turned(analyzer, frame, 30)), yaw(turned(analyzer, frame, -30))
    assert right > straight + 5 and left < straight - 5
    assert yaw(as_image(cv2.flip(turned(analyzer, frame, 30), 1))) < -5
    assert yaw(as_image(cv2.flip(turned(analyzer, frame, -30), 1))) > 5
    assert abs(yaw(as_image(cv2.flip(frame, 1))) + straight) < 3


def test_facing_limits_are_parameters(model_files: ModelPaths, frame: Image) -> None:
    strict = FaceAnalyzer.load(
        model_files.face_detection, model_files.face_landmarks, expression=False, max_yaw=4.0
    )
    face = strict.analyse(turned(strict, frame, 30), 0.0).faces[0]
    assert face.yaw is not None and face.yaw > 4 and face.facing_screen is False
    relaxed = FaceAnalyzer.load(
        model_files.face_detection, model_files.face_landmarks, expression=False
    )
    assert relaxed.analyse(turned(relaxed, frame, 30), 0.0).faces[0].facing_screen is True


def test_a_tilted_head_keeps_its_yaw(analyzer: FaceAnalyzer, astro: Image) -> None:
    h, w = astro.shape[:2]
    for angle in (-30, 30):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        faces = analyzer.analyse(as_image(cv2.warpAffine(astro, matrix, (w, h))), 0.0).faces
        assert len(faces) == 1
        assert faces[0].yaw is not None and abs(faces[0].yaw) < 10
        assert faces[0].facing_screen is True


# -- expression ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"), [("HAP", "happy"), ("ANG", "angry"), ("NEU", "neutral")]
)
def test_dominant_expression(code: str, expected: str, summaries: dict[str, VisionSummary]) -> None:
    # DIS, FEA and SAD are left out: the FER-2013 model reads those clips as angry or sad.
    distribution = summaries[code].expression_distribution
    assert distribution is not None
    assert max(distribution, key=lambda k: distribution[k]) == expected


def test_declined_expression_never_invokes_the_model(
    model_files: ModelPaths, crema_clips: dict[str, Path]
) -> None:
    counted = TFLiteModel(model_files.expression)
    detector = FaceDetector(TFLiteModel(model_files.face_detection))
    mesh = FaceMesh(TFLiteModel(model_files.face_landmarks))
    declined = FaceAnalyzer(detector, mesh, ExpressionClassifier(counted), run_expression=False)
    obs = [declined.analyse(f.image, f.t) for f in read_frames(crema_clips["HAP"])]
    assert counted.invocations == 0
    assert all(o.faces and o.faces[0].expression is None for o in obs)
    summary = declined.summarise(obs)
    assert summary.expression_run is False and summary.expression_distribution is None
    assert all(p.expression is None for p in summary.timeline)
    assert [m.name for m in summary.model] == ["face_detection_short_range", "face_landmark"]

    consented = FaceAnalyzer(detector, mesh, ExpressionClassifier(counted))
    for o in obs[:3]:
        consented.analyse(next(iter(read_frames(crema_clips["HAP"]))).image, o.t)
    assert counted.invocations == 3


def test_load_without_consent_does_not_load_the_expression_model(
    model_files: ModelPaths, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.tflite"
    analyzer = FaceAnalyzer.load(
        model_files.face_detection, model_files.face_landmarks, missing, expression=False
    )
    assert analyzer.expression_run is False
    with pytest.raises(ModelLoadError, match=r"nowhere\.tflite"):
        FaceAnalyzer.load(model_files.face_detection, model_files.face_landmarks, missing)


# -- several faces, darkness, bad frames ---------------------------------------------------


def test_astronaut_has_one_face(analyzer: FaceAnalyzer, astro: Image) -> None:
    obs = analyzer.analyse(astro, 0.0)
    assert len(obs.faces) == 1
    face = obs.faces[0]
    assert face.facing_screen is True
    assert face.expression is not None and sum(face.expression.values()) == pytest.approx(1)
    assert 0.15 < face.box.h < 0.3 and face.box.y < 0.3


@pytest.mark.parametrize("source", ["astronaut", "crema"])
def test_side_by_side_images_give_several_faces(
    source: str, analyzer: FaceAnalyzer, astro: Image, frame: Image
) -> None:
    image = astro if source == "astronaut" else frame
    obs = analyzer.analyse(np.hstack([image, image]), 0.0)
    assert len(obs.faces) == 2
    left, right = sorted(obs.faces, key=lambda f: f.box.x)
    assert left.box.x + left.box.w < 0.5 < right.box.x
    summary = summarise([obs], expression_run=True)
    assert summary.max_faces == 2 and summary.multiple_faces_ratio == 1.0


def test_black_frame_has_no_face(analyzer: FaceAnalyzer) -> None:
    obs = analyzer.analyse(np.zeros((360, 480, 3), np.uint8), 1.5)
    assert obs.faces == () and obs.brightness == 0.0 and obs.t == 1.5
    summary = analyzer.summarise([obs, obs.model_copy(update={"t": 1.7})])
    assert summary.face_present_ratio == 0.0 and summary.max_faces == 0
    assert summary.mean_face_height is None and summary.facing_screen_ratio is None
    assert summary.expression_run is True and summary.expression_distribution is None
    assert [p.face for p in summary.timeline] == [False, False]


def test_empty_summary() -> None:
    summary = summarise([], expression_run=False)
    assert summary.frames_analysed == 0 and summary.sample_fps == 0.0
    assert summary.face_present_ratio == 0.0 and summary.timeline == ()


def bad_frames() -> Iterator[tuple[str, Any]]:
    yield "float", np.zeros((120, 160, 3), np.float32)
    yield "gray", np.zeros((120, 160), np.uint8)
    yield "bgra", np.zeros((120, 160, 4), np.uint8)
    yield "tiny", np.zeros((8, 8, 3), np.uint8)
    yield "list", [[0, 0, 0]]


@pytest.mark.parametrize(("name", "bad"), list(bad_frames()))
def test_a_bad_frame_is_a_clear_error(name: str, bad: Any, analyzer: FaceAnalyzer) -> None:
    with pytest.raises(FrameError, match="frame") as caught:
        analyzer.analyse(bad, 0.0)
    assert isinstance(caught.value, VisionError) and isinstance(caught.value, ValueError)


def test_a_model_that_is_not_a_model(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 100)
    with pytest.raises(ModelLoadError, match=r"junk\.tflite"):
        TFLiteModel(junk)
    with pytest.raises(ModelLoadError, match=r"missing\.tflite"):
        TFLiteModel(tmp_path / "missing.tflite")


def test_models_check_their_shapes(model_files: ModelPaths) -> None:
    with pytest.raises(ValueError, match="not a 128x128"):
        FaceDetector(TFLiteModel(model_files.face_landmarks))
    with pytest.raises(ValueError, match="not a 192x192"):
        FaceMesh(TFLiteModel(model_files.expression))
    with pytest.raises(ValueError, match="not a 64x64"):
        ExpressionClassifier(TFLiteModel(model_files.face_detection))
