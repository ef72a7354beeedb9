"""One answer from recorded files to its analysis: speech, content, faces, activity.

The :class:`Analyzer` holds the loaded models (each loaded once, after verification by the
model store) and turns an answer's files into the records scoring consumes. It knows nothing
of sessions or job packages: the caller passes the question's vocabulary in the interview's
language (:class:`QuestionVocabulary`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inference.content.answer import QuestionVocabulary, content_analysis
from inference.findings import (
    ActivitySummary,
    DemonstrationAnalysis,
    FrameObservation,
    SpokenAnswerAnalysis,
    Transcript,
    VisionSummary,
)
from inference.media import MediaError, extract_audio, kind_of
from inference.models.store import ModelFiles
from inference.scoring.models import DemonstrationSpec
from inference.speech.recognizer import RecognitionStream, Speech
from inference.speech.whisper import WhisperSettings
from inference.vision.analyzer import FaceAnalyzer
from inference.vision.frames import RateController, probe, read_frames
from inference.vision.hands import HandTracker
from inference.vision.motion import ActivityMeter


def cpu_load() -> float | None:
    """The 1-minute load average per core (1.0 = every core busy), None where unknown."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return None


@dataclass(frozen=True)
class Settings:
    tflite_threads: int = 2
    frame_rate: float = 5.0
    pause_threshold_s: float = 0.7
    speech: WhisperSettings = field(default_factory=WhisperSettings)


class Analyzer:
    """Loaded models and the analysis of one answer at a time (thread-safe: one lock)."""

    def __init__(self, models: ModelFiles, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.models = models
        self.speech = Speech(models.speech, self.settings.speech)
        self._faces: dict[bool, FaceAnalyzer] = {}
        self._hands: HandTracker | None = None
        self._lock = threading.Lock()

    # --- languages ---------------------------------------------------------------------------

    def speech_language(self, language: str) -> str:
        """The installed speech language serving ``language`` ('zh-CN' is served by 'zh')."""
        return self.speech.serving(language)

    def stream(self, language: str, hints: Sequence[str] = ()) -> RecognitionStream:
        """A live recognition stream for an answer being recorded (captions as it goes);
        ``hints``: the terms the question listens for."""
        return self.speech.stream(language, hints=hints)

    # --- faces ---------------------------------------------------------------------------------

    def faces(self, expression: bool) -> FaceAnalyzer:
        """The face analyser; without ``expression`` the expression model is not even loaded."""
        if expression not in self._faces:
            m = self.models
            refs = [m.face_detection.ref, m.face_landmarks.ref]
            if expression:
                refs.append(m.expression.ref)
            self._faces[expression] = FaceAnalyzer.load(
                m.face_detection.path, m.face_landmarks.path,
                m.expression.path if expression else None, expression=expression,
                num_threads=self.settings.tflite_threads, models=refs,
            )
        return self._faces[expression]

    def hands(self) -> HandTracker | None:
        """The hand tracker, loaded on first use; None when no hand model is installed
        (demonstrations are then measured by motion in the work area alone)."""
        if self._hands is None and self.models.hands is not None:
            self._hands = HandTracker.load(
                self.models.hands.path, num_threads=self.settings.tflite_threads
            )
        return self._hands

    # --- one answer ----------------------------------------------------------------------------

    def transcribe(self, audio: Path, language: str, hints: Sequence[str] = ()) -> Transcript:
        return self.speech.transcribe_file(audio, language, hints)

    def spoken(self, vocab: QuestionVocabulary, *, audio: Path | None, video: Path | None,
               expression: bool, timed_out: bool = False,
               transcript: Transcript | None = None) -> SpokenAnswerAnalysis:
        """Analyse a spoken answer from its files (or a transcript already made live)."""
        with self._lock:
            if transcript is None:
                transcript = self._transcript(vocab.language, audio, video, vocab.hints())
            vision = self._vision(video, expression) if video is not None else None
        return content_analysis(vocab, transcript, vision=vision, timed_out=timed_out,
                                pause_threshold_s=self.settings.pause_threshold_s)

    def demonstration(self, spec: DemonstrationSpec, *, video: Path | None, expression: bool,
                      duration_s: float | None = None) -> DemonstrationAnalysis:
        if video is None:
            raise MediaError(f"demonstration '{spec.id}' has no video recording to analyse")
        with self._lock:
            activity, vision = self._activity(video, spec, expression, duration_s)
        return DemonstrationAnalysis(item_id=spec.id, activity=activity, vision=vision,
                                     checklist=None)

    def _transcript(self, language: str, audio: Path | None, video: Path | None,
                    hints: Sequence[str] = ()) -> Transcript:
        if audio is not None:
            kind_of(audio)
            return self.transcribe(audio, language, hints)
        if video is None:
            raise MediaError("the answer has neither an audio nor a video recording")
        with tempfile.TemporaryDirectory(prefix="kiosk-audio-") as tmp:
            wav = extract_audio(video, Path(tmp) / "audio.wav")
            if wav is None:
                raise MediaError(f"{video}: no audio track to transcribe")
            return self.transcribe(wav, language, hints)

    def _vision(self, video: Path, expression: bool,
                meter: ActivityMeter | None = None) -> VisionSummary:
        """Faces on frames sampled from ``video``; with ``meter``, also the motion (face left
        out) and, when the hand model is installed, the hands."""
        faces = self.faces(expression)
        hands = self.hands() if meter is not None else None
        controller = RateController(self.settings.frame_rate)
        observed: list[FrameObservation] = []
        for frame in read_frames(video, fps=self.settings.frame_rate, controller=controller):
            started = time.perf_counter()
            seen = faces.analyse(frame.image, frame.t)
            observed.append(seen)
            if meter is not None:
                found = None if hands is None else [h.box for h in hands.find(frame.image)]
                meter.update(frame.t, frame.image, faces=[f.box for f in seen.faces],
                             hands=found)
            controller.report(time.perf_counter() - started, cpu_load=cpu_load())
        return faces.summarise(observed)

    def _activity(self, video: Path, spec: DemonstrationSpec, expression: bool,
                  duration_s: float | None) -> tuple[ActivitySummary, VisionSummary]:
        meter = ActivityMeter(work_area=spec.work_area)
        vision = self._vision(video, expression, meter)
        if duration_s is None or duration_s <= 0:
            duration_s = probe(video).duration_s
        return meter.summary(spec.time_limit_s, duration_s=duration_s), vision


__all__ = ["Analyzer", "QuestionVocabulary", "Settings", "content_analysis"]
