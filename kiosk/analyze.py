"""``kiosk analyze``: analyse recorded files offline with the installed models.

For technicians checking a box, integrators trying the scoring, and re-analysis after a
model update. Nothing is written to the store.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from device.analysis.rubric import scoring_inputs, vocabulary
from device.config import KioskConfig
from device.errors import KioskError
from device.jobs.models import SpokenQuestion
from device.jobs.package import load_package
from inference.findings import DemonstrationAnalysis, SpokenAnswerAnalysis
from inference.media import kind_of
from inference.scoring.models import ScoreCard


def cmd_analyze(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.composition import load_analyzer
    from inference.scoring.scorer import score

    package = load_package(args.job)
    item = next((i for i in package.items if i.id == args.question), None)
    if item is None:
        ids = ", ".join(i.id for i in package.items)
        raise KioskError(f"{args.job}: no item '{args.question}' (items: {ids})")
    media: dict[str, Path] = {}
    for path in args.media:
        if not path.is_file():
            raise KioskError(f"{path}: no such file")
        kind = kind_of(path)
        if kind in media:
            raise KioskError(f"two {kind} files given ({media[kind]}, {path}); give one of each")
        media[kind] = path
    language = args.language or package.job.language
    if language not in package.job.languages:
        raise KioskError(f"job {package.job.id} is not offered in '{language}'"
                         f" (languages: {', '.join(package.job.languages)})")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    _stage("loading and verifying models")
    analyzer = load_analyzer(config)
    timings["load_models_s"] = time.perf_counter() - started
    inputs = scoring_inputs(package)
    started = time.perf_counter()
    analysis: SpokenAnswerAnalysis | DemonstrationAnalysis
    if isinstance(item, SpokenQuestion):
        analyzer.speech_language(language)  # an unknown language fails before any work
        _stage(f"analysing answer to '{item.id}' ({language})")
        vocab = vocabulary(item, language, package.scoring.follow_up_enabled)
        analysis = analyzer.spoken(vocab, audio=media.get("audio"), video=media.get("video"),
                                   expression=args.expression)
    else:
        _stage(f"analysing demonstration '{item.id}'")
        spec = next(d for d in inputs.demonstrations if d.id == item.id)
        analysis = analyzer.demonstration(spec, video=media.get("video"),
                                          expression=args.expression)
    timings["analyse_s"] = time.perf_counter() - started
    questions = tuple(q for q in inputs.questions if q.id == item.id)
    demos = tuple(d for d in inputs.demonstrations if d.id == item.id)
    fed = {cid for q in questions for cid in q.competencies} | {
        cid for d in demos for cid in d.competencies}
    rubric = inputs.rubric.model_copy(update={"competencies": tuple(
        c for c in inputs.rubric.competencies if c.id in fed)})
    card = score(rubric, questions, demos, [analysis], expression_consent=args.expression)
    if args.json:
        print(json.dumps({"item_id": item.id, "language": language,
                          "analysis": analysis.model_dump(mode="json"),
                          "scorecard": card.model_dump(mode="json"),
                          "timings": {k: round(v, 3) for k, v in timings.items()}},
                         ensure_ascii=False, indent=2))
    else:
        print(_summary(analysis, card, timings))
    return 0


def _stage(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def _summary(analysis: SpokenAnswerAnalysis | DemonstrationAnalysis, card: ScoreCard,
             timings: dict[str, float]) -> str:
    lines: list[str] = []
    if isinstance(analysis, SpokenAnswerAnalysis):
        t, m = analysis.transcript, analysis.metrics
        model = f"{t.model.name} {t.model.version}" if t.model else "?"
        lines += [f"transcript ({t.language}, {model}, {t.duration_s:.1f} s):",
                  f"  {t.text or '(no speech)'}",
                  f"speaking rate {m.speaking_rate:.0f} {m.rate_unit}, pauses {m.pause_ratio:.0%}"
                  f" of speech time, fillers {m.filler_rate:.1f}/100 words, mean confidence "
                  + ("-" if m.mean_confidence is None else f"{m.mean_confidence:.2f}")]
        for e in analysis.evidence:
            heard = ", ".join(f"{x.phrase} at {x.start:.1f}s" for x in
                              (*e.keywords_found, *e.synonyms_found)) or "nothing"
            lines.append(f"evidence for {e.competency}: {e.coverage:.0%} ({heard})")
        star = analysis.star
        lines.append(f"STAR: covered {', '.join(star.covered) or 'none'};"
                     f" structure {star.structure:.2f}")
        if analysis.follow_up:
            lines.append(f"follow-up ({analysis.follow_up.element}): {analysis.follow_up.prompt}")
    else:
        a = analysis.activity
        lines.append(f"activity: {a.duration_s:.0f} s of {a.time_limit_s:.0f} s allowed, active"
                     f" {a.active_ratio:.0%}, {len(a.idle_periods)} idle period(s)")
    vision = analysis.vision
    if vision is not None:
        facing = "-" if vision.facing_screen_ratio is None else f"{vision.facing_screen_ratio:.0%}"
        lines.append(f"camera: face in {vision.face_present_ratio:.0%} of {vision.frames_analysed}"
                     f" frames, facing the screen {facing}, at most {vision.max_faces} face(s)")
        if vision.expression_distribution:
            top = sorted(vision.expression_distribution.items(), key=lambda kv: -kv[1])[:3]
            lines.append("expression (observation): "
                         + ", ".join(f"{k} {v:.0%}" for k, v in top))
    lines.append("scores (this item only):")
    for c in card.competencies:
        value = "awaiting staff" if c.status == "awaiting_staff" else (
            "-" if c.score is None else f"{c.score:.1f}/{card.max_score:g}")
        lines.append(f"  {c.id:<24} {value:<14} {c.explanation}")
    lines.append("timings: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    return "\n".join(lines)


def register(sub: Any) -> None:
    text = "Analyse recorded files offline with the installed models; prints metrics and scores."
    p = sub.add_parser("analyze", help=text, description=text)
    p.add_argument("media", nargs="+", type=Path,
                   help="the answer's recordings: a .wav and/or a video (.mp4, .mkv, .flv, ...);"
                        " a video's audio track is used when no .wav is given")
    p.add_argument("--job", required=True, type=Path, help="the job package file (JSON)")
    p.add_argument("--question", required=True, metavar="ID",
                   help="the item id (a spoken question or a demonstration)")
    p.add_argument("--language", help="the answer's language (default: the job's)")
    p.add_argument("--expression", action="store_true",
                   help="also analyse facial expression (only with the candidate's consent)")
    p.add_argument("--json", action="store_true", help="print the analysis and scores as JSON")
    p.set_defaults(handler=cmd_analyze)
