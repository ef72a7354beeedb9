"""Explanations of scores in zh-CN, en and ko, and the number and time formats they use.

Scoring stores each explanation as a language-neutral :class:`~inference.scoring.models.Note`
(a code and its values); :func:`note_text` states it in one language. Scoring keeps the English
text beside the note; the report states it in the reviewer's language.

A note that names an item carries its id in ``label``; the caller may pass display labels
("Question 1") for the ids, else the id is shown. A failed analysis's ``reason`` is an error
message and is quoted as given, untranslated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from inference.findings import Language, StarElement
from inference.scoring import structure
from inference.scoring.activity_notes import ACTIVITY_NOTES, activity_clauses
from inference.scoring.figures import clock as clock
from inference.scoring.figures import marks as marks
from inference.scoring.figures import num as num
from inference.scoring.figures import pct as pct
from inference.scoring.figures import quality as quality
from inference.scoring.figures import round_half_up as round_half_up
from inference.scoring.models import Note, TimedPhrase

LANGUAGES: tuple[Language, ...] = ("zh-CN", "en", "ko")
_COLUMN: dict[Language, int] = {"en": 0, "zh-CN": 1, "ko": 2}

Strings = dict[str, tuple[str, str, str]]
"""Message key -> (en, zh-CN, ko)."""

NOTES: Strings = {
    "not_recorded": ("not recorded", "没有录制", "녹화되지 않음"),
    "not_analysed": ("not analysed: {reason}", "未分析：{reason}", "분석하지 못함: {reason}"),
    "speech_unreliable": (
        "not assessed: speech could not be recognised reliably — listen to the recording",
        "未评估：语音未能可靠识别——请听录音",
        "평가하지 않음: 음성을 신뢰할 수 있게 인식하지 못함 — 녹음을 들어 보세요",
    ),
    "speech_not_heard": (
        "not assessed: no speech could be heard in the recording — listen to it",
        "未评估：录音中听不到说话声——请听录音",
        "평가하지 않음: 녹음에서 음성이 들리지 않음 — 녹음을 들어 보세요",
    ),
    "speech_unreliable_item": (
        "content of {item} not assessed: speech could not be recognised reliably"
        " — listen to the recording",
        "{item} 的内容未评估：语音未能可靠识别——请听录音",
        "{item}의 내용은 평가하지 않음: 음성을 신뢰할 수 있게 인식하지 못함 — 녹음을 들어 보세요",
    ),
    "speech_not_heard_item": (
        "content of {item} not assessed: no speech could be heard in the recording"
        " — listen to it",
        "{item} 的内容未评估：录音中听不到说话声——请听录音",
        "{item}의 내용은 평가하지 않음: 녹음에서 음성이 들리지 않음 — 녹음을 들어 보세요",
    ),
    "no_speech": ("no speech was recorded", "没有录到说话声", "녹음된 음성이 없음"),
    "no_vocabulary": (
        "the question has no vocabulary for this competency",
        "该题没有为此能力设定关键词",
        "이 질문에는 이 역량의 키워드가 없음",
    ),
    "keywords": (
        "{item}named {found} of {expected} expected terms{synonyms}: keyword coverage"
        " {pct}%{terms}",
        "{item}提到了 {expected} 个关键词中的 {found} 个{synonyms}，关键词覆盖 {pct}%{terms}",
        "{item}기대 키워드 {expected}개 중 {found}개 언급{synonyms}, 키워드 포함도 {pct}%{terms}",
    ),
    "keywords.item": ("{item}: ", "{item}：", "{item}: "),
    "keywords.synonyms": (
        " and {synonyms} related words",
        "，另有 {synonyms} 个近义说法",
        ", 유사 표현 {synonyms}개",
    ),
    "star": (
        "covered {covered} of 4 STAR elements{missing}",
        "讲到了 STAR 四要素中的 {covered} 个{missing}",
        "STAR 4요소 중 {covered}개 언급{missing}",
    ),
    "star.missing": (", missing {elements}", "，缺少{elements}", ", {elements} 누락"),
    "structure": (
        "answer structure {pct}%{order}",
        "回答结构 {pct}%{order}",
        "답변 구성 {pct}%{order}",
    ),
    "structure.in_order": (
        " ({covered} of 4 STAR elements, told in STAR order)",
        "（讲到 STAR 四要素中的 {covered} 个，按 STAR 顺序讲述）",
        " (STAR 4요소 중 {covered}개, STAR 순서대로 말함)",
    ),
    "structure.out_of_order": (
        " ({covered} of 4 STAR elements, not told in STAR order)",
        "（讲到 STAR 四要素中的 {covered} 个，未按 STAR 顺序讲述）",
        " (STAR 4요소 중 {covered}개, STAR 순서대로 말하지 않음)",
    ),
    "structure.in_order.uncounted": (
        " (told in STAR order)",
        "（按 STAR 顺序讲述）",
        " (STAR 순서대로 말함)",
    ),
    "structure.out_of_order.uncounted": (
        " (not told in STAR order)",
        "（未按 STAR 顺序讲述）",
        " (STAR 순서대로 말하지 않음)",
    ),
    "structure.too_few": (
        " (fewer than 2 of 4 STAR elements, so no order to judge)",
        "（讲到的 STAR 要素少于 2 个，无法判断顺序）",
        " (STAR 요소가 2개 미만이라 순서를 판단할 수 없음)",
    ),
    "speaking_rate": (
        "spoke at {rate} {unit} (comfortable {lo}-{hi})",
        "语速 {rate} {unit}（适中范围 {lo}-{hi}）",
        "말하기 속도 {rate} {unit} (적정 {lo}-{hi})",
    ),
    "pauses": (
        "paused {pct}% of speaking time{longest}",
        "停顿占说话时间的 {pct}%{longest}",
        "말하는 시간의 {pct}%가 멈춤{longest}",
    ),
    "pauses.longest": (
        " (longest {len_s} s at {at})",
        "（最长 {len_s} 秒，在 {at}）",
        " (최장 {len_s}초, {at})",
    ),
    "fillers": (
        "{rate} fillers per 100 words",
        "每百词 {rate} 个口头语",
        "100단어당 군말 {rate}개",
    ),
    "confidence": (
        "mean word confidence {pct}%",
        "平均词置信度 {pct}%",
        "평균 단어 신뢰도 {pct}%",
    ),
    "score_basis": (
        "score from the mean of the marks for {parts} = {marks}",
        "得分取各指标得分的平均值：{parts}，平均 {marks}",
        "점수는 지표 점수의 평균: {parts}, 평균 {marks}",
    ),
    "score_basis.part": ("{metric} {marks}", "{metric} {marks}", "{metric} {marks}"),
    "duration": (
        "spoke for {spoke} of {limit} allowed",
        "作答 {spoke}（限时 {limit}）",
        "답변 {spoke} (제한 {limit})",
    ),
    "timed_out": (
        "ran to the {limit} time limit",
        "用满了 {limit} 的作答时限",
        "제한 시간 {limit}을 모두 사용함",
    ),
    "completion": (
        "finished in {took} of {limit}",
        "用时 {took}（限时 {limit}）",
        "{took} 만에 완료 (제한 {limit})",
    ),
    "over_time": (
        "went over the time limit ({took} of {limit})",
        "超出时限（用时 {took}，限时 {limit}）",
        "제한 시간 초과 ({took}, 제한 {limit})",
    ),
    "in_band": (
        "finished in {took} (expected {fastest}–{slowest}, limit {limit})",
        "用时 {took}（预期 {fastest}–{slowest}，限时 {limit}）",
        "{took} 만에 완료 (예상 {fastest}–{slowest}, 제한 {limit})",
    ),
    "over_band": (
        "took {took}, longer than the expected {fastest}–{slowest} (limit {limit})",
        "用时 {took}，超过预期的 {fastest}–{slowest}（限时 {limit}）",
        "{took} 소요, 예상 {fastest}–{slowest}보다 오래 걸림 (제한 {limit})",
    ),
    "too_fast": (
        "not assessed: finished in {took}, under the credible minimum of {credible}"
        " — too fast to be credible — review the recording",
        "未评估：用时 {took}，低于可信的最短用时 {credible}——快得不可信——请查看录像",
        "평가하지 않음: {took} 만에 완료, 신뢰할 수 있는 최소 시간 {credible} 미만"
        " — 믿기 어려울 만큼 빠름 — 녹화를 확인해 주세요",
    ),
    "too_fast_item": (
        "{item} not assessed: finished in {took}, under the credible minimum of {credible}"
        " — too fast to be credible — review the recording",
        "{item} 未评估：用时 {took}，低于可信的最短用时 {credible}——快得不可信——请查看录像",
        "{item} 평가하지 않음: {took} 만에 완료, 신뢰할 수 있는 최소 시간 {credible} 미만"
        " — 믿기 어려울 만큼 빠름 — 녹화를 확인해 주세요",
    ),
    "checklist": (
        "staff ticked {ticked} of {total} checklist points ({pct}% by weight)",
        "工作人员勾选了 {total} 项检查点中的 {ticked} 项（按权重 {pct}%）",
        "직원 체크리스트 {total}개 중 {ticked}개 충족 (가중치 기준 {pct}%)",
    ),
    "checklist_pending": (
        "awaiting staff checklist scoring",
        "等待工作人员完成检查表评分",
        "직원 체크리스트 채점 대기 중",
    ),
    "no_checklist_points": (
        "the task has no checklist points for this competency",
        "该任务没有此能力的检查点",
        "이 과제에는 이 역량의 체크 항목이 없음",
    ),
    "facing": (
        "faced the screen {pct}% of the time",
        "{pct}% 的时间面向屏幕",
        "전체 시간의 {pct}% 동안 화면을 향함",
    ),
    "no_video": ("no video analysis", "没有视频分析", "영상 분석 없음"),
    "expression": (
        "expressions mostly {label} ({pct}%)",
        "表情以{label}为主（{pct}%）",
        "표정은 주로 {label} ({pct}%)",
    ),
    "expression_used": (
        "used in the score, with the candidate's consent",
        "经候选人同意，计入得分",
        "지원자의 동의를 받아 점수에 반영함",
    ),
    "expression_observation": (
        "observation only: not counted in the score",
        "仅作观察记录，不计入得分",
        "관찰 기록일 뿐 점수에 반영하지 않음",
    ),
    "expression_declined": (
        "not run: the candidate did not consent",
        "未进行：候选人未同意",
        "실행하지 않음: 지원자가 동의하지 않음",
    ),
    "expression_not_run": (
        "not run: no expression analysis was recorded",
        "未进行：没有表情分析数据",
        "실행하지 않음: 표정 분석 데이터 없음",
    ),
    "term_at": ("{text} at {at}", "{text} {at}", "{text} {at}"),
    "list_sep": (", ", "、", ", "),
    "note_sep": ("; ", "；", "; "),
    "terms_wrap": (" ({terms})", "（{terms}）", " ({terms})"),
    **ACTIVITY_NOTES,
}

METRIC_NAMES: Strings = {
    "keyword_coverage": ("keyword coverage", "关键词覆盖", "키워드 포함도"),
    "star_coverage": ("STAR coverage", "STAR 完整度", "STAR 충족도"),
    "structure": ("answer structure", "回答结构", "답변 구성"),
    "speaking_rate": ("speaking rate", "语速", "말하기 속도"),
    "pause_ratio": ("pauses", "停顿", "멈춤"),
    "filler_rate": ("filler words", "口头语", "군말"),
    "word_confidence": ("mean word confidence", "平均词置信度", "평균 단어 신뢰도"),
    "answer_duration": ("answer length", "回答时长", "답변 길이"),
    "completion_time": ("completion time", "完成用时", "완료 시간"),
    "checklist": ("staff checklist", "检查表", "체크리스트"),
    "activity": ("steady work", "操作连贯性", "작업 지속성"),
    "facing_screen": ("facing the screen", "面向屏幕", "화면 응시"),
    "expression": ("facial expression", "面部表情", "얼굴 표정"),
}
"""Rubric metric names, lower case (as inside a sentence); one name per metric and language."""

NAMES: Strings = {
    "situation": ("situation", "情境", "상황"),
    "task": ("task", "任务", "과제"),
    "action": ("action", "行动", "행동"),
    "result": ("result", "结果", "결과"),
    "angry": ("angry", "生气", "화남"),
    "disgust": ("disgust", "厌恶", "혐오"),
    "fear": ("fear", "害怕", "두려움"),
    "happy": ("happy", "高兴", "기쁨"),
    "sad": ("sad", "难过", "슬픔"),
    "surprise": ("surprise", "惊讶", "놀람"),
    "neutral": ("neutral", "平静", "무표정"),
    "words/min": ("words/min", "词/分钟", "단어/분"),
    "syllables/min": ("syllables/min", "字/分钟", "음절/분"),
}


def pick(table: Strings, key: str, language: Language) -> str:
    return table[key][_COLUMN[language]]


def name(key: str, language: Language) -> str:
    """A STAR element, expression class or unit in ``language`` (unknown keys unchanged)."""
    return pick(NAMES, key, language) if key in NAMES else key


def metric_name(metric: str, language: Language) -> str:
    """A rubric metric's name in ``language``, lower case (unknown metrics unchanged)."""
    return pick(METRIC_NAMES, metric, language) if metric in METRIC_NAMES else metric


def keyword_share(note: Note) -> float:
    """The keyword coverage a "keywords" note states: its ``pct``, or for a note stored without
    it, the coverage its counts give (a related word counts half, at most 1)."""
    if "pct" in note.values:
        return note.values["pct"]
    v = note.values
    expected = v.get("expected", 0.0)
    found = v.get("found", 0.0) + 0.5 * v.get("synonyms", 0.0)
    return min(1.0, found / expected) if expected else 0.0


_CLOCK_KEYS = frozenset(
    {"at", "limit", "took", "spoke", "len", "fastest", "slowest", "credible"}
)


def _values(note: Note) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in note.values.items():
        if key == "pct":
            out[key] = pct(value)
        elif key == "quality":
            out[key] = quality(value)
        elif key in _CLOCK_KEYS:
            out[key] = clock(value)
        else:
            out[key] = num(value)
    return out


def terms_text(terms: Iterable[TimedPhrase], language: Language) -> str:
    listed = [pick(NOTES, "term_at", language).format(text=t.text, at=clock(t.t)) for t in terms]
    if not listed:
        return ""
    joined = pick(NOTES, "list_sep", language).join(listed)
    return pick(NOTES, "terms_wrap", language).format(terms=joined)


def elements_text(elements: Iterable[StarElement], language: Language) -> str:
    return pick(NOTES, "list_sep", language).join(name(e, language) for e in elements)


def note_text(
    note: Note, language: Language, items: Mapping[str, str] | None = None
) -> str:
    """The note as one clause in ``language`` (lower case first letter in English).

    ``items``: display labels by item id, for notes that name an item (else the id is shown).
    """
    values = _values(note)
    extra: dict[str, str] = {}
    code = note.code
    if code == "not_analysed":
        extra["reason"] = note.reason
    elif code in ("speech_unreliable_item", "speech_not_heard_item", "too_fast_item"):
        extra["item"] = (items or {}).get(note.label, note.label)
    elif code == "keywords":
        has_synonyms = note.values.get("synonyms", 0) > 0
        extra["synonyms"] = (
            pick(NOTES, "keywords.synonyms", language).format(**values) if has_synonyms else ""
        )
        extra["terms"] = terms_text(note.terms, language)
        extra["pct"] = pct(keyword_share(note))
        label = (items or {}).get(note.label, note.label)
        extra["item"] = pick(NOTES, "keywords.item", language).format(item=label) if label else ""
        values.pop("synonyms", None)
    elif code == "star":
        missing = elements_text(note.elements, language)
        extra["missing"] = (
            pick(NOTES, "star.missing", language).format(elements=missing) if missing else ""
        )
    elif code == "structure":
        figure = structure.of_note(note)
        key = f"structure.{figure.order}"
        if figure.covered is None and figure.order != "too_few":
            key += ".uncounted"
        extra["order"] = pick(NOTES, key, language).format(covered=figure.covered)
    elif code == "score_basis":
        parts = [
            pick(NOTES, "score_basis.part", language).format(
                metric=metric_name(metric, language), marks=marks(value)
            )
            for metric, value in note.values.items()
            if metric != "pct"
        ]
        extra["parts"] = pick(NOTES, "list_sep", language).join(parts)
        extra["marks"] = marks(note.values.get("pct", 0.0))
    elif code == "speaking_rate":
        extra["unit"] = name(note.label, language)
    elif code == "pauses":
        has_longest = "len_s" in note.values
        extra["longest"] = (
            pick(NOTES, "pauses.longest", language).format(**values) if (has_longest) else ""
        )
    elif code == "activity":
        extra |= activity_clauses(note, _COLUMN[language], values)
    elif code == "expression":
        extra["label"] = name(note.label, language)
    return pick(NOTES, code, language).format(**{**values, **extra})


def notes_line(
    notes: Iterable[Note], language: Language, items: Mapping[str, str] | None = None
) -> str:
    """Notes joined into one line; in English the first letter is a capital."""
    line = pick(NOTES, "note_sep", language).join(note_text(n, language, items) for n in notes)
    return line[:1].upper() + line[1:] if language == "en" else line
