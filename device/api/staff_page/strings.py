"""The staff page's words in Mandarin (simplified), English and Korean.

Each entry is (zh-CN, en, ko); ``t`` picks one and fills ``{name}`` fields. Text from the
job package (questions, tasks, checklist points) comes in the package's own languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

PageLanguage = Literal["zh-CN", "en", "ko"]
LANGUAGES: tuple[PageLanguage, ...] = get_args(PageLanguage)
#: The name of each language in itself, for the language switch.
NATIVE = {"zh-CN": "中文", "en": "English", "ko": "한국어"}

_S: dict[str, tuple[str, str, str]] = {
    "app": ("面试报告", "Interview reports", "면접 보고서"),
    "language": ("语言", "Language", "언어"),
    "login.title": ("员工登录", "Staff login", "직원 로그인"),
    "login.token": ("员工令牌", "Staff token", "직원 토큰"),
    "login.hint": ("请输入发给您的员工令牌。令牌只发送一次；之后您会保持登录，最长 {hours} 小时，"
                   "闲置 {minutes} 分钟后需重新登录。",
                   "Enter the staff token you were given. It is sent once; you then stay logged"
                   " in for at most {hours} hours, or until {minutes} minutes without use.",
                   "받은 직원 토큰을 입력하세요. 토큰은 한 번만 전송되며,"
                   " 이후 최대 {hours}시간 동안, 또는 {minutes}분 동안 사용하지 않을"
                   " 때까지 로그인 상태가 유지됩니다."),
    "login.submit": ("登录", "Log in", "로그인"),
    "login.bad_token": ("该令牌无效或已被吊销。", "This token is not valid or has been revoked.",
                        "이 토큰은 유효하지 않거나 폐기되었습니다."),
    "login.expired_form": ("登录表单已过期，请重试。", "The login form expired; please try again.",
                           "로그인 양식이 만료되었습니다. 다시 시도하세요."),
    "logout": ("退出登录", "Log out", "로그아웃"),
    "signed_in_as": ("已登录：{name}（{role}）", "Logged in as {name} ({role})",
                     "{name}({role})(으)로 로그인됨"),
    "refused.title": ("无权查看", "Not for this role", "이 역할로는 볼 수 없습니다"),
    "refused.technician": (
        "技术员令牌只能用于设备维护，不能查看候选人的内容。请使用现场人事或管理员令牌登录。",
        "Technician tokens are for looking after the device and cannot see candidates'"
        " content. Log in with a site HR or admin token.",
        "기술자 토큰은 장치 관리용이며 지원자의 내용을 볼 수 없습니다. 현장 인사 또는 관리자"
        " 토큰으로 로그인하세요."),
    "csrf.title": ("表单已失效", "The form is no longer valid", "양식이 더 이상 유효하지 않습니다"),
    "csrf.body": ("该表单已过期或并非来自本页面。请重新加载页面后再试。",
                  "The form expired or did not come from this page. Reload the page and try"
                  " again.",
                  "양식이 만료되었거나 이 페이지에서 온 것이 아닙니다. 페이지를 새로 고친 후 다시"
                  " 시도하세요."),
    "not_found.title": ("未找到", "Not found", "찾을 수 없음"),
    "not_found.body": ("没有此内容，或您的令牌无权查看。", "There is no such page, or your token"
                       " may not see it.", "그런 페이지가 없거나 토큰으로 볼 수 없습니다."),
    "sessions.title": ("{day} 的面试", "Sessions on {day}", "{day} 면접"),
    "sessions.today": ("今天", "Today", "오늘"),
    "sessions.previous": ("前一天", "Previous day", "전날"),
    "sessions.next": ("后一天", "Next day", "다음 날"),
    "sessions.day": ("日期", "Day", "날짜"),
    "sessions.show": ("显示", "Show", "보기"),
    "sessions.none": ("这一天没有面试。", "No sessions on this day.", "이 날에는 면접이 없습니다."),
    "sessions.zone": ("时间为 {zone} 时区。", "Times are in {zone}.", "시간은 {zone} 기준입니다."),
    "col.time": ("时间", "Time", "시간"),
    "col.candidate": ("候选人", "Candidate", "지원자"),
    "col.job": ("职位", "Job", "직무"),
    "col.status": ("状态", "Status", "상태"),
    "col.report": ("报告", "Report", "보고서"),
    "col.checklists": ("技能清单", "Checklists", "체크리스트"),
    "report.open": ("查看报告", "Open report", "보고서 보기"),
    "report.none": ("尚无报告", "No report yet", "보고서 없음"),
    "checklists.pending": ("待评分", "To score", "채점 대기"),
    "checklists.done": ("已评分", "Scored", "채점 완료"),
    "none": ("—", "—", "—"),
    "state.invited": ("已邀请", "Invited", "초대됨"),
    "state.checked_in": ("已签到", "Checked in", "체크인"),
    "state.consented": ("已同意", "Consented", "동의함"),
    "state.in_progress": ("进行中", "In progress", "진행 중"),
    "state.paused": ("已暂停", "Paused", "일시 중지"),
    "state.completed": ("已完成", "Completed", "완료"),
    "state.terminated": ("已终止", "Terminated", "종료됨"),
    "state.revoked": ("已撤销", "Revoked", "취소됨"),
    "state.expired": ("已过期", "Expired", "만료됨"),
    "state.declined": ("已拒绝", "Declined", "거부함"),
    "drill": ("演练", "drill", "연습"),
    "back": ("返回面试列表", "Back to sessions", "면접 목록으로"),
    "report.title": ("{who} 的面试报告", "Interview report: {who}", "면접 보고서: {who}"),
    "report.frame": ("面试报告（{who}）", "The interview report of {who}", "{who}의 면접 보고서"),
    "report.missing": ("此面试尚无报告：面试结束且所有回答分析完成后才会生成。",
                       "This session has no report yet: it is written when the session has"
                       " ended and its answers are analysed.",
                       "이 면접에는 아직 보고서가 없습니다. 면접이 끝나고 모든 답변이 분석되면"
                       " 작성됩니다."),
    "evidence.title": ("可收听的证据", "Evidence to play", "재생할 수 있는 근거"),
    "evidence.hint": ("按下证据按钮，录音会从该时刻开始播放。",
                      "Press a piece of evidence to play the recording from that moment.",
                      "근거 버튼을 누르면 그 시점부터 녹음이 재생됩니다."),
    "evidence.no_recording": ("本机上没有此题的录音。", "No recording of this item is on the box.",
                              "이 항목의 녹음이 장치에 없습니다."),
    "evidence.none": ("此题没有带时间的证据。", "No timed evidence for this item.",
                      "이 항목에는 시간이 표시된 근거가 없습니다."),
    "evidence.player": ("{item} 的录音", "Recording of {item}", "{item} 녹음"),
    "evidence.keyword": ("关键词", "Keyword", "키워드"),
    "evidence.synonym": ("同义词", "Synonym", "동의어"),
    "evidence.star": ("STAR（{element}）", "STAR ({element})", "STAR ({element})"),
    "evidence.idle": ("停顿 {start}–{end}", "Idle {start}–{end}", "멈춤 {start}–{end}"),
    "evidence.away": ("双手离开工作区 {start}–{end}", "Hands away {start}–{end}",
                      "손이 작업 영역 밖 {start}–{end}"),
    "evidence.work_start": ("开始操作 {at}", "Work begins {at}", "작업 시작 {at}"),
    "evidence.work_end": ("操作结束 {at}", "Work ends {at}", "작업 끝 {at}"),
    "evidence.play": ("从 {at} 播放：{what}", "Play from {at}: {what}", "{at}부터 재생: {what}"),
    "star.situation": ("情境", "situation", "상황"),
    "star.task": ("任务", "task", "과제"),
    "star.action": ("行动", "action", "행동"),
    "star.result": ("结果", "result", "결과"),
    "question": ("问题 {n}", "Question {n}", "질문 {n}"),
    "task": ("技能演示 {n}", "Demonstration {n}", "실기 {n}"),
    "checklist.title": ("评分清单：{task}", "Checklist: {task}", "체크리스트: {task}"),
    "checklist.hint": ("观看录像后，勾选候选人完成的每一项。",
                       "Watch the recording, then tick each point the candidate achieved.",
                       "녹화를 본 후 지원자가 해낸 항목을 모두 선택하세요."),
    "checklist.scored_by": ("上次评分：{actor}", "Last scored by {actor}", "마지막 채점: {actor}"),
    "checklist.reason": ("原因（修改评分时必填）", "Reason (required when changing a score)",
                         "사유(점수를 바꿀 때 필수)"),
    "checklist.save": ("保存清单", "Save checklist", "체크리스트 저장"),
    "checklist.saved": ("清单已保存，报告已更新。", "Checklist saved; the report is updated.",
                        "체크리스트가 저장되었고 보고서가 갱신되었습니다."),
    "checklist.reason_required": ("此清单已评过分：修改时请填写原因。",
                                  "This checklist was already scored: give a reason to change it.",
                                  "이미 채점된 체크리스트입니다. 변경하려면 사유를 입력하세요."),
    "checklist.rejected": ("清单未保存：{detail}", "The checklist was not saved: {detail}",
                           "체크리스트가 저장되지 않았습니다: {detail}"),
}


def t(key: str, language: PageLanguage, **fields: object) -> str:
    """The text of ``key`` in ``language`` with ``fields`` filled in."""
    text = _S[key][LANGUAGES.index(language)]
    return text.format(**fields) if fields else text


def pick(texts: Mapping[Any, str], language: PageLanguage) -> str:
    """A package text in ``language``, or in the first language it has."""
    return texts.get(language) or next(iter(texts.values()), "")


def keys() -> list[str]:
    return list(_S)
