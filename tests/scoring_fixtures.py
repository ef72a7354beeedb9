"""Constructed analysis records for the scoring and report tests (no models needed).

Mirrors the shipped assembly-line-operator package: two spoken questions and one demonstration.
"""

from __future__ import annotations

from collections.abc import Sequence

from inference.findings import (
    ActivityPoint,
    ActivitySummary,
    CompetencyEvidence,
    DemonstrationAnalysis,
    FollowUp,
    Match,
    ModelRef,
    Pause,
    SpeechMetrics,
    SpokenAnswerAnalysis,
    StarCoverage,
    StarElement,
    TimelinePoint,
    Transcript,
    VisionSummary,
    Word,
)
from inference.scoring.models import (
    ChecklistPointSpec,
    CompetencySpec,
    DemonstrationSpec,
    QuestionSpec,
    RubricSpec,
)

ASR = ModelRef(name="vosk-small-en", version="0.15", sha256="a" * 64)
FACE = ModelRef(name="face-detect", version="1", sha256="b" * 64)

KEYWORDS: dict[str, tuple[str, ...]] = {
    "problem_solving": ("cause", "stopped the line", "quarantine", "rework", "root cause", "fixed"),
    "attention_to_detail": ("quality", "inspect", "defect", "dimension", "scratch", "check"),
    "communication": ("report", "supervisor", "team leader", "told", "inform"),
}
STAR_CUES: dict[StarElement, tuple[str, ...]] = {
    "situation": ("one day", "at the time"),
    "task": ("my job was", "i had to"),
    "action": ("so i", "first i"),
    "result": ("in the end", "as a result"),
}
FILLERS = ("um", "uh")

GOOD_ANSWER = (
    "one day at the time I was on the line and my job was to inspect the brackets um "
    "I found a scratch and a defect so I stopped the line and told my supervisor "
    "we looked for the root cause and put the parts in quarantine then we did rework "
    "in the end the problem was fixed and we check every part now"
)
WEAK_ANSWER = (
    "well I think I am a good worker and I like working hard um I always do my best "
    "and I get along with people uh it was fine and everything went well for us"
)


COMMUNICATION_METRICS = (
    *("keyword_coverage", "structure", "speaking_rate"),
    *("pause_ratio", "filler_rate", "expression"),
)


def rubric(use_expression: bool = False, weights: Sequence[float] = (20, 30, 30, 20)) -> RubricSpec:
    names = {
        "communication": ("Communication", "沟通表达", "의사소통"),
        "problem_solving": ("Problem Solving", "问题解决", "문제 해결"),
        "operation_proficiency": ("Operation Proficiency", "操作熟练度", "작업 숙련도"),
        "attention_to_detail": ("Attention to Detail", "细致严谨", "꼼꼼함"),
    }
    metrics = {
        "communication": COMMUNICATION_METRICS,
        "problem_solving": ("keyword_coverage", "star_coverage", "structure", "answer_duration"),
        "operation_proficiency": ("checklist", "completion_time", "activity"),
        "attention_to_detail": ("checklist", "keyword_coverage"),
    }
    comps = [
        CompetencySpec.model_validate(
            {
                "id": cid,
                "name": {"en": en, "zh-CN": zh, "ko": ko},
                "weight": w,
                "metrics": metrics[cid],
            }
        )
        for (cid, (en, zh, ko)), w in zip(names.items(), weights, strict=True)
    ]
    return RubricSpec(
        version="2026.1",
        job_id="assembly-line-operator",
        job_title={
            "en": "Assembly Line Operator",
            "zh-CN": "装配线操作工",
            "ko": "조립라인 작업자",
        },
        package_version=1,
        use_expression_in_score=use_expression,
        competencies=tuple(comps),
    )


OP, AD = "operation_proficiency", "attention_to_detail"
QUESTIONS = (
    QuestionSpec(
        id="quality-issue-found",
        position=0,
        prompt={
            "en": "Tell us about a time you found a quality problem.",
            "zh-CN": "请讲一次你在工作中发现质量问题的经历。",
            "ko": "일하면서 품질 문제를 발견했던 경험을 말씀해 주세요.",
        },
        answer_time_s=120,
        competencies=("problem_solving", "attention_to_detail", "communication"),
    ),
    QuestionSpec(
        id="shift-teamwork-handover",
        position=1,
        prompt={
            "en": "Tell us about a shift handover.",
            "zh-CN": "请讲一次交接班的经历。",
            "ko": "교대 인수인계를 했던 경험을 말씀해 주세요.",
        },
        answer_time_s=90,
        competencies=("communication", "attention_to_detail"),
    ),
)

DEMO = DemonstrationSpec(
    id="fan-motor-bracket-assembly",
    position=2,
    title={
        "en": "Fan motor bracket assembly",
        "zh-CN": "风扇电机支架组装",
        "ko": "팬 모터 브래킷 조립",
    },
    time_limit_s=600,
    competencies=("operation_proficiency", "attention_to_detail"),
    checklist=tuple(
        ChecklistPointSpec(
            id=pid, label={"en": en, "zh-CN": zh, "ko": ko}, competency=comp, weight=w
        )
        for pid, comp, w, en, zh, ko in (
            ("screws-torqued", OP, 2, "All 4 screws torqued", "螺丝打到扭矩", "나사 4개 체결"),
            ("correct-orientation", AD, 2, "Motor the right way", "电机方向正确", "모터 방향 정확"),
            ("no-leftover-parts", AD, 1, "No parts left", "没有剩余零件", "남은 부품 없음"),
            ("esd-strap-worn", OP, 1, "ESD strap worn", "佩戴防静电手环", "정전기 스트랩 착용"),
        )
    ),
)


def _find(words: Sequence[Word], phrase: str) -> Match | None:
    tokens = phrase.lower().split()
    texts = [w.text.lower() for w in words]
    for i in range(len(texts) - len(tokens) + 1):
        if texts[i : i + len(tokens)] == tokens:
            hit = words[i : i + len(tokens)]
            return Match(
                phrase=phrase,
                heard=" ".join(w.text for w in hit),
                start=hit[0].start,
                end=hit[-1].end,
                words=tuple(range(i, i + len(tokens))),
            )
    return None


def vision(expressions: bool = False, facing: float = 0.8, seconds: int = 40) -> VisionSummary:
    timeline = tuple(
        TimelinePoint(
            t=float(s),
            face=s % 10 != 9,
            faces=0 if s % 10 == 9 else 1,
            facing_screen=None if s % 10 == 9 else s % 5 != 0,
            expression=("neutral" if s % 3 else "happy") if expressions else None,
        )
        for s in range(seconds)
    )
    return VisionSummary(
        frames_analysed=seconds,
        sample_fps=1.0,
        face_present_ratio=0.9,
        multiple_faces_ratio=0.0,
        max_faces=1,
        mean_face_height=0.3,
        mean_offset=0.05,
        facing_screen_ratio=facing,
        expression_run=expressions,
        expression_distribution={"neutral": 0.67, "happy": 0.33} if expressions else None,
        timeline=timeline,
        model=(FACE,),
    )


def spoken(
    item_id: str,
    text: str,
    competencies: Sequence[str],
    *,
    silent: bool = False,
    timed_out: bool = False,
    with_vision: VisionSummary | None = None,
    follow_up: StarElement | None = None,
    step: float = 0.4,
    quality: float | None = None,
) -> SpokenAnswerAnalysis:
    raw = [] if silent else text.split()
    words = tuple(
        Word(text=w, start=2.0 + i * step, end=2.0 + i * step + step * 0.8, conf=0.9)
        for i, w in enumerate(raw)
    )
    duration = 60.0
    speech = words[-1].end - words[0].start if words else 0.0
    fillers = tuple(
        m
        for i, w in enumerate(words)
        if w.text in FILLERS
        for m in (Match(phrase=w.text, heard=w.text, start=w.start, end=w.end, words=(i,)),)
    )
    pause = Pause(start=10.0, end=11.5)
    metrics = SpeechMetrics(
        duration_s=duration,
        speech_s=speech,
        word_count=len(words),
        speaking_rate=len(words) / (speech / 60) if speech else 0.0,
        rate_unit="words/min",
        pause_ratio=0.1 if words else 0.0,
        longest_pause=pause if words else None,
        pauses=(pause,) if words else (),
        fillers=fillers,
        filler_rate=100 * len(fillers) / len(words) if words else 0.0,
        mean_confidence=0.9 if words else None,
        silent=not words,
    )
    evidence = []
    for comp in competencies:
        found = tuple(m for k in KEYWORDS[comp] if (m := _find(words, k)) is not None)
        evidence.append(
            CompetencyEvidence(
                competency=comp,
                keywords_expected=KEYWORDS[comp],
                keywords_found=found,
                synonyms_found=(),
                coverage=len(found) / len(KEYWORDS[comp]),
            )
        )
    found_cues: dict[StarElement, tuple[Match, ...]] = {
        e: tuple(m for c in cues if (m := _find(words, c)) is not None)
        for e, cues in STAR_CUES.items()
    }
    covered = tuple(e for e, ms in found_cues.items() if ms)
    star = StarCoverage(
        found=found_cues,
        covered=covered,
        missing=tuple(e for e in STAR_CUES if e not in covered),
        coverage=len(covered) / 4,
        in_order=True,
        structure=len(covered) / 4 * 0.9,
    )
    return SpokenAnswerAnalysis(
        item_id=item_id,
        transcript=Transcript(
            language="en",
            words=words,
            text=" ".join(raw),
            duration_s=duration,
            silent=not words,
            model=ASR,
            quality=quality,
        ),
        metrics=metrics,
        evidence=tuple(evidence),
        star=star,
        follow_up=None
        if follow_up is None
        else FollowUp(element=follow_up, prompt="How did it turn out in the end?", language="en"),
        vision=with_vision,
        timed_out=timed_out,
    )


def demo(
    checklist: dict[str, bool] | None, duration: float = 420.0, limit: float = 600.0
) -> DemonstrationAnalysis:
    points = tuple(
        ActivityPoint(t=float(t), energy=0.05 if 100 <= t < 140 else 0.6)
        for t in range(0, int(duration), 5)
    )
    return DemonstrationAnalysis(
        item_id=DEMO.id,
        activity=ActivitySummary(
            duration_s=duration,
            time_limit_s=limit,
            within_limit=duration <= limit,
            active_ratio=0.85,
            timeline=points,
            idle_periods=(Pause(start=100.0, end=140.0),),
        ),
        vision=None,
        checklist=checklist,
    )


ALL_TICKED = {
    "screws-torqued": True,
    "correct-orientation": True,
    "no-leftover-parts": False,
    "esd-strap-worn": True,
}


def session(
    first: str = GOOD_ANSWER,
    *,
    pending: bool = False,
    expressions: bool = False,
    duration: float = 420.0,
) -> list[SpokenAnswerAnalysis | DemonstrationAnalysis]:
    """Two answers and the demonstration; ``pending``: staff have not scored the checklist."""
    return [
        spoken(
            QUESTIONS[0].id,
            first,
            QUESTIONS[0].competencies,
            with_vision=vision(expressions),
            follow_up="result",
        ),
        spoken(
            QUESTIONS[1].id,
            "at the time I told the team leader the count um and we confirm the record",
            ("communication", "attention_to_detail"),
            with_vision=vision(expressions, facing=0.6),
        ),
        demo(None if pending else ALL_TICKED, duration=duration),
    ]
