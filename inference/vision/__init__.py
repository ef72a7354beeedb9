"""Face, expression, framing, hand and activity analysis of video frames (numpy, OpenCV, TFLite).

Frames are BGR ``uint8`` arrays as OpenCV reads them. Typical use::

    analyzer = FaceAnalyzer.load(detection, landmarks, expression_path, expression=consented)
    observations = [analyzer.analyse(f.image, f.t) for f in read_frames(video)]
    summary = analyzer.summarise(observations)
"""

from inference.vision.analyzer import FaceAnalyzer, model_ref, summarise
from inference.vision.errors import FrameError, MediaError, VisionError, check_frame
from inference.vision.expression import ExpressionClassifier, expression_dict, top_expression
from inference.vision.faces import Detection, FaceDetector, Scan
from inference.vision.frames import (
    DEFAULT_FPS,
    Frame,
    RateController,
    VideoInfo,
    probe,
    read_frames,
    sample,
)
from inference.vision.framing import ADVICE, FramingLimits, framing_check, judge_framing
from inference.vision.hands import Hand, HandTracker
from inference.vision.landmarks import FaceMesh, HeadPose, Mesh, head_pose
from inference.vision.motion import ActivityMeter, activity_summary, motion_energy

__all__ = [
    "ADVICE",
    "DEFAULT_FPS",
    "ActivityMeter",
    "Detection",
    "ExpressionClassifier",
    "FaceAnalyzer",
    "FaceDetector",
    "FaceMesh",
    "Frame",
    "FrameError",
    "FramingLimits",
    "Hand",
    "HandTracker",
    "HeadPose",
    "MediaError",
    "Mesh",
    "RateController",
    "Scan",
    "VideoInfo",
    "VisionError",
    "activity_summary",
    "check_frame",
    "expression_dict",
    "framing_check",
    "head_pose",
    "judge_framing",
    "model_ref",
    "motion_energy",
    "probe",
    "read_frames",
    "sample",
    "summarise",
    "top_expression",
]
