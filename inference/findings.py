"""What analysis produces: small, frozen, JSON-serialisable records shared by every stage.

Speech, vision, scoring and the report all speak these types, so a stored analysis can be
reloaded (``Model.model_validate``) and re-scored after a rubric change without re-running
the models. Times are seconds from the start of the answer's recording.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["zh-CN", "en", "ko"]
StarElement = Literal["situation", "task", "action", "result"]
STAR_ELEMENTS: tuple[StarElement, ...] = ("situation", "task", "action", "result")
EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven FER-2013 classes, in the expression model's output order."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelRef(Record):
    """Which installed model produced a result: name, version and the sha256 of its files."""

    name: str
    version: str
    sha256: str = Field(description="Digest over the model's files, as verified at load.")


# --- speech ---------------------------------------------------------------------------------


class Word(Record):
    text: str
    start: float = Field(ge=0, description="Seconds from the start of the recording.")
    end: float = Field(ge=0)
    conf: float = Field(ge=0, le=1, description="Recogniser confidence, 0-1.")


class Transcript(Record):
    """The final transcript of one answer (all takes of one recording, follow-up included)."""

    language: str
    words: tuple[Word, ...]
    text: str
    duration_s: float = Field(ge=0, description="Length of the audio, seconds.")
    silent: bool = Field(description="True when the audio held no speech at all.")
    model: ModelRef | None = None
    quality: float | None = Field(
        default=None, ge=0, le=1,
        description="Recognition quality, 0-1, from the decoder's own figures (see"
        " inference.speech.quality); None when the recogniser gives none.",
    )


class Match(Record):
    """One phrase found in a transcript: what was asked for, what was heard, and when."""

    phrase: str = Field(description="The keyword, synonym, cue or filler looked for.")
    heard: str = Field(description="The recognised words that matched, as spoken.")
    start: float
    end: float
    words: tuple[int, ...] = Field(description="Indexes of the matched words in the transcript.")


class Pause(Record):
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


class SpeechMetrics(Record):
    duration_s: float = Field(description="Answer length, seconds.")
    speech_s: float = Field(description="Time from the first word's start to the last word's end.")
    word_count: int
    speaking_rate: float = Field(
        description="Words per minute (en) or syllables per minute (zh-CN, ko) of speech time."
    )
    rate_unit: Literal["words/min", "syllables/min"]
    pause_ratio: float = Field(ge=0, le=1, description="Share of speech time spent in pauses.")
    longest_pause: Pause | None
    pauses: tuple[Pause, ...] = Field(description="Gaps between words of at least the threshold.")
    fillers: tuple[Match, ...]
    filler_rate: float = Field(description="Fillers per 100 words.")
    mean_confidence: float | None = Field(description="Mean word confidence; None with no words.")
    silent: bool


class CompetencyEvidence(Record):
    """Evidence in one answer for one competency, from the question's vocabulary."""

    competency: str
    keywords_expected: tuple[str, ...]
    keywords_found: tuple[Match, ...] = Field(description="At most one match per keyword, first.")
    synonyms_found: tuple[Match, ...]
    coverage: float = Field(
        ge=0, le=1, description="Share of expected keywords found (a synonym hit counts as half)."
    )


class StarCoverage(Record):
    found: dict[StarElement, tuple[Match, ...]] = Field(
        description="Cue phrases heard per STAR element (empty tuple when missing)."
    )
    covered: tuple[StarElement, ...]
    missing: tuple[StarElement, ...]
    coverage: float = Field(ge=0, le=1, description="Share of the four elements present.")
    in_order: bool = Field(description="Covered elements first appear in S, T, A, R order.")
    structure: float = Field(
        ge=0, le=1, description="Structure score: coverage, order and a closing summary."
    )


class FollowUp(Record):
    """A follow-up prompt chosen on the box because the answer missed a STAR element."""

    element: StarElement
    prompt: str
    language: str


# --- vision ---------------------------------------------------------------------------------


class Box(Record):
    """A face box in frame coordinates normalised to 0-1."""

    x: float
    y: float
    w: float
    h: float
    score: float


class FaceObservation(Record):
    box: Box
    yaw: float | None = Field(default=None, description="Degrees; 0 faces the camera.")
    pitch: float | None = Field(default=None, description="Degrees; 0 faces the camera.")
    facing_screen: bool | None = None
    expression: dict[str, float] | None = Field(
        default=None, description="Probabilities of the seven classes; None when not run."
    )


class FrameObservation(Record):
    t: float
    faces: tuple[FaceObservation, ...]
    brightness: float = Field(description="Mean luma, 0-255.")


FramingProblem = Literal[
    "no_face", "several_faces", "too_far", "too_close", "off_centre", "too_dark", "too_bright"
]


class FramingVerdict(Record):
    """The pre-recording framing check: ok, or the problems in order of importance."""

    ok: bool
    problems: tuple[FramingProblem, ...]
    advice: tuple[str, ...] = Field(description="Plain advice in English, one per problem.")
    face: Box | None
    brightness: float
    face_height: float | None = Field(description="Face box height as a share of frame height.")
    offset: tuple[float, float] | None = Field(
        description="Face centre minus frame centre, as shares of frame width and height."
    )


class TimelinePoint(Record):
    t: float
    face: bool
    faces: int
    facing_screen: bool | None
    expression: str | None = Field(description="Top expression class; None when not run.")


class VisionSummary(Record):
    frames_analysed: int
    sample_fps: float = Field(description="Mean rate actually analysed (adapts to CPU load).")
    face_present_ratio: float
    multiple_faces_ratio: float
    max_faces: int
    mean_face_height: float | None
    mean_offset: float | None = Field(description="Mean distance of the face from frame centre.")
    facing_screen_ratio: float | None
    expression_run: bool = Field(description="False when expression analysis was not consented.")
    expression_distribution: dict[str, float] | None
    timeline: tuple[TimelinePoint, ...]
    model: tuple[ModelRef, ...] = ()


class WorkArea(Record):
    """Where in the picture a demonstration's work happens, in shares (0-1) of the frame."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(gt=0, le=1)
    height: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> WorkArea:
        if self.x + self.width > 1 + 1e-9 or self.y + self.height > 1 + 1e-9:
            raise ValueError("the work area must lie inside the frame")
        return self


ActivityBasis = Literal["frame_motion", "work_area_motion", "hands"]
"""What a demonstration's activity measured: ``hands``, hands at work in the work area (the
hand model was installed); ``work_area_motion``, motion in the work area with the
candidate's face left out; ``frame_motion``, motion over the whole picture, face included
(analyses made before the work area existed)."""


class ActivityPoint(Record):
    t: float
    energy: float = Field(description="Motion energy between sampled frames, 0-1.")
    hands: int | None = Field(
        default=None, description="Hands seen in the work area; None without the hand model."
    )


class ActivitySummary(Record):
    """A skill demonstration's activity, from what moved in its work area."""

    duration_s: float
    time_limit_s: float
    within_limit: bool
    active_ratio: float = Field(
        description="Share of the time spent working: hands in the work area and moving (with"
        " the hand model), else motion in the work area."
    )
    timeline: tuple[ActivityPoint, ...]
    idle_periods: tuple[Pause, ...] = Field(
        description="Stretches with no motion of note in the work area (with the hand model:"
        " hands in the area but still)."
    )
    basis: ActivityBasis = Field(default="frame_motion", description="What was measured.")
    work_area: WorkArea | None = Field(
        default=None, description="The work area measured; None: the whole picture."
    )
    frames_analysed: int | None = Field(
        default=None, description="Frames the activity was read from; None in older analyses."
    )
    hands_in_area_ratio: float | None = Field(
        default=None, ge=0, le=1,
        description="Share of the time a hand was in the work area; None without the hand model.",
    )
    hands_away_periods: tuple[Pause, ...] = Field(
        default=(), description="Stretches with no hand in the work area (hand model only)."
    )
    work_start: float | None = Field(
        default=None, description="When work was first seen, seconds; None when never."
    )
    work_end: float | None = Field(
        default=None, description="When work was last seen, seconds; None when never."
    )


class SpokenAnswerAnalysis(Record):
    """Everything analysis produced for one spoken answer."""

    kind: Literal["question"] = Field(default="question", description="Item type.")
    item_id: str = Field(description="Id of the question answered.")
    transcript: Transcript = Field(description="The final transcript of the answer.")
    metrics: SpeechMetrics = Field(description="Pace, pauses, fillers and confidence.")
    evidence: tuple[CompetencyEvidence, ...] = Field(description="One entry per competency.")
    star: StarCoverage = Field(description="STAR elements heard.")
    follow_up: FollowUp | None = Field(default=None, description="Follow-up asked, if any.")
    vision: VisionSummary | None = Field(default=None, description="None without video analysis.")
    timed_out: bool = Field(description="The answer ran to the time limit.")
    answer_time_s: float | None = Field(
        default=None,
        gt=0,
        description="Answer time limit in force when recorded; None means the question's.",
    )


class DemonstrationAnalysis(Record):
    """Everything analysis (and staff) produced for one skill demonstration."""

    kind: Literal["demonstration"] = Field(default="demonstration", description="Item type.")
    item_id: str = Field(description="Id of the demonstration task.")
    activity: ActivitySummary = Field(description="Time taken and motion over time.")
    vision: VisionSummary | None = Field(default=None, description="None without face analysis.")
    checklist: dict[str, bool] | None = Field(
        description="Staff ticks per checklist point id; None until staff have scored the task."
    )


ItemAnalysis = Annotated[SpokenAnswerAnalysis | DemonstrationAnalysis, Field(discriminator="kind")]
