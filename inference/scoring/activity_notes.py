"""How a demonstration's activity reading is stated, in en, zh-CN and ko: what was measured
(hands in the work area, or motion there with the face left out), the share of time working,
the share with hands in the area, idle periods and hands-away periods; and the reading not
assessed when the camera never saw the work area."""

from __future__ import annotations

from inference.scoring.figures import num, pct
from inference.scoring.models import Note

ACTIVITY_NOTES: dict[str, tuple[str, str, str]] = {
    "activity": (
        "{basis}active {pct}% of the time{hands}{idle}{away}",
        "{basis}{pct}% 的时间在操作{hands}{idle}{away}",
        "{basis}전체 시간의 {pct}% 동안 작업{hands}{idle}{away}",
    ),
    "activity.basis.hands": ("hands in the work area: ", "工作区内的手：", "작업 영역 안의 손: "),
    "activity.basis.work_area_motion": (
        "motion in the work area, face excluded: ",
        "工作区内的动作（不含面部）：",
        "작업 영역 안의 움직임(얼굴 제외): ",
    ),
    "activity.basis.frame_motion": (
        "motion in the whole picture: ", "整个画面的动作：", "화면 전체의 움직임: "
    ),
    "activity.hands": (
        "; hands in the work area {share}% of the time",
        "；手在工作区内的时间占 {share}%",
        "; 손이 작업 영역 안에 있던 시간 {share}%",
    ),
    "activity.away": (
        "; hands left the work area {away} times",
        "；手离开工作区 {away} 次",
        "; 손이 작업 영역을 벗어남 {away}회",
    ),
    "activity_unseen": (
        "not assessed: the camera gave no view of the work area — review the recording",
        "未评估：摄像头没有拍到工作区——请查看录像",
        "평가하지 않음: 카메라에 작업 영역이 보이지 않음 — 녹화를 확인해 주세요",
    ),
    "activity.idle": (
        "; idle periods: {n} (longest {len} at {at})",
        "；{n} 段停顿（最长 {len}，在 {at}）",
        "; 멈춤 {n}회 (최장 {len}, {at})",
    ),
}
"""Message key -> (en, zh-CN, ko), merged into ``inference.scoring.notes_i18n.NOTES``."""


def activity_clauses(note: Note, column: int, values: dict[str, str]) -> dict[str, str]:
    """The optional clauses of an ``activity`` note in the language of ``column`` (0 en,
    1 zh-CN, 2 ko); ``values``: the note's numbers, formatted. A note stored before the basis
    was kept has no basis clause."""
    def say(key: str) -> str:
        return ACTIVITY_NOTES[key][column]

    idle = note.values.get("n", 0) > 0
    share = note.values.get("hands")
    away = note.values.get("away", 0)
    return {
        "idle": say("activity.idle").format(**values) if idle else "",
        "basis": say(f"activity.basis.{note.label}") if note.label else "",
        "hands": "" if share is None else say("activity.hands").format(share=pct(share)),
        "away": say("activity.away").format(away=num(away)) if away else "",
    }


__all__ = ["ACTIVITY_NOTES", "activity_clauses"]
