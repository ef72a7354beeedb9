"""Each rubric metric measured on one item and mapped to 0-1 (see ``inference.scoring.scorer``).

Every function returns a :class:`Reading`: the 0-1 value (None when the item cannot measure it),
the raw figure and its unit, the words and time spans behind it, and a structured note.

Speech recognised below :data:`inference.speech.quality.RELIABLE_QUALITY` is heard but not
understood: every metric read from its words (:data:`WORD_METRICS`) is not assessed, with the
reason, never 0. Pauses and answer length come from when speech happened, not from what was said,
and stay measured.

A demonstration finished below its time band's credible minimum is "too fast to be credible":
its time and activity (:data:`TIMED_METRICS`) are not assessed, never a top score and never 0,
and the recording needs a human look.
"""

from __future__ import annotations

from typing import NamedTuple

from inference.findings import (
    EXPRESSIONS,
    ActivitySummary,
    DemonstrationAnalysis,
    Match,
    SpokenAnswerAnalysis,
    Transcript,
    VisionSummary,
)
from inference.scoring import structure
from inference.scoring.models import (
    DemonstrationSpec,
    Metric,
    Note,
    QuestionSpec,
    Span,
    TimedPhrase,
)
from inference.speech.quality import NOT_ASSESSED_REASON, unreliable_reason

SPOKEN_METRICS: frozenset[Metric] = frozenset(
    {
        "keyword_coverage",
        "star_coverage",
        "structure",
        "speaking_rate",
        "pause_ratio",
        "filler_rate",
        "word_confidence",
        "answer_duration",
    }
)
WORD_METRICS: frozenset[Metric] = frozenset(
    {
        "keyword_coverage",
        "star_coverage",
        "structure",
        "speaking_rate",
        "filler_rate",
        "word_confidence",
    }
)
"""Spoken metrics read from the recognised words: the content (keywords, STAR, structure), but
also the words counted for the speaking rate, the fillers that must be recognised as fillers, and
the recogniser's own confidence (low because the box did not understand, which is no reading of
the candidate). Not assessed when the speech was not recognised reliably."""
DEMONSTRATION_METRICS: frozenset[Metric] = frozenset({"completion_time", "checklist", "activity"})
VISION_METRICS: frozenset[Metric] = frozenset({"facing_screen", "expression"})
TIMED_METRICS: frozenset[Metric] = frozenset({"completion_time", "activity"})
"""Demonstration metrics read from the time taken and the activity in it: not assessed when the
task was finished below its band's credible minimum (too fast to be credible)."""

RATE_BANDS: dict[str, tuple[float, float]] = {
    "words/min": (110.0, 170.0),
    "syllables/min": (180.0, 320.0),
}
"""Comfortable speaking rate per unit: en in words/min; zh-CN and ko in syllables/min."""
RATE_FALLOFF = 0.5
"""Outside the band the value falls linearly to 0 over this share of the nearer bound."""
PAUSE_BEST, PAUSE_WORST = 0.15, 0.6
FILLER_BEST, FILLER_WORST = 2.0, 15.0
SHORT_ANSWER_SHARE = 0.3
"""An answer with less speech than this share of the answer time scores proportionally less."""
TIMED_OUT_CAP = 0.8
COMPLETION_AT_LIMIT = 0.8
"""Completion value at exactly the time limit; it rises linearly to 1 for an instant finish, or,
for a task with a time band, to 1 at the band's slowest expected finish (1 inside the band)."""
NEGATIVE_EXPRESSIONS: frozenset[str] = frozenset({"angry", "disgust", "fear", "sad"})
TERMS_SHOWN = 3


class Reading(NamedTuple):
    value: float | None
    raw: float | None
    unit: str
    note: Note
    evidence: tuple[Match, ...] = ()
    spans: tuple[Span, ...] = ()


def clamp01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def falling(value: float, best: float, worst: float) -> float:
    """1 at or below ``best``, 0 at or above ``worst``, linear between."""
    return clamp01((worst - value) / (worst - best))


def rate_value(rate: float, unit: str) -> float:
    low, high = RATE_BANDS[unit]
    if rate < low:
        return clamp01(1 - (low - rate) / (low * RATE_FALLOFF))
    if rate > high:
        return clamp01(1 - (rate - high) / (high * RATE_FALLOFF))
    return 1.0


def timed(matches: tuple[Match, ...]) -> tuple[TimedPhrase, ...]:
    return tuple(TimedPhrase(text=m.heard, t=m.start) for m in matches[:TERMS_SHOWN])


def by_time(matches: tuple[Match, ...]) -> tuple[Match, ...]:
    return tuple(sorted(matches, key=lambda m: (m.start, m.end, m.phrase)))


def not_recorded() -> Reading:
    return Reading(None, None, "", Note(code="not_recorded"))


def not_analysed(reason: str) -> Reading:
    """An item that was recorded but whose analysis failed: nothing measured, with the reason."""
    return Reading(None, None, "", Note(code="not_analysed", reason=reason))


def content_not_assessed(transcript: Transcript) -> str | None:
    """Why the words of a spoken answer cannot be assessed, or None when they can: speech
    recognised below the reliable quality, or no speech heard at all (silence, or only
    noise: a muted microphone is not a candidate with nothing to say)."""
    if not transcript.words and not transcript.silent:
        return NOT_ASSESSED_REASON  # sound was decoded, nothing was understood
    return unreliable_reason(transcript)


def not_assessed(transcript: Transcript) -> Reading | None:
    """The reading of a word metric when the words were not understood or no speech was
    heard; None when they were understood."""
    if content_not_assessed(transcript) is None:
        return None
    if transcript.silent:
        return Reading(None, None, "", Note(code="speech_not_heard"))
    values = {} if transcript.quality is None else {"quality": transcript.quality}
    return Reading(None, None, "", Note(code="speech_unreliable", values=values))


def spoken(metric: Metric, competency: str, spec: QuestionSpec, a: SpokenAnswerAnalysis) -> Reading:
    m, star = a.metrics, a.star
    if (unheard := not_assessed(a.transcript)) is not None and not a.transcript.words:
        return unheard  # no words at all: not even pauses or length say anything
    if a.transcript.silent or m.silent or m.word_count == 0:
        return Reading(0.0, 0.0, "", Note(code="no_speech"))
    found = [e for e in a.evidence if e.competency == competency]
    if metric == "keyword_coverage" and not found:
        return Reading(None, None, "", Note(code="no_vocabulary"))
    if metric in WORD_METRICS and (unassessed := not_assessed(a.transcript)) is not None:
        return unassessed
    if metric == "keyword_coverage":
        ev = found[0]
        matches = by_time(ev.keywords_found + ev.synonyms_found)
        values = {
            "found": float(len(ev.keywords_found)),
            "expected": float(len(ev.keywords_expected)),
            "synonyms": float(len(ev.synonyms_found)),
            "pct": ev.coverage,
        }
        note = Note(code="keywords", values=values, terms=timed(matches))
        return Reading(ev.coverage, ev.coverage, "share", note, matches)
    if metric == "star_coverage":
        cues = by_time(tuple(x for e in star.covered for x in star.found.get(e, ())))
        note = Note(
            code="star", values={"covered": float(len(star.covered))}, elements=star.missing
        )
        return Reading(star.coverage, float(len(star.covered)), "elements of 4", note, cues)
    if metric == "structure":
        return Reading(star.structure, star.structure, "share", structure.note(star))
    if metric == "speaking_rate":
        low, high = RATE_BANDS[m.rate_unit]
        values = {"rate": float(round(m.speaking_rate)), "lo": low, "hi": high}
        note = Note(code="speaking_rate", values=values, label=m.rate_unit)
        return Reading(rate_value(m.speaking_rate, m.rate_unit), m.speaking_rate, m.rate_unit, note)
    if metric == "pause_ratio":
        values = {"pct": m.pause_ratio}
        if m.longest_pause is not None:
            values |= {"len_s": m.longest_pause.length, "at": m.longest_pause.start}
        spans = tuple(Span(start=p.start, end=p.end, kind="pause") for p in m.pauses)
        value = falling(m.pause_ratio, PAUSE_BEST, PAUSE_WORST)
        return Reading(value, m.pause_ratio, "ratio", Note(code="pauses", values=values), (), spans)
    if metric == "filler_rate":
        note = Note(code="fillers", values={"rate": m.filler_rate}, terms=timed(m.fillers))
        value = falling(m.filler_rate, FILLER_BEST, FILLER_WORST)
        return Reading(value, m.filler_rate, "per 100 words", note, by_time(m.fillers))
    if metric == "word_confidence":
        if m.mean_confidence is None:
            return Reading(0.0, 0.0, "", Note(code="no_speech"))
        note = Note(code="confidence", values={"pct": m.mean_confidence})
        return Reading(clamp01(m.mean_confidence), m.mean_confidence, "mean confidence", note)
    if metric == "answer_duration":
        limit = a.answer_time_s if a.answer_time_s is not None else spec.answer_time_s
        value = clamp01(m.speech_s / (SHORT_ANSWER_SHARE * limit))
        values = {"spoke": m.speech_s, "limit": limit}
        if a.timed_out:
            note = Note(code="timed_out", values=values)
            return Reading(min(value, TIMED_OUT_CAP), m.speech_s, "s", note)
        return Reading(value, m.speech_s, "s", Note(code="duration", values=values))
    raise ValueError(f"{metric} is not a spoken-answer metric")


UNSEEN_REASON = "the camera gave no view of the work area"


def work_area_unseen(act: ActivitySummary) -> str | None:
    """Why a demonstration's activity cannot be read (fewer than two frames of its work
    area were analysed); None when it can. Older analyses, which did not count frames, are
    read as before."""
    if act.frames_analysed is not None and act.frames_analysed < 2:
        return UNSEEN_REASON
    return None


def activity_spans(act: ActivitySummary) -> tuple[Span, ...]:
    """A demonstration's evidence as timestamps: the work from its first sight to its last,
    idle periods and hands-away periods, in time order."""
    spans = [Span(start=p.start, end=p.end, kind="idle") for p in act.idle_periods]
    spans += [Span(start=p.start, end=p.end, kind="hands_away") for p in act.hands_away_periods]
    if act.work_start is not None and act.work_end is not None:
        spans.append(Span(start=act.work_start, end=act.work_end, kind="work"))
    order = {"work": 0, "idle": 1, "hands_away": 2, "pause": 3}
    return tuple(sorted(spans, key=lambda sp: (sp.start, order[sp.kind], sp.end)))


def too_fast(spec: DemonstrationSpec, a: DemonstrationAnalysis) -> Note | None:
    """The "too fast to be credible" note when the task was finished below its band's credible
    minimum; None when it has no band or was not."""
    band = spec.time_band
    if band is None or a.activity.duration_s >= band.credible_min_s:
        return None
    values = {"took": a.activity.duration_s, "credible": band.credible_min_s}
    return Note(code="too_fast", values=values)


def _completion(spec: DemonstrationSpec, a: DemonstrationAnalysis) -> Reading:
    act, band = a.activity, spec.time_band
    limit = act.time_limit_s if act.time_limit_s > 0 else spec.time_limit_s
    values = {"took": act.duration_s, "limit": limit}
    if not act.within_limit or act.duration_s > limit:
        return Reading(0.0, act.duration_s, "s", Note(code="over_time", values=values))
    if band is None:
        value = COMPLETION_AT_LIMIT + (1 - COMPLETION_AT_LIMIT) * (1 - act.duration_s / limit)
        return Reading(clamp01(value), act.duration_s, "s", Note(code="completion", values=values))
    values |= {"fastest": band.expected_min_s, "slowest": band.expected_max_s}
    if act.duration_s <= band.expected_max_s:  # inside the band, or brisk but credible
        return Reading(1.0, act.duration_s, "s", Note(code="in_band", values=values))
    late = (act.duration_s - band.expected_max_s) / max(limit - band.expected_max_s, 1e-9)
    value = 1 - (1 - COMPLETION_AT_LIMIT) * late
    return Reading(clamp01(value), act.duration_s, "s", Note(code="over_band", values=values))


def demonstration(
    metric: Metric, competency: str, spec: DemonstrationSpec, a: DemonstrationAnalysis
) -> Reading:
    act = a.activity
    if metric in TIMED_METRICS and (fast := too_fast(spec, a)) is not None:
        return Reading(None, None, "", fast)
    if metric == "completion_time":
        return _completion(spec, a)
    if metric == "checklist":
        points = [p for p in spec.checklist if p.competency == competency]
        if not points:
            return Reading(None, None, "", Note(code="no_checklist_points"))
        if a.checklist is None:
            return Reading(None, None, "", Note(code="checklist_pending", label=spec.id))
        ticks = a.checklist
        ticked = [p for p in points if ticks.get(p.id, False)]
        share = sum(p.weight for p in ticked) / sum(p.weight for p in points)
        values = {"ticked": float(len(ticked)), "total": float(len(points)), "pct": share}
        return Reading(share, share, "share by weight", Note(code="checklist", values=values))
    if metric == "activity":
        if (reason := work_area_unseen(act)) is not None:
            return Reading(None, None, "", Note(code="activity_unseen", reason=reason))
        values = {"pct": act.active_ratio, "n": float(len(act.idle_periods))}
        if act.idle_periods:
            longest = max(act.idle_periods, key=lambda p: (p.length, -p.start))
            values |= {"len": longest.length, "at": longest.start}
        if act.hands_in_area_ratio is not None:
            values |= {"hands": act.hands_in_area_ratio, "away": float(len(act.hands_away_periods))}
        note = Note(code="activity", values=values, label=act.basis)
        ratio = clamp01(act.active_ratio)
        return Reading(ratio, act.active_ratio, "ratio", note, (), activity_spans(act))
    raise ValueError(f"{metric} is not a demonstration metric")


def top_expression(distribution: dict[str, float]) -> tuple[str, float]:
    order = {name: i for i, name in enumerate(EXPRESSIONS)}
    name, share = min(distribution.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99), kv[0]))
    return name, share


def vision(metric: Metric, v: VisionSummary | None, consent: bool) -> Reading:
    if metric == "facing_screen":
        if v is None or v.facing_screen_ratio is None:
            return Reading(None, None, "", Note(code="no_video"))
        ratio = v.facing_screen_ratio
        return Reading(clamp01(ratio), ratio, "ratio", Note(code="facing", values={"pct": ratio}))
    if metric == "expression":
        if not consent:
            return Reading(None, None, "", Note(code="expression_declined"))
        if v is None or not v.expression_run or not v.expression_distribution:
            return Reading(None, None, "", Note(code="expression_not_run"))
        dist = v.expression_distribution
        value = clamp01(1 - sum(p for k, p in dist.items() if k in NEGATIVE_EXPRESSIONS))
        label, share = top_expression(dist)
        note = Note(code="expression", values={"pct": share}, label=label)
        return Reading(value, value, "share not negative", note)
    raise ValueError(f"{metric} is not a vision metric")
