"""The console's words in zh-CN and en, and which language a request gets."""

from __future__ import annotations

from typing import Literal, get_args

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)
LANG_COOKIE = "console_lang"

_T: dict[str, tuple[str, str]] = {  # key: (zh-CN, en)
    "console": ("招聘评估控制台", "Hiring console"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码不正确，或账户已停用。", "Wrong username or password, or the account"
                  " is disabled."),
    "too_many": ("登录失败次数过多，请稍后再试。", "Too many failed sign-ins; try again later."),
    "jobs": ("职位", "Jobs"),
    "job": ("职位", "Job"),
    "candidates": ("候选人", "Candidates"),
    "candidate": ("候选人", "Candidate"),
    "name": ("姓名", "Name"),
    "candidate_id": ("候选人编号", "Candidate ref."),
    "state": ("状态", "State"),
    "site": ("地点", "Site"),
    "date": ("日期", "Date"),
    "overall": ("总分", "Overall"),
    "not_assessed": ("未评估", "not assessed"),
    "pending": ("待评分", "pending"),
    "no_report": ("尚无报告", "no report yet"),
    "filter": ("筛选", "Filter"),
    "any": ("全部", "any"),
    "since": ("起始日期", "From"),
    "until": ("截止日期", "Until"),
    "sort_by": ("按此列排序", "sort by this column"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "compare": ("按能力并排比较", "Compare side by side"),
    "competency": ("能力", "Competency"),
    "report": ("报告", "Report"),
    "open_report": ("在新页面打开报告", "Open the report on its own page"),
    "trail": ("状态记录", "State trail"),
    "staff_actions": ("工作人员操作", "Staff actions"),
    "from": ("从", "From"),
    "to": ("到", "To"),
    "action": ("操作", "Action"),
    "reason": ("原因", "Reason"),
    "by": ("执行人", "By"),
    "when": ("时间", "When"),
    "recordings": ("录像", "Recordings"),
    "no_recordings": ("未上传录像。", "No recordings were uploaded."),
    "type": ("类型", "Type"),
    "size": ("大小", "Size"),
    "decisions": ("决定", "Decisions"),
    "no_decisions": ("尚无决定。", "No decision yet."),
    "decision": ("决定", "Decision"),
    "record_decision": ("记录决定", "Record decision"),
    "advance": ("进入下一轮", "Advance"),
    "reject": ("不予录用", "Reject"),
    "hold": ("暂缓", "Hold"),
    "decision_saved": ("决定已记录。", "Decision recorded."),
    "none": ("无", "none"),
    "stats": ("统计", "Statistics"),
    "count": ("人数", "Count"),
    "mean": ("平均分", "Mean"),
    "assessed": ("已评估", "Assessed"),
    "distribution": ("分数分布", "Score distribution"),
    "withheld": ("人数太少，不显示分数统计。", "Too few candidates: score figures withheld."),
    "fleet": ("设备", "Boxes"),
    "device": ("设备", "Box"),
    "tenant": ("租户", "Tenant"),
    "last_seen": ("最后联系", "Last seen"),
    "link": ("连接", "Link"),
    "outbox": ("待发送", "Outbox"),
    "held_back": ("暂存（等待前序消息）", "Held back (awaiting earlier messages)"),
    "version": ("版本", "Version"),
    "not_reported": ("未报告", "not reported"),
    "audit": ("审计日志", "Audit log"),
    "chain_ok": ("审计链完整（{n} 条）。", "The audit chain is intact ({n} entries)."),
    "chain_bad": ("审计链已损坏：{problem}", "The audit chain is broken: {problem}"),
    "forbidden": ("您的角色无权查看此页面。", "Your role may not see this page."),
    "not_found": ("未找到。", "Not found."),
    "language": ("语言", "Language"),
    "main_nav": ("主导航", "Main navigation"),
    "skip": ("跳到主要内容", "Skip to main content"),
    "signed_in_as": ("已登录：{who}（{role}）", "Signed in as {who} ({role})"),
    "role.hr_specialist": ("招聘专员", "HR specialist"),
    "role.hiring_manager": ("用人经理", "hiring manager"),
    "role.general_manager": ("总经理", "general manager"),
    "role.admin": ("管理员", "admin"),
    "no_jobs": ("没有您负责的职位。", "No jobs you are responsible for."),
    "no_candidates": ("没有符合条件的候选人。", "No candidates match."),
    "apply": ("应用", "Apply"),
    "role": ("角色", "Role"),
    "users": ("用户", "Users"),
    "jobs_held": ("负责的职位", "Jobs held"),
    "active": ("启用", "active"),
    "disabled": ("已停用", "disabled"),
    "users_hint": ("在中央服务器上用 kiosk central user 添加或停用用户。",
                   "Add and disable users with kiosk central user on central's host."),
}


def t(key: str, lang: Lang, **values: object) -> str:
    zh, en = _T.get(key, (key, key))
    text = zh if lang == "zh-CN" else en
    return text.format(**values) if values else text


def choose(query: str | None, cookie: str | None, accept: str | None) -> Lang:
    """The language asked for in the URL, else the one chosen before, else the browser's."""
    for asked in (query, cookie):
        if asked in LANGS:
            return asked
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "zh-CN"
