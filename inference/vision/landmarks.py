"""Face mesh (MediaPipe's 468-point face landmark model) and head pose from it.

The crop follows MediaPipe's detection-to-ROI step: a square 1.5x the detection box's long
side, centred on the box and rotated so the eyes are level (when they tilt by more than a
few degrees); the model sees it as 192x192 RGB in 0-1. Landmarks come back in frame
pixels (z in the same scale, negative towards the camera).

Head pose: a least-squares affine fit of 21 rigid landmarks (forehead, nose ridge, eye
corners, temples, cheeks, nostrils; not the jaw or lips, which move when speaking) onto
the same points of MediaPipe's canonical face model. The fitted map's x (ear to ear) and
y (chin to forehead) axes span the face; their cross product is where the face points, and
yaw and pitch are that direction's angles from the camera axis. It agrees with a Kabsch
(rotation-only) fit within about 2 degrees, costs one small matrix product instead of an
SVD, ignores the depth scale of the mesh's z, and needs no camera intrinsics (weak
perspective); roll does not leak into yaw or pitch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from inference.models.tflite import TFLiteModel
from inference.vision.crops import (
    Matrix,
    crop_to_image,
    lookup_table,
    rotated_crop,
    square_input,
    to_input,
)
from inference.vision.faces import Detection

INPUT_SIZE = 192
_TO_UNIT = lookup_table(0.0, 1.0)
ROI_SCALE = 1.5

# Canonical face model (mediapipe/modules/face_geometry/data/canonical_face_model.obj),
# centimetres, x to the image right, y up, z towards the camera. Midline points, then
# left/right pairs (the model is symmetric: x mirrors).
_MIDLINE = {
    1: (-1.126865, 7.475604),
    4: (-0.463170, 7.586580),
    5: (0.365669, 7.242870),
    6: (2.473255, 5.788627),
    8: (4.019042, 5.284764),
    9: (4.885979, 5.385258),
    10: (8.261778, 4.481535),
    151: (6.545390, 5.027311),
    168: (3.271027, 5.236015),
    195: (1.059413, 6.774605),
    197: (1.728369, 6.316750),
}
_PAIRS = {  # image-left index, image-right index: (x of the image-left one, y, z)
    (33, 263): (-4.445859, 2.663991, 3.173422),  # outer eye corners
    (133, 362): (-1.856432, 2.585245, 3.757904),  # inner eye corners
    (127, 356): (-7.743095, 2.364999, -2.005167),  # temples
    (234, 454): (-7.664182, 0.673132, -2.435867),  # cheek contour
    (98, 327): (-1.405627, -1.714196, 5.241087),  # nostril wings
}
POSE_LANDMARKS: tuple[int, ...] = (*_MIDLINE, *(i for pair in _PAIRS for i in pair))
_CANONICAL = np.array(
    [(0.0, y, z) for y, z in _MIDLINE.values()]
    + [p for (x, y, z) in _PAIRS.values() for p in ((x, y, z), (-x, y, z))],
    dtype=np.float64,
)
_CENTRED = _CANONICAL - _CANONICAL.mean(axis=0)
_FIT = (_CENTRED @ np.linalg.inv(_CENTRED.T @ _CENTRED)).astype(np.float32)
"""Least squares: observed points (N, 3) -> ``points.T @ _FIT`` is the affine map (3x3)
taking model coordinates to observed ones (the model points are centred, so the
translation drops out)."""
_POSE_INDEX = np.array(POSE_LANDMARKS, dtype=np.intp)


@dataclass(frozen=True, eq=False)
class Mesh:
    """The model's output for one face: 468 landmarks (N, 3) in 192-pixel crop space, the
    2x3 affine taking crop pixels to frame pixels, and the face-presence score (0-1).

    ``points`` maps the landmarks to frame pixels (on demand: the pose needs only a few).
    """

    raw: npt.NDArray[np.float32] = field(repr=False)
    matrix: npt.NDArray[np.float64] = field(repr=False)
    presence: float

    @property
    def points(self) -> npt.NDArray[np.float32]:
        """(N, 3) landmarks in frame pixels; z in the same scale, negative towards camera."""
        return crop_to_image(self.raw, self.matrix)

    @property
    def rotation(self) -> float:
        """How far the crop is turned in the frame, radians (clockwise in the image)."""
        return math.atan2(float(self.matrix[1, 0]), float(self.matrix[0, 0]))

    def pose(self) -> HeadPose:
        """The head pose in the frame (see :func:`head_pose`)."""
        return head_pose(self.raw, self.rotation)


@dataclass(frozen=True)
class HeadPose:
    """Degrees. yaw > 0: the face turns towards the image's right (the subject's left);
    pitch > 0: the face tilts up; roll > 0: clockwise in the image."""

    yaw: float
    pitch: float
    roll: float

    def facing(self, max_yaw: float = 25.0, max_pitch: float = 20.0) -> bool:
        return abs(self.yaw) <= max_yaw and abs(self.pitch) <= max_pitch


@dataclass(frozen=True)
class Roi:
    """A face's landmark crop: centre and side in frame pixels, angle in radians."""

    cx: float
    cy: float
    size: float
    angle: float


def face_roi(face: Detection, width: int, height: int, scale: float = ROI_SCALE) -> Roi:
    """MediaPipe's ROI: the box centre, ``scale`` x its long side, turned by the eye line."""
    cx, cy = face.centre
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    angle = math.atan2((ly - ry) * height, (lx - rx) * width)
    return Roi(cx * width, cy * height, max(face.w * width, face.h * height) * scale, angle)


class FaceMesh:
    """The face landmark model on a detected face's square ROI.

    The ROI is turned upright (``warpAffine``) only when the eye line tilts more than
    ``rotate_min_deg``; a near-upright face takes the cheaper slice-and-resize path.
    """

    def __init__(self, model: TFLiteModel, *, rotate_min_deg: float = 10.0) -> None:
        spec = model.inputs[0]
        if spec.shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{model.path.name} is not a 192x192 face mesh model: {spec.shape}")
        self.model = model
        self.rotate_min = math.radians(rotate_min_deg)
        self._points_out = next(i for i, s in enumerate(model.outputs) if s.shape[-1] == 1404)
        self._crop = np.empty((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)  # reused every face
        self._scratch = (self._crop.reshape(-1), np.empty(self._crop.size, np.float32))

    def estimate(self, frame: npt.NDArray[np.uint8], face: Detection) -> Mesh | None:
        """Landmarks of ``face`` in the BGR ``frame`` (frame pixels); None when its ROI
        lies outside the frame."""
        matrix = self.prepare(frame, face)
        return None if matrix is None else self.run(matrix)

    def prepare(self, frame: npt.NDArray[np.uint8], face: Detection) -> Matrix | None:
        """Write ``face``'s crop into the model's input; its crop-to-frame affine, or None
        when the ROI lies outside the frame. :meth:`run` then invokes the model (the two
        are split so other crops of the same face can be cut while it is in cache)."""
        h, w = frame.shape[:2]
        roi = face_roi(face, w, h)
        view = self.model.input_view()[0]
        matrix: Matrix | None
        if abs(roi.angle) >= self.rotate_min:
            crop, matrix = rotated_crop(
                frame, roi.cx, roi.cy, roi.size, roi.angle, INPUT_SIZE, self._crop
            )
            cv2.cvtColor(crop, cv2.COLOR_BGR2RGB, dst=crop)
            to_input(crop, _TO_UNIT, view)
        else:
            matrix = square_input(frame, roi.cx, roi.cy, roi.size, _TO_UNIT, view, self._scratch)
        del view  # the runtime will not run while a view of its memory is alive
        return matrix

    def run(self, matrix: Matrix) -> Mesh:
        """Invoke the model on the input :meth:`prepare` wrote; ``matrix`` is its affine."""
        outputs = self.model.invoke()
        raw = outputs[self._points_out].reshape(-1, 3)
        flag = float(outputs[1 - self._points_out].reshape(-1)[0])
        presence = 1.0 / (1.0 + math.exp(-max(-100.0, min(100.0, flag))))
        return Mesh(raw=raw, matrix=matrix, presence=presence)


def head_pose(points: npt.NDArray[np.floating], rotation: float = 0.0) -> HeadPose:
    """Yaw, pitch and roll of a 468-point mesh: frame pixels or any uniform scale of them,
    or crop pixels with the crop's ``rotation`` in the frame (radians, clockwise)."""
    a = (points[_POSE_INDEX].T @ _FIT).tolist()  # a[i][j]: observed axis i per model axis j
    if rotation:
        c, s = math.cos(rotation), math.sin(rotation)
        a[0], a[1] = (
            [c * u - s * v for u, v in zip(a[0], a[1], strict=True)],
            [s * u + c * v for u, v in zip(a[0], a[1], strict=True)],
        )
    # The face's x and y axes as observed, turned to the model's frame (y up, z to camera).
    xx, xy, xz = a[0][0], -a[1][0], -a[2][0]
    yx, yy, yz = a[0][1], -a[1][1], -a[2][1]
    fx, fy, fz = xy * yz - xz * yy, xz * yx - xx * yz, xx * yy - xy * yx  # forward = x × y
    return HeadPose(
        yaw=math.degrees(math.atan2(fx, fz)),
        pitch=math.degrees(math.atan2(fy, math.hypot(fx, fz))),
        roll=-math.degrees(math.atan2(xy, xx)),
    )


__all__ = [
    "INPUT_SIZE",
    "POSE_LANDMARKS",
    "ROI_SCALE",
    "FaceMesh",
    "HeadPose",
    "Mesh",
    "Roi",
    "face_roi",
    "head_pose",
]
