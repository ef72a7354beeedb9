"""Per-frame face analysis and the per-answer summary.

Per frame: every face's box (largest first: the first is taken to be the candidate), and
for the ``analyse_faces`` largest ones the head pose from the face mesh and, when
expression analysis is on, the expression probabilities; plus the frame's mean luma.

Per answer (:func:`summarise`): ratios over the frames analysed, and for the candidate's
face its mean size, distance from the centre, the share of frames facing the screen and
the expression distribution, defined as the mean of the seven probabilities over the
frames where the expression was read (so it sums to 1).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.findings import (
    EXPRESSIONS,
    FaceObservation,
    FrameObservation,
    FramingVerdict,
    ModelRef,
    TimelinePoint,
    VisionSummary,
)
from inference.models.tflite import TFLiteModel
from inference.vision.errors import check_frame
from inference.vision.expression import ExpressionClassifier, expression_dict, top_expression
from inference.vision.faces import FaceDetector
from inference.vision.framing import DEFAULT_LIMITS, FramingLimits, framing_check
from inference.vision.landmarks import FaceMesh


class FaceAnalyzer:
    """Face detection, head pose and (optionally) expression for sampled frames.

    With ``run_expression=False`` or ``expression=None`` (the candidate declined expression
    analysis) the expression model is never invoked, observations carry ``expression=None``
    and the summary says ``expression_run=False``. Facing the screen
    means ``|yaw| <= max_yaw`` and ``|pitch| <= max_pitch`` (degrees); a mesh whose face
    presence is under ``min_presence`` gives no pose.
    """

    def __init__(
        self,
        detector: FaceDetector,
        mesh: FaceMesh | None = None,
        expression: ExpressionClassifier | None = None,
        *,
        max_yaw: float = 25.0,
        max_pitch: float = 20.0,
        min_presence: float = 0.5,
        analyse_faces: int = 1,
        run_expression: bool = True,
        models: Sequence[ModelRef] | None = None,
    ) -> None:
        self.detector = detector
        self.mesh = mesh
        self.expression = expression if run_expression else None
        self.max_yaw, self.max_pitch = max_yaw, max_pitch
        self.min_presence = min_presence
        self.analyse_faces = analyse_faces
        used = [detector.model] + [m.model for m in (mesh, self.expression) if m is not None]
        self.models = tuple(models) if models is not None else tuple(model_ref(m) for m in used)

    @classmethod
    def load(
        cls,
        detection_model: str | Path,
        landmark_model: str | Path | None = None,
        expression_model: str | Path | None = None,
        *,
        expression: bool = True,
        num_threads: int = 1,
        min_score: float = 0.5,
        max_yaw: float = 25.0,
        max_pitch: float = 20.0,
        analyse_faces: int = 1,
        models: Sequence[ModelRef] | None = None,
    ) -> FaceAnalyzer:
        """Load the models from files; the expression model only when ``expression``
        (so a declined consent never even loads it). ``models``: the refs to report (e.g.
        the model store's verified ones); by default each file's name and sha256."""
        detector = FaceDetector(
            TFLiteModel(detection_model, num_threads=num_threads), min_score=min_score
        )
        mesh = (
            FaceMesh(TFLiteModel(landmark_model, num_threads=num_threads))
            if landmark_model is not None
            else None
        )
        classifier = (
            ExpressionClassifier(TFLiteModel(expression_model, num_threads=num_threads))
            if expression and expression_model is not None
            else None
        )
        return cls(
            detector,
            mesh,
            classifier,
            max_yaw=max_yaw,
            max_pitch=max_pitch,
            analyse_faces=analyse_faces,
            models=models,
        )

    @property
    def expression_run(self) -> bool:
        """Whether expression analysis runs (the consent was given and a model loaded)."""
        return self.expression is not None

    def analyse(self, frame: npt.NDArray[np.uint8], t: float) -> FrameObservation:
        """What the BGR ``frame`` taken at ``t`` seconds shows."""
        check_frame(frame)
        scan = self.detector.scan(frame)
        faces = sorted(scan.faces, key=lambda f: -f.w * f.h)
        observed: list[FaceObservation] = []
        for rank, face in enumerate(faces):
            yaw = pitch = facing = None
            expression = None
            if rank < self.analyse_faces:
                # Both crops while the face's pixels are in cache, then both models back to
                # back, then the arithmetic on their outputs (each invoke evicts the caches).
                meshing, classifier = self.mesh, self.expression
                matrix = meshing.prepare(frame, face) if meshing is not None else None
                read = classifier is not None and classifier.prepare(frame, face)
                mesh = None if meshing is None or matrix is None else meshing.run(matrix)
                probs = classifier.run() if classifier is not None and read else None
                if mesh is not None and mesh.presence >= self.min_presence:
                    pose = mesh.pose()
                    yaw, pitch = pose.yaw, pose.pitch
                    facing = pose.facing(self.max_yaw, self.max_pitch)
                if probs is not None:
                    expression = expression_dict(probs)
            observed.append(
                FaceObservation(
                    box=face.to_box(),
                    yaw=yaw,
                    pitch=pitch,
                    facing_screen=facing,
                    expression=expression,
                )
            )
        return FrameObservation(t=t, faces=tuple(observed), brightness=scan.brightness)

    def framing(
        self, frame: npt.NDArray[np.uint8], limits: FramingLimits = DEFAULT_LIMITS
    ) -> FramingVerdict:
        """The framing check with this analyzer's detector."""
        return framing_check(frame, self.detector, limits)

    def summarise(
        self, observations: Sequence[FrameObservation], *, duration_s: float | None = None
    ) -> VisionSummary:
        """:func:`summarise` with this analyzer's expression setting and models."""
        return summarise(
            observations,
            expression_run=self.expression_run,
            duration_s=duration_s,
            models=self.models,
        )


def summarise(
    observations: Sequence[FrameObservation],
    *,
    expression_run: bool,
    duration_s: float | None = None,
    models: Sequence[ModelRef] = (),
) -> VisionSummary:
    """The answer's summary. Per-face figures describe each frame's first (largest) face;
    ``facing_screen_ratio`` counts the frames where a pose was estimated. The expression
    distribution is the mean probability of each class over the frames whose face had its
    expression read (None when expression analysis did not run or no face was read).
    ``sample_fps`` is frames per second between the first and last frame (over
    ``duration_s`` when there is only one). Ratios are 0 and means None with no frames."""
    n = len(observations)
    with_face = [o for o in observations if o.faces]
    mains = [o.faces[0] for o in with_face]
    span = observations[-1].t - observations[0].t if n > 1 else 0.0
    fps = (n - 1) / span if span > 0 else (n / duration_s if duration_s else 0.0)
    posed = [f.facing_screen for f in mains if f.facing_screen is not None]
    distribution: dict[str, float] | None = None
    if expression_run:
        read = [f.expression for f in mains if f.expression is not None]
        if read:
            mean = np.array([[e[name] for name in EXPRESSIONS] for e in read]).mean(axis=0)
            distribution = dict(zip(EXPRESSIONS, mean.tolist(), strict=True))
    return VisionSummary(
        frames_analysed=n,
        sample_fps=fps,
        face_present_ratio=len(with_face) / n if n else 0.0,
        multiple_faces_ratio=sum(len(o.faces) > 1 for o in observations) / n if n else 0.0,
        max_faces=max((len(o.faces) for o in observations), default=0),
        mean_face_height=_mean([f.box.h for f in mains]),
        mean_offset=_mean(
            [math.hypot(f.box.x + f.box.w / 2 - 0.5, f.box.y + f.box.h / 2 - 0.5) for f in mains]
        ),
        facing_screen_ratio=sum(posed) / len(posed) if posed else None,
        expression_run=expression_run,
        expression_distribution=distribution,
        timeline=tuple(_point(o, expression_run) for o in observations),
        model=tuple(models),
    )


def model_ref(model: TFLiteModel, version: str = "unversioned") -> ModelRef:
    """A :class:`ModelRef` for a loaded model: its file stem and the file's sha256."""
    digest = hashlib.sha256(model.path.read_bytes()).hexdigest()
    return ModelRef(name=model.path.stem, version=version, sha256=digest)


def _point(observation: FrameObservation, expression_run: bool) -> TimelinePoint:
    main = observation.faces[0] if observation.faces else None
    expression = None
    if expression_run and main is not None and main.expression is not None:
        expression = top_expression(main.expression)
    return TimelinePoint(
        t=observation.t,
        face=main is not None,
        faces=len(observation.faces),
        facing_screen=None if main is None else main.facing_screen,
        expression=expression,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


__all__ = ["FaceAnalyzer", "model_ref", "summarise"]
