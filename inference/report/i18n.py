"""Reviewer report strings in zh-CN, en and ko (explanations of scores are in
:mod:`inference.scoring.notes_i18n`)."""

from __future__ import annotations

from collections.abc import Mapping

from inference.findings import Language
from inference.scoring import notes_i18n
from inference.scoring.notes_i18n import Strings, pick

UI: Strings = {
    "title": ("Interview report", "面试评估报告", "면접 평가 보고서"),
    "colon": (": ", "：", ": "),
    "candidate": ("Candidate", "候选人", "지원자"),
    "job": ("Job", "岗位", "직무"),
    "date": ("Interview date", "面试日期", "면접 일자"),
    "session": ("Session", "面试场次", "세션"),
    "language": ("Interview language", "面试语言", "면접 언어"),
    "overall": ("Overall score", "综合得分", "종합 점수"),
    "scale": ("scale {min}–{max}", "分值范围 {min}–{max}", "점수 범위 {min}–{max}"),
    "judgement": (
        "These scores are produced automatically to support the reviewer's judgement, not to"
        " replace it. The kiosk makes no hiring decision: please read the evidence and the"
        " transcripts before you decide.",
        "以下分数由面试终端自动生成，用于辅助而不是代替评审人的判断。终端不做任何录用决定，"
        "请先查看证据和回答记录，再作决定。",
        "이 점수는 평가자의 판단을 돕기 위해 자동으로 산출된 것이며 판단을 대신하지 않습니다. "
        "단말기는 채용 결정을 내리지 않습니다. 근거와 답변 기록을 확인한 뒤 결정해 주세요.",
    ),
    "provisional": (
        "Provisional: {names} await the staff checklist. The overall score covers only the"
        " competencies already scored.",
        "暂定结果：{names}尚待工作人员完成检查表评分，综合得分只包含已评分的能力。",
        "잠정 결과: {names} 항목은 직원 체크리스트 채점을 기다리고 있으며, 종합 점수는 이미"
        " 채점된 역량만 반영합니다.",
    ),
    "observations": (
        "Observations, not scored",
        "观察记录（不计分）",
        "관찰 기록 (점수에 반영하지 않음)",
    ),
    "observations_scored": (
        "Facial expression (counted in the score, with the candidate's consent)",
        "面部表情（经候选人同意，计入得分）",
        "얼굴 표정 (지원자의 동의를 받아 점수에 반영)",
    ),
    "observations_intro": (
        "Facial-expression analysis: {status}. Expressions are what the camera model saw, not"
        " a judgement of the candidate.",
        "面部表情分析：{status}。表情只是摄像头模型看到的情况，不是对候选人的评判。",
        "얼굴 표정 분석: {status}. 표정은 카메라 모델이 본 것일 뿐 지원자에 대한 판단이 아닙니다.",
    ),
    "observations_show": (
        "Facial expressions per answer",
        "各回答的面部表情",
        "답변별 얼굴 표정",
    ),
    "observations_none": (
        "No answer has expression data.",
        "没有回答带有表情数据。",
        "표정 데이터가 있는 답변이 없습니다.",
    ),
    "mean_of_items": ("Mean of {items}", "{items}的平均值", "{items}의 평균"),
    "competencies": ("Competencies", "各项能力得分", "역량별 점수"),
    "competency": ("Competency", "能力", "역량"),
    "weight": ("Weight", "权重", "가중치"),
    "score": ("Score", "得分", "점수"),
    "explanation": ("Explanation", "说明", "설명"),
    "status.awaiting_staff": ("Awaiting staff scoring", "等待工作人员评分", "직원 채점 대기"),
    "status.not_measured": ("Not measured", "未测得", "측정되지 않음"),
    "status.not_assessed": ("Not assessed", "未评估", "평가하지 않음"),
    "not_assessed_overall": (
        "Not assessed: {names}. The speech could not be recognised reliably, so the box did not"
        " score it: listen to the recordings. The overall score covers only the competencies"
        " assessed.",
        "未评估：{names}。语音未能可靠识别，终端没有据此评分，请听录音。综合得分只包含已评估的能力。",
        "평가하지 않음: {names}. 음성을 신뢰할 수 있게 인식하지 못해 단말기가 채점하지 않았습니다."
        " 녹음을 들어 보세요. 종합 점수는 평가된 역량만 반영합니다.",
    ),
    "not_assessed_too_fast": (
        "Not assessed: {names}. A demonstration was finished too fast to be credible, so the box"
        " did not score it: review the recording. The overall score covers only the competencies"
        " assessed.",
        "未评估：{names}。技能演示完成得快到不可信，终端没有据此评分，请查看录像。"
        "综合得分只包含已评估的能力。",
        "평가하지 않음: {names}. 실기 시연이 믿기 어려울 만큼 빨리 끝나"
        " 단말기가 채점하지 않았습니다. 녹화를 확인해 주세요."
        " 종합 점수는 평가된 역량만 반영합니다.",
    ),
    "evidence": ("Evidence heard", "听到的证据", "확인된 근거"),
    "evidence_none": (
        "No expected terms were heard.",
        "没有听到预期的关键词。",
        "기대 키워드가 확인되지 않았습니다.",
    ),
    "evidence_item": ("{term} ({item}, {at})", "{term}（{item}，{at}）", "{term} ({item}, {at})"),
    "metric": ("Metric", "指标", "지표"),
    "value": ("Marks (of 100)", "指标得分（满分 100）", "지표 점수 (100점 만점)"),
    "counted": ("Counted in score", "计入得分", "점수 반영"),
    "detail": ("Detail", "详情", "세부 내용"),
    "yes": ("Yes", "是", "예"),
    "no": ("No", "否", "아니요"),
    "unknown": ("Unknown", "未知", "알 수 없음"),
    "observation": ("Observation only", "仅作观察", "관찰만"),
    "items": ("Answers and tasks", "回答与操作任务", "답변과 실기 과제"),
    "question_n": ("Question {n}", "问题 {n}", "질문 {n}"),
    "question_short": ("Q{n}", "问{n}", "질문{n}"),
    "task_n": ("Task {n}", "操作任务 {n}", "실기 과제 {n}"),
    "not_recorded": (
        "This item was not recorded.",
        "此项没有录制。",
        "이 항목은 녹화되지 않았습니다.",
    ),
    "answer_time": ("Answer time allowed: {limit}", "作答时限：{limit}", "답변 제한 시간: {limit}"),
    "transcript": ("Transcript", "回答文字记录", "답변 기록"),
    "quality": ("Recognition quality {q}", "识别质量 {q}", "인식 품질 {q}"),
    "quality.reliable": (
        " (at least {min}: content assessed)",
        "（不低于 {min}：内容已评估）",
        " ({min} 이상: 내용 평가함)",
    ),
    "quality.unreliable": (
        " (below {min}: content not assessed)",
        "（低于 {min}：内容未评估）",
        " ({min} 미만: 내용 평가하지 않음)",
    ),
    "not_assessed": ("Not assessed", "未评估", "평가하지 않음"),
    "transcript_key": (
        "Highlighted words count as evidence; hover over a word for the competency and time."
        " Outlined words are STAR cues, dotted underlines mark filler words.",
        "高亮的词是评分证据，将鼠标移到词上可查看对应能力和时间；加框的词是 STAR 提示语，"
        "虚线下划线表示口头语。",
        "강조 표시된 단어는 채점 근거입니다. 단어에 마우스를 올리면 해당 역량과 시각이 보입니다."
        " 테두리 단어는 STAR 표현, 점선 밑줄은 군말입니다.",
    ),
    "no_speech": ("No speech was recorded.", "没有录到说话声。", "녹음된 음성이 없습니다."),
    "timed_out": (
        "The answer ran to the time limit.",
        "回答用满了作答时限。",
        "답변이 제한 시간을 모두 사용했습니다.",
    ),
    "mark.keyword": (
        "{competency} · keyword “{phrase}” · {at}",
        "{competency} · 关键词“{phrase}” · {at}",
        "{competency} · 키워드 ‘{phrase}’ · {at}",
    ),
    "mark.synonym": (
        "{competency} · related word “{phrase}” · {at}",
        "{competency} · 近义说法“{phrase}” · {at}",
        "{competency} · 유사 표현 ‘{phrase}’ · {at}",
    ),
    "mark.star": (
        "STAR {element} cue “{phrase}” · {at}",
        "STAR {element}提示语“{phrase}” · {at}",
        "STAR {element} 표현 ‘{phrase}’ · {at}",
    ),
    "mark.filler": (
        "Filler “{phrase}” · {at}",
        "口头语“{phrase}” · {at}",
        "군말 ‘{phrase}’ · {at}",
    ),
    "star": ("STAR elements", "STAR 要素", "STAR 요소"),
    "element": ("Element", "要素", "요소"),
    "heard": ("Heard", "是否讲到", "언급 여부"),
    "cues": ("Cues heard", "听到的提示语", "확인된 표현"),
    "follow_up": ("Follow-up", "追问", "추가 질문"),
    "follow_up_asked": (
        "Asked because the answer missed the {element} element: “{prompt}”",
        "因回答缺少“{element}”要素而追问：“{prompt}”",
        "답변에 ‘{element}’ 요소가 없어 추가로 질문함: “{prompt}”",
    ),
    "follow_up_none": ("No follow-up was asked.", "没有追问。", "추가 질문은 없었습니다."),
    "speech": ("Speech measures", "语音指标", "음성 지표"),
    "measure": ("Measure", "指标", "지표"),
    "figure": ("Figure", "数值", "수치"),
    "duration": ("Answer length", "回答时长", "답변 길이"),
    "rate": ("Speaking rate", "语速", "말하기 속도"),
    "pause_ratio": ("Time in pauses", "停顿时间占比", "멈춘 시간 비율"),
    "fillers": ("Filler words", "口头语", "군말"),
    "fillers_value": (
        "{count} ({rate} per 100 words)",
        "{count} 个（每百词 {rate} 个）",
        "{count}개 (100단어당 {rate}개)",
    ),
    "confidence": ("Mean word confidence", "平均词置信度", "평균 단어 신뢰도"),
    "camera": ("Camera observations", "摄像头观察", "카메라 관찰"),
    "no_video": (
        "No video analysis for this item.",
        "此项没有视频分析。",
        "이 항목은 영상 분석이 없습니다.",
    ),
    "face_present": ("Face in view", "面部在画面中", "얼굴이 화면에 보임"),
    "facing_screen": ("Facing the screen", "面向屏幕", "화면을 향함"),
    "multiple_faces": ("More than one face", "出现多张人脸", "여러 얼굴이 보임"),
    "share": ("{pct}% of the time", "{pct}% 的时间", "전체 시간의 {pct}%"),
    "chart.attention": ("Attention over time", "注意力随时间变化", "시간에 따른 주의 집중"),
    "chart.attention_desc": (
        "Upper band: face in view ({face}% of the time). Lower band: facing the screen ({facing}).",
        "上方色带：面部在画面中（{face}% 的时间）。下方色带：面向屏幕（{facing}）。",
        "위쪽 띠: 얼굴이 화면에 보임 (전체 시간의 {face}%). 아래쪽 띠: 화면을 향함 ({facing}).",
    ),
    "chart.expression": ("Expressions over time", "表情随时间分布", "시간에 따른 표정 분포"),
    "chart.expression_desc": (
        "Share of frames per time window by their most likely expression; most often {label}"
        " ({pct}% of the frames).",
        "各时间段内按最可能表情划分的画面占比；最常见的是{label}（占画面的 {pct}%）。",
        "구간별로 가장 가능성 높은 표정에 따른 프레임 비율이며, 가장 많은 것은 {label}"
        " (프레임의 {pct}%)입니다.",
    ),
    "chart.rate": ("Speaking rate per answer", "各回答的语速", "답변별 말하기 속도"),
    "chart.rate_desc": (
        "Bars: each answer's speaking rate; shaded: the comfortable range. {values}",
        "柱形为各回答的语速，阴影为适中范围。{values}",
        "막대는 답변별 말하기 속도, 음영은 적정 범위입니다. {values}",
    ),
    "chart.activity": ("Activity during the task", "操作过程中的动作量", "실기 중 움직임"),
    "chart.activity_desc": (
        "Motion over the time the task took; grey bands are idle periods; a dashed line marks"
        " the time limit only when the task reached it. Active {pct}% of the time; idle"
        " periods: {n}.",
        "任务用时内的动作量；灰色区域为停顿时段；只有用时达到时限时才以虚线标出时限。"
        "{pct}% 的时间在操作，共 {n} 段停顿。",
        "과제에 걸린 시간 동안의 움직임입니다. 회색 구간은 멈춘 구간이며, 제한 시간에 도달한"
        " 경우에만 점선으로 제한 시간을 표시합니다. 전체 시간의 {pct}% 동안 작업했고 멈춘"
        " 구간은 {n}개입니다.",
    ),
    "axis.seconds": ("Seconds from the start", "距开始的秒数", "시작 후 경과 시간(초)"),
    "axis.share": ("Share", "占比", "비율"),
    "axis.motion": ("Motion (0–1)", "动作量（0–1）", "움직임 (0–1)"),
    "legend.motion": ("Motion", "动作量", "움직임"),
    "legend.idle": ("Idle", "停顿", "멈춤"),
    "legend.limit": ("Time limit", "时限", "제한 시간"),
    "legend.band": ("Comfortable range", "适中范围", "적정 범위"),
    "checklist": ("Staff checklist", "工作人员检查表", "직원 체크리스트"),
    "point": ("Checkpoint", "检查点", "점검 항목"),
    "ticked": ("Ticked", "已勾选", "충족"),
    "not_ticked": ("Not ticked", "未勾选", "미충족"),
    "pending": ("Awaiting staff", "待评分", "채점 대기"),
    "checklist_pending": (
        "Staff have not scored the checklist yet.",
        "工作人员尚未完成检查表评分。",
        "직원이 아직 체크리스트를 채점하지 않았습니다.",
    ),
    "time_taken": ("Time taken", "用时", "소요 시간"),
    "time_limit": ("Time limit", "时限", "제한 시간"),
    "within_limit": ("Within the limit", "在时限内", "제한 시간 이내"),
    "time_band": ("Expected time", "预期用时", "예상 소요 시간"),
    "time_band_value": (
        "{fastest}–{slowest} (credible minimum {credible})",
        "{fastest}–{slowest}（可信的最短用时 {credible}）",
        "{fastest}–{slowest} (신뢰할 수 있는 최소 시간 {credible})",
    ),
    "too_fast": (
        "Too fast to be credible — review the recording",
        "快得不可信——请查看录像",
        "믿기 어려울 만큼 빠름 — 녹화를 확인해 주세요",
    ),
    "over_limit": ("Over the limit", "超出时限", "제한 시간 초과"),
    "active": ("Active", "操作时间占比", "작업 비율"),
    "idle_periods": ("Idle periods", "停顿时段", "멈춘 구간"),
    "activity_basis": ("Activity measured as", "操作的衡量方式", "작업 측정 방식"),
    "basis.hands": (
        "hands in the work area", "工作区内的手", "작업 영역 안의 손"
    ),
    "basis.work_area_motion": (
        "motion in the work area, face excluded (no hand model installed)",
        "工作区内的动作，不含面部（未安装手部模型）",
        "작업 영역 안의 움직임, 얼굴 제외 (손 모델 미설치)",
    ),
    "basis.frame_motion": (
        "motion in the whole picture, face included",
        "整个画面的动作，包括面部",
        "화면 전체의 움직임, 얼굴 포함",
    ),
    "work_area": ("Work area", "工作区", "작업 영역"),
    "work_area_value": (
        "{w}% × {h}% of the picture from ({x}%, {y}%)",
        "画面的 {w}% × {h}%，起点 ({x}%, {y}%)",
        "화면의 {w}% × {h}%, 시작점 ({x}%, {y}%)",
    ),
    "whole_picture": ("the whole picture", "整个画面", "화면 전체"),
    "work_seen": ("Work seen", "看到操作的时段", "작업이 보인 구간"),
    "hands_in_area": ("Hands in the work area", "手在工作区内", "작업 영역 안의 손"),
    "hands_away": ("Hands away from the work area", "手离开工作区", "손이 작업 영역을 벗어난 구간"),
    "work_area_unseen": (
        "Activity not assessed: the camera gave no view of the work area. Review the recording.",
        "操作情况未评估：摄像头没有拍到工作区。请查看录像。",
        "작업 비율은 평가하지 않음: 카메라에 작업 영역이 보이지 않았습니다. 녹화를 확인해 주세요.",
    ),
    "about": ("About this report", "关于本报告", "보고서 정보"),
    "rubric_version": ("Rubric version", "评分标准版本", "평가 기준 버전"),
    "package_version": ("Job package version", "岗位包版本", "직무 패키지 버전"),
    "scoring_version": ("Scoring version", "评分方法版本", "채점 방식 버전"),
    "consent_version": ("Consent version", "同意书版本", "동의서 버전"),
    "expression_consent": ("Expression-analysis consent", "表情分析同意", "표정 분석 동의"),
    "report_format": ("Report format", "报告格式", "보고서 형식"),
    "generated_at": ("Report generated", "报告生成时间", "보고서 생성 시각"),
    "models": ("Models used", "使用的模型", "사용한 모델"),
    "none": ("None recorded", "无记录", "기록 없음"),
}

LANGUAGE_NAMES: dict[str, str] = {"zh-CN": "简体中文", "en": "English", "ko": "한국어"}


def t(key: str, language: Language, **values: object) -> str:
    """The UI string ``key`` in ``language``, formatted with ``values``."""
    text = pick(UI, key, language)
    return text.format(**values) if values else text


def metric_name(metric: str, language: Language) -> str:
    """A metric's name as a table heading: the same name the explanations use, capitalised."""
    text = notes_i18n.metric_name(metric, language)
    return text[:1].upper() + text[1:]


def localized(texts: Mapping[Language, str], language: Language, fallback: str) -> str:
    """The text in ``language``, else English, else the first language present, else fallback."""
    keys: list[Language] = [language, "en", *sorted(texts)]
    for key in keys:
        text = texts.get(key)
        if text:
            return text
    return fallback
