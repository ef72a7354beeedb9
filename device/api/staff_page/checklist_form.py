"""The checklist form of each skill demonstration, and its submission.

The points come from the job package version the session started with. Submitting uses the
same rule as ``PUT /api/v1/staff/sessions/{id}/checklist/{item}``
(:func:`device.analysis.checklist_scoring.score_demonstration`): every point is given
(unticked boxes count as not achieved), and a checklist scored before changes only with a
reason, which the audit log keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.analysis import checklists
from device.api.staff_page.layout import csrf_field, e, url
from device.api.staff_page.strings import PageLanguage, pick, t
from device.composition import Kiosk
from device.jobs.installed import session_package
from device.jobs.models import DemonstrationTask
from device.sessions.session_rows import SessionRow
from device.staff.logins import Login

REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class TaskChecklist:
    """A demonstration's points and how they are scored now (None: not yet)."""

    task: DemonstrationTask
    scores: dict[str, bool] | None
    actor: str | None


def task_checklists(k: Kiosk, session: SessionRow) -> list[TaskChecklist]:
    out = []
    with k.store.read() as db:
        package = session_package(db, session)
        for item in package.items:
            if isinstance(item, DemonstrationTask):
                scored = checklists.points(db, session.id, item.id)
                out.append(TaskChecklist(item, {p.point_id: p.passed for p in scored} or None,
                                         scored[-1].actor if scored else None))
    return out


def points_given(task: DemonstrationTask, ticked: list[str]) -> dict[str, bool]:
    """Each point of the task (unticked: not achieved), and any other ticked value as sent,
    so that the shared rule refuses it."""
    given = {p.id: False for p in task.checklist}
    given.update({point: True for point in ticked})
    return given


def form(session_id: str, entry: TaskChecklist, login: Login, lang: PageLanguage, *,
         message: str | None = None, failed: bool = False) -> str:
    task = entry.task
    fid = f"checklist-{task.id}"
    boxes = []
    for n, point in enumerate(task.checklist):
        checked = " checked" if entry.scores and entry.scores.get(point.id) else ""
        boxes.append(f'<li><input type="checkbox" id="{fid}-{n}" name="point"'
                     f' value="{e(point.id)}"{checked}><label for="{fid}-{n}">'
                     f"{e(pick(point.label, lang))}</label></li>")
    rescoring = entry.scores is not None
    note = ""
    if message:
        role = "alert" if failed else "status"
        note = f'<p class="{"error" if failed else "saved"}" role="{role}">{e(message)}</p>'
    by = (f'<p class="hint">{e(t("checklist.scored_by", lang, actor=entry.actor))}</p>'
          if entry.actor else "")
    return (
        f'<section class="checklist" id="{fid}" aria-labelledby="{fid}-title">'
        f'<h3 id="{fid}-title">{e(t("checklist.title", lang, task=pick(task.title, lang)))}</h3>'
        f"{note}{by}"
        f'<form method="post" action="{e(url(f"/sessions/{session_id}/checklist/{task.id}"))}">'
        f"{csrf_field(login)}"
        f'<fieldset><legend>{e(t("checklist.hint", lang))}</legend>'
        f'<ul class="points">{"".join(boxes)}</ul></fieldset>'
        f'<label for="{fid}-reason">{e(t("checklist.reason", lang))}</label>'
        f'<textarea id="{fid}-reason" name="reason" rows="2" maxlength="{REASON_MAX}"'
        f'{" required" if rescoring else ""}></textarea>'
        f'<button type="submit">{e(t("checklist.save", lang))}</button></form></section>'
    )
