"""HTML of each spoken answer in the reviewer's report: transcript with evidence highlighted,
STAR elements with the answer's structure, follow-up, speech measures and the attention chart.

Every text that reaches the page goes through ``esc``; candidate-spoken words are untrusted.
"""

from __future__ import annotations

from inference.findings import STAR_ELEMENTS, Language, VisionSummary
from inference.report import charts
from inference.report.html import esc, figure, table, unrecorded
from inference.report.i18n import localized, t
from inference.report.models import Report, SpokenItemReport, WordTag
from inference.scoring import structure
from inference.scoring.figures import clock, num, pct, quality
from inference.scoring.metrics import RATE_BANDS, content_not_assessed
from inference.scoring.models import Note
from inference.scoring.notes_i18n import name, notes_line
from inference.speech.quality import RELIABLE_QUALITY


def _tag_title(tag: WordTag, names: dict[str, str], lang: Language) -> str:
    at = clock(tag.start)
    if tag.kind in ("keyword", "synonym"):
        comp = names.get(tag.competency or "", tag.competency or "")
        return t(f"mark.{tag.kind}", lang, competency=comp, phrase=tag.phrase, at=at)
    if tag.kind == "star":
        return t("mark.star", lang, element=name(tag.element or "", lang), phrase=tag.phrase, at=at)
    return t("mark.filler", lang, phrase=tag.phrase, at=at)


def transcript(item: SpokenItemReport, names: dict[str, str], lang: Language) -> str:
    assert item.analysis is not None
    words = item.analysis.transcript.words
    tags = {w.index: w.tags for w in item.word_evidence}
    joiner = "" if item.analysis.transcript.language.startswith("zh") else " "
    runs: list[tuple[str, str, list[str]]] = []  # (tag, opening tag, escaped words)
    for index, word in enumerate(words):
        text, found = esc(word.text), tags.get(index, ())
        opening = ""
        if found:
            title = esc("; ".join(_tag_title(tag, names, lang) for tag in found))
            kinds = {tag.kind for tag in found}
            if kinds & {"keyword", "synonym"}:
                opening = f'<mark class="evidence" title="{title}">'
            elif "star" in kinds:
                opening = f'<mark class="cue" title="{title}">'
            else:
                opening = f'<span class="filler" title="{title}">'
        if runs and opening and runs[-1][1] == opening:
            runs[-1][2].append(text)  # the same match continues: one highlight
        else:
            runs.append(("span" if "filler" in opening else "mark", opening, [text]))
    out = [
        f"{opening}{joiner.join(texts)}</{tag}>" if opening else joiner.join(texts)
        for tag, opening, texts in runs
    ]
    lang_attr = esc(item.analysis.transcript.language)
    return f'<p class="transcript" lang="{lang_attr}">{joiner.join(out)}</p>'


def _not_assessed(lang: Language, silent: bool = False) -> str:
    text = notes_line([Note(code="speech_not_heard" if silent else "speech_unreliable")], lang)
    return f'<p class="warning" role="note">{esc(text)}</p>'


def _assessed(item: SpokenItemReport) -> bool:
    """Whether the answer's words were understood well enough to assess its content."""
    return item.analysis is not None and content_not_assessed(item.analysis.transcript) is None


def _star(item: SpokenItemReport, lang: Language) -> str:
    assert item.analysis is not None
    if not _assessed(item):
        silent = item.analysis.transcript.silent
        return f"<h4>{esc(t('star', lang))}</h4>{_not_assessed(lang, silent)}"
    star = item.analysis.star
    rows = []
    for element in STAR_ELEMENTS:
        found = star.found.get(element, ())
        cues = ", ".join(f"{m.heard} ({clock(m.start)})" for m in found)
        yn = t("yes", lang) if element in star.covered else t("no", lang)
        label = name(element, lang)
        rows.append([esc(label[:1].upper() + label[1:]), esc(yn), esc(cues) or "—"])
    head = [esc(t(k, lang)) for k in ("element", "heard", "cues")]
    # the same note, from the same figure, as the structure metric's explanation
    order = notes_line([structure.note(star)], lang)
    return f"<h4>{esc(t('star', lang))}</h4>{table(head, rows)}<p>{esc(order)}</p>"


def _follow_up(item: SpokenItemReport, lang: Language) -> str:
    assert item.analysis is not None
    f = item.analysis.follow_up
    text = (
        t("follow_up_none", lang)
        if f is None
        else t("follow_up_asked", lang, element=name(f.element, lang), prompt=f.prompt)
    )
    return f"<h4>{esc(t('follow_up', lang))}</h4><p>{esc(text)}</p>"


def _speech(item: SpokenItemReport, lang: Language) -> str:
    assert item.analysis is not None
    a = item.analysis
    m = a.metrics
    limit = a.answer_time_s if a.answer_time_s is not None else item.spec.answer_time_s
    conf = "—" if m.mean_confidence is None else f"{pct(m.mean_confidence)}%"
    rate = f"{round(m.speaking_rate)} {name(m.rate_unit, lang)}"
    fillers = t("fillers_value", lang, count=len(m.fillers), rate=num(m.filler_rate))
    if not _assessed(item):  # read from words that were not understood: no reading of them
        rate = fillers = conf = t("not_assessed", lang)
    rows = [
        [t("duration", lang), f"{clock(m.speech_s)} / {clock(limit)}"],
        [t("rate", lang), rate],
        [t("pause_ratio", lang), f"{pct(m.pause_ratio)}%"],
        [t("fillers", lang), fillers],
        [t("confidence", lang), conf],
    ]
    head = [esc(t("measure", lang)), esc(t("figure", lang))]
    return f"<h4>{esc(t('speech', lang))}</h4>" + table(head, [[esc(c) for c in r] for r in rows])


def quality_line(q: float, lang: Language) -> str:
    """The answer's recognition quality, the figure that decides whether its content is assessed,
    with what it decided (the threshold written as the figure is)."""
    verdict = "quality.reliable" if q >= RELIABLE_QUALITY else "quality.unreliable"
    threshold = quality(RELIABLE_QUALITY)
    return t("quality", lang, q=quality(q)) + t(verdict, lang, min=threshold)


def camera(v: VisionSummary | None, chart_id: str, duration: float, lang: Language) -> str:
    """Vision facts for an item, with its attention chart (expressions are observations, shown
    apart: see ``inference.report.observations``)."""
    head = f"<h4>{esc(t('camera', lang))}</h4>"
    if v is None:
        return head + f"<p>{esc(t('no_video', lang))}</p>"
    facing = (
        "—" if v.facing_screen_ratio is None else t("share", lang, pct=pct(v.facing_screen_ratio))
    )
    rows = [
        [t("face_present", lang), t("share", lang, pct=pct(v.face_present_ratio))],
        [t("facing_screen", lang), facing],
        [t("multiple_faces", lang), t("share", lang, pct=pct(v.multiple_faces_ratio))],
    ]
    out = head + table(
        [esc(t("measure", lang)), esc(t("figure", lang))], [[esc(c) for c in r] for r in rows]
    )
    if v.timeline:
        title = t("chart.attention", lang)
        desc = t("chart.attention_desc", lang, face=pct(v.face_present_ratio), facing=facing)
        svg = charts.attention_chart(
            v.timeline,
            duration,
            (t("face_present", lang), t("facing_screen", lang)),
            (t("yes", lang), t("no", lang), t("unknown", lang)),
            t("axis.seconds", lang),
            charts.ChartText(f"{chart_id}-attention", title, desc),
        )
        out += figure(svg, title, desc)
    return out


def spoken_item(item: SpokenItemReport, report: Report, lang: Language) -> str:
    names = {c.id: localized(c.name, lang, c.id) for c in report.rubric.competencies}
    limit = t("answer_time", lang, limit=clock(item.spec.answer_time_s))
    body = (
        f'<p class="prompt">{esc(localized(item.spec.prompt, lang, item.spec.id))}</p>'
        f'<p class="meta">{esc(limit)}</p>'
    )
    a = item.analysis
    if a is None:
        return body + unrecorded(report, item.spec.id, lang)
    body += f"<h4>{esc(t('transcript', lang))}</h4>"
    if a.transcript.silent or not a.transcript.words:
        body += f'<p class="transcript">{esc(t("no_speech", lang))}</p>'
        body += _not_assessed(lang, a.transcript.silent)
    else:
        body += transcript(item, names, lang)
        if a.transcript.quality is not None:
            body += f'<p class="meta">{esc(quality_line(a.transcript.quality, lang))}</p>'
        if _assessed(item):
            body += f'<p class="key">{esc(t("transcript_key", lang))}</p>'
        else:
            body += _not_assessed(lang)
    if a.timed_out:
        body += f"<p>{esc(t('timed_out', lang))}</p>"
    body += _star(item, lang) + _follow_up(item, lang) + _speech(item, lang)
    return body + camera(a.vision, f"q{item.number}", a.transcript.duration_s, lang)


def rate_figure(report: Report, lang: Language) -> str:
    bars = [
        (
            t("question_short", lang, n=i.number),
            i.analysis.metrics.speaking_rate,
            RATE_BANDS[i.analysis.metrics.rate_unit],
        )
        for i in report.items
        if isinstance(i, SpokenItemReport)
        and i.analysis is not None
        and not i.analysis.metrics.silent
        and _assessed(i)
    ]
    units = sorted(
        {
            i.analysis.metrics.rate_unit
            for i in report.items
            if isinstance(i, SpokenItemReport) and i.analysis is not None
        }
    )
    if not bars:
        return ""
    title = t("chart.rate", lang)
    values = ", ".join(f"{label}{t('colon', lang)}{round(rate)}" for label, rate, _ in bars)
    desc = t("chart.rate_desc", lang, values=values)
    unit = " / ".join(name(u, lang) for u in units)
    svg = charts.rate_chart(
        bars, t("legend.band", lang), unit, charts.ChartText("rate", title, desc)
    )
    return f"<h3>{esc(title)}</h3>{figure(svg, title, desc)}"
