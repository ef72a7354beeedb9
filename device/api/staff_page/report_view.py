"""One session's report in the browser: the report page as analysis renders it (in a
sandboxed frame), with the staff page's navigation, the evidence to play beside it, and
the checklist form of each demonstration.

A session the viewer's token does not see is "not found", exactly like one that does not
exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from device.analysis.checklist_scoring import ReasonRequiredError, score_demonstration
from device.api.deps import KioskDep
from device.api.reports import default_language, stored_report
from device.api.staff_page import checklist_form, evidence
from device.api.staff_page.access import FormDep, PageRefused, Viewer, ViewerDep, check_csrf, first
from device.api.staff_page.layout import PREFIX, REPORT_HEADERS, e, page, url
from device.api.staff_page.strings import PageLanguage, t
from device.composition import Kiosk
from device.errors import KioskError, NotFoundError
from device.sessions import session_rows
from device.sessions.session_rows import NamedSession
from inference.report.build import render_html
from inference.report.models import Report

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def visible(k: Kiosk, viewer: Viewer, session_id: str) -> NamedSession:
    """The session if the viewer's token sees its job; otherwise "not found"."""
    with k.store.read() as db:
        named = session_rows.named(db, session_id)
    if named is None or not viewer.staff.sees_job(named.session.job_id):
        raise PageRefused(404, "not_found.title", "not_found.body")
    return named


def _report(k: Kiosk, session_id: str) -> Report | None:
    try:
        return stored_report(k, session_id)[1]
    except NotFoundError:
        return None


def _player(item: evidence.ItemEvidence, lang: PageLanguage) -> str:
    if item.recording is None:
        return f'<p class="hint">{e(t("evidence.no_recording", lang))}</p>'
    tag = "video" if item.recording.kind == "video" else "audio"
    label = t("evidence.player", lang, item=item.title)
    player = (f'<{tag} id="player-{e(item.item_id)}" controls preload="none"'
              f' aria-label="{e(label)}" src="{e(url(f"/recordings/{item.recording.id}"))}">'
              f"</{tag}>")
    if not item.cues:
        return player + f'<p class="hint">{e(t("evidence.none", lang))}</p>'
    cues = "".join(
        f'<li><button type="button" class="cue" data-player="player-{e(item.item_id)}"'
        f' data-start="{cue.start:.2f}">'
        f'{e(t("evidence.play", lang, at=evidence.clock(cue.start), what=cue.label))}'
        f"</button></li>" for cue in item.cues)
    return f'{player}<ul class="cues">{cues}</ul>'


def _aside(k: Kiosk, viewer: Viewer, named: NamedSession, report: Report,
           notes: dict[str, tuple[str, bool]]) -> str:
    lang = viewer.language
    kinds = {i.spec.id: i.kind for i in report.items}
    with k.store.read() as db:
        files = evidence.recordings(db, named.session.id, kinds)
    forms = {c.task.id: c for c in checklist_form.task_checklists(k, named.session)}
    parts = [f'<h2 id="evidence-title">{e(t("evidence.title", lang))}</h2>'
             f'<p class="hint">{e(t("evidence.hint", lang))}</p>']
    for item in evidence.items(report, files, lang):
        parts.append(f'<section class="item" aria-labelledby="item-{e(item.item_id)}">'
                     f'<h3 id="item-{e(item.item_id)}">{e(item.title)}</h3>'
                     f"{_player(item, lang)}")
        if item.item_id in forms:
            message, failed = notes.get(item.item_id, (None, False))
            parts.append(checklist_form.form(named.session.id, forms[item.item_id],
                                             viewer.login, lang, message=message,
                                             failed=failed))
        parts.append("</section>")
    return f'<aside class="evidence" aria-labelledby="evidence-title">{"".join(parts)}</aside>'


def _page(k: Kiosk, viewer: Viewer, named: NamedSession, *, status: int = 200,
          notes: dict[str, tuple[str, bool]] | None = None) -> HTMLResponse:
    lang = viewer.language
    who = named.display_name or named.session.candidate_id
    back = f'<p class="back"><a href="{e(url("/"))}">{e(t("back", lang))}</a></p>'
    report = _report(k, named.session.id)
    if report is None:
        body = back + f'<p class="notice">{e(t("report.missing", lang))}</p>'
    else:
        frame = url(f"/sessions/{named.session.id}/report-frame",
                    lang=lang if viewer.explicit_language else None)
        body = (back + '<div class="report-view">'
                f'<iframe class="report" src="{e(frame)}"'
                f' title="{e(t("report.frame", lang, who=who))}"></iframe>'
                f"{_aside(k, viewer, named, report, notes or {})}</div>")
    return page(t("report.title", lang, who=who), body, lang,
                here=url(f"/sessions/{named.session.id}"),
                login=viewer.login, status=status)


@router.get("/sessions/{session_id}")
def report_page(session_id: str, viewer: ViewerDep, k: KioskDep,
                saved: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    named = visible(k, viewer, session_id)
    notes = {saved: (t("checklist.saved", viewer.language), False)} if saved else None
    return _page(k, viewer, named, notes=notes)


@router.get("/sessions/{session_id}/report-frame")
def report_frame(session_id: str, viewer: ViewerDep, k: KioskDep) -> HTMLResponse:
    visible(k, viewer, session_id)
    report = _report(k, session_id)
    if report is None:
        raise PageRefused(404, "not_found.title", "report.missing")
    language = viewer.language if viewer.explicit_language else default_language(k, report)
    return HTMLResponse(render_html(report, language, k.config.site.time_zone),
                        headers=REPORT_HEADERS)


@router.post("/sessions/{session_id}/checklist/{item_id}")
async def submit_checklist(session_id: str, item_id: str, viewer: ViewerDep, k: KioskDep,
                           form: FormDep) -> Response:
    check_csrf(viewer.login, form)
    return await run_in_threadpool(_submit, k, viewer, session_id, item_id, form)


def _submit(k: Kiosk, viewer: Viewer, session_id: str, item_id: str,
            form: dict[str, list[str]]) -> Response:
    named = visible(k, viewer, session_id)
    task = next((c.task for c in checklist_form.task_checklists(k, named.session)
                 if c.task.id == item_id), None)
    if task is None:
        raise PageRefused(404, "not_found.title", "not_found.body")
    points = checklist_form.points_given(task, form.get("point", []))
    reason = (first(form, "reason") or "")[:checklist_form.REASON_MAX]
    lang = viewer.language
    try:
        score_demonstration(k.store, k.identity, viewer.staff, session_id, item_id, points,
                            reason)
    except ReasonRequiredError:
        note = (t("checklist.reason_required", lang), True)
        return _page(k, viewer, named, status=409, notes={item_id: note})
    except KioskError as exc:
        note = (t("checklist.rejected", lang, detail=str(exc)), True)
        return _page(k, viewer, named, status=409, notes={item_id: note})
    target = url(f"/sessions/{session_id}", saved=item_id,
                 lang=lang if viewer.explicit_language else None)
    return RedirectResponse(f"{target}#checklist-{item_id}", status_code=303)
