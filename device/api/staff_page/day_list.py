"""The staff page's start: the sessions of one day at the site, today unless asked.

A day is a calendar day in the site's time zone (``[site] time_zone``); sessions are those
whose interview started during it (or, not started yet, that were invited during it),
earliest first, limited to the jobs the token sees. Times are shown in the
zone, named beside them; the database keeps UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from device.api.deps import KioskDep
from device.api.staff_page.access import PageRefused, Viewer, ViewerDep
from device.api.staff_page.layout import PREFIX, e, page, url
from device.api.staff_page.strings import PageLanguage, pick, t
from device.composition import Kiosk
from device.jobs.installed import jobs as installed_jobs
from device.sessions import results, session_rows
from device.sessions.session_rows import NamedSession

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class DayRow:
    """One session as the day's list shows it."""

    named: NamedSession
    local_time: str
    has_report: bool
    pending: tuple[str, ...] | None  # competencies awaiting a checklist; None without report


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[str, str]:
    """The UTC bounds of a local calendar day, formatted as stamps are."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return tuple(  # type: ignore[return-value]
        b.astimezone(dt.timezone.utc).isoformat(timespec="microseconds") for b in (start, end))


def today(k: Kiosk) -> dt.date:
    return k.store.now().wall.astimezone(ZoneInfo(k.config.site.time_zone)).date()


def day_rows(k: Kiosk, viewer: Viewer, day: dt.date) -> list[DayRow]:
    zone = ZoneInfo(k.config.site.time_zone)
    start, end = day_bounds(day, zone)
    jobs = None if viewer.staff.role == "admin" else sorted(viewer.staff.jobs)
    out = []
    with k.store.read() as db:
        for named in session_rows.held_between(db, start, end, jobs):
            body = results.body(db, named.session.id, "report")
            pending = None
            if body is not None:
                pending = tuple(body["report"]["scorecard"].get("pending", ()))
            held = named.session.started or named.session.created
            local = held.wall.astimezone(zone).strftime("%H:%M")
            out.append(DayRow(named, local, body is not None, pending))
    return out


def _job_titles(k: Kiosk, language: PageLanguage) -> dict[str, str]:
    with k.store.read() as db:
        return {j.id: pick(j.title, language) for j in installed_jobs(db)}


def _table(rows: list[DayRow], titles: dict[str, str], lang: PageLanguage) -> str:
    if not rows:
        return f'<p class="empty">{e(t("sessions.none", lang))}</p>'
    head = "".join(f'<th scope="col">{e(t(k, lang))}</th>' for k in (
        "col.time", "col.candidate", "col.job", "col.status", "col.report", "col.checklists"))
    body = []
    for r in rows:
        s = r.named.session
        who = r.named.display_name or s.candidate_id
        report = (f'<a href="{e(url(f"/sessions/{s.id}"))}">{e(t("report.open", lang))}'
                  f'<span class="sr-only"> — {e(who)}</span></a>'
                  if r.has_report else e(t("report.none", lang)))
        pending = (t("none", lang) if r.pending is None else
                   t("checklists.pending", lang) if r.pending else t("checklists.done", lang))
        mark = ' class="pending"' if r.pending else ""
        state = t("state." + s.state, lang) + (f" · {t('drill', lang)}" if s.drill else "")
        body.append(
            f'<tr data-session="{e(s.id)}"><td>{e(r.local_time)}</td><td>{e(who)}</td>'
            f"<td>{e(titles.get(s.job_id, s.job_id))}</td><td>{e(state)}</td>"
            f"<td>{report}</td><td{mark}>{e(pending)}</td></tr>")
    return (f'<table class="sessions"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _day_nav(day: dt.date, is_today: bool, lang: PageLanguage) -> str:
    prev, nxt = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    links = [f'<a href="{e(url("/", day=prev.isoformat()))}">{e(t("sessions.previous", lang))}</a>']
    if not is_today:
        links.append(f'<a href="{e(url("/"))}">{e(t("sessions.today", lang))}</a>')
        later = url("/", day=nxt.isoformat())
        links.append(f'<a href="{e(later)}">{e(t("sessions.next", lang))}</a>')
    return (f'<nav class="days" aria-label="{e(t("sessions.day", lang))}">{" ".join(links)}'
            f'<form method="get" action="{PREFIX}/" class="pick-day">'
            f'<label for="day">{e(t("sessions.day", lang))}</label>'
            f'<input id="day" name="day" type="date" value="{day.isoformat()}">'
            f'<button type="submit">{e(t("sessions.show", lang))}</button></form></nav>')


@router.get("/")
def day_list(viewer: ViewerDep, k: KioskDep,
             day: Annotated[str | None, Query(max_length=10)] = None) -> HTMLResponse:
    lang = viewer.language
    now_day = today(k)
    try:
        shown = dt.date.fromisoformat(day) if day else now_day
    except ValueError:
        raise PageRefused(404, "not_found.title", "not_found.body") from None
    rows = day_rows(k, viewer, shown)
    zone = k.config.site.time_zone
    body = (_day_nav(shown, shown == now_day, lang)
            + f'<p class="zone">{e(t("sessions.zone", lang, zone=zone))}</p>'
            + _table(rows, _job_titles(k, lang), lang))
    title = t("sessions.title", lang, day=shown.isoformat())
    return page(title, body, lang, here=viewer.here, login=viewer.login)
