"""What the staff report view lets a reviewer hear: each item's recording and the moments
its evidence starts at.

A spoken answer's cues are its keywords, synonyms and STAR element cues (the report's word
evidence, one cue per match); a demonstration's are when its work began
and ended, its idle periods and the times hands left the work area. Each cue plays the
item's recording from its start. Questions play their audio, demonstrations their video;
each falls back to the other when only that one is on the box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from device.api.staff_page.strings import PageLanguage, pick, t
from device.sessions import answer_rows
from device.storage import media
from device.storage.media import MediaRow
from inference.report.models import DemonstrationItemReport, Report, SpokenItemReport

PREFERRED = {"question": ("audio", "video"), "demonstration": ("video", "audio")}


@dataclass(frozen=True, slots=True)
class Cue:
    """One moment to play from (seconds from the start of the recording)."""

    start: float
    label: str


@dataclass(frozen=True, slots=True)
class ItemEvidence:
    """One item of the report, its recording on the box (if any) and its cues."""

    item_id: str
    kind: str
    title: str
    recording: MediaRow | None
    cues: tuple[Cue, ...]


def clock(seconds: float) -> str:
    """``m:ss`` of a moment in a recording."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def recordings(db: Database, session_id: str, kinds: Mapping[str, str]
               ) -> dict[str, MediaRow]:
    """The recording to play per item id (``kinds``: item id -> question/demonstration)."""
    found: dict[str, MediaRow] = {}
    for answer in answer_rows.finished(db, session_id):
        files = {m.kind: m for m in media.of_answer(db, answer.id)}
        order = PREFERRED.get(kinds.get(answer.item_id, "question"), ("audio", "video"))
        chosen = next((files[k] for k in order if k in files), None)
        if chosen is not None:
            found[answer.item_id] = chosen
    return found


def _spoken_cues(item: SpokenItemReport, names: dict[str, str], lang: PageLanguage
                 ) -> list[Cue]:
    seen: set[tuple[str, str, float]] = set()
    cues = []
    for word in item.word_evidence:
        for tag in word.tags:
            if tag.kind == "filler" or (tag.kind, tag.phrase, tag.start) in seen:
                continue
            seen.add((tag.kind, tag.phrase, tag.start))
            if tag.kind == "star" and tag.element is not None:
                what = t("evidence.star", lang, element=t(f"star.{tag.element}", lang))
            else:
                what = t(f"evidence.{tag.kind}", lang)
                if tag.competency:
                    what += f" · {names.get(tag.competency, tag.competency)}"
            cues.append(Cue(tag.start, f"{what}: “{tag.phrase}”"))
    return sorted(cues, key=lambda c: c.start)


def _work_cues(item: DemonstrationItemReport, lang: PageLanguage) -> list[Cue]:
    """When the work began and ended, its idle periods and the times hands were away."""
    if item.analysis is None:
        return []
    act = item.analysis.activity
    cues = [Cue(p.start, t("evidence.idle", lang, start=clock(p.start), end=clock(p.end)))
            for p in act.idle_periods]
    cues += [Cue(p.start, t("evidence.away", lang, start=clock(p.start), end=clock(p.end)))
             for p in act.hands_away_periods]
    if act.work_start is not None:
        cues.append(Cue(act.work_start, t("evidence.work_start", lang, at=clock(act.work_start))))
    if act.work_end is not None:
        cues.append(Cue(act.work_end, t("evidence.work_end", lang, at=clock(act.work_end))))
    return sorted(cues, key=lambda c: c.start)


def items(report: Report, files: dict[str, MediaRow], lang: PageLanguage
          ) -> list[ItemEvidence]:
    """Every item of the report with what can be played of it."""
    names = {c.id: pick(c.name, lang) for c in report.rubric.competencies}
    out = []
    for item in report.items:
        if isinstance(item, SpokenItemReport):
            title = f"{t('question', lang, n=item.number)}: {pick(item.spec.prompt, lang)}"
            cues = _spoken_cues(item, names, lang)
        else:
            title = f"{t('task', lang, n=item.number)}: {pick(item.spec.title, lang)}"
            cues = _work_cues(item, lang)
        out.append(ItemEvidence(item.spec.id, item.kind, title, files.get(item.spec.id),
                                tuple(cues)))
    return out
