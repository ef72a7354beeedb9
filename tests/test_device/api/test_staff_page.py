"""The staff page over HTTP: logging in with a token once, then a cookie; the day's sessions
in the site's time zone; the report with its evidence; the checklist form; and every way in
that must stay shut."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from analysis_fixtures import DEMO, Q1
from api_helpers import staff_headers
from staff_page_fixtures import POINTS, Reviewed, csrf_of, log_in, reviewed_session

from conftest import JOB, InviteFn, LiveServer, make_config
from device import audit
from device.audit import SYSTEM
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import KioskConfig
from device.sessions import results
from device.sessions.roster import start_drill
from device.staff import tokens
from inference.report.build import render_html
from inference.report.models import Report

ZONE = "Asia/Shanghai"


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data", KIOSK_SITE_TIME_ZONE=ZONE,
                       KIOSK_STAFF_PAGE_IDLE_MIN="15", KIOSK_STAFF_PAGE_MAX_H="2")


@pytest.fixture
def reviewed(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
             tmp_path: Path) -> Reviewed:
    return reviewed_session(kiosk, clock, invite, consent_version, tmp_path / "wav")


@pytest.fixture
def browser(live: LiveServer) -> Iterator[httpx.Client]:
    """Another client with a cookie jar of its own, as a second browser would be."""
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


def token(kiosk: Kiosk, role: str, jobs: list[str] | None = None, name: str | None = None
          ) -> str:
    return tokens.create(kiosk.store, name or f"{role}-web", role, jobs or [], SYSTEM).token


def hr_in(kiosk: Kiosk, client: httpx.Client, jobs: list[str] | None = None) -> str:
    """Log ``client`` in with a new site HR token; returns the token's name."""
    name = f"hr-{len(tokens.list_tokens(kiosk.store))}"
    r = log_in(client, token(kiosk, "site_hr", jobs or [JOB], name=name))
    assert r.status_code == 303 and r.headers["location"] == "/staff/", r.text
    return name


def audited(kiosk: Kiosk, action: str) -> list[dict[str, Any]]:
    """The audit log's entries of ``action``, oldest first."""
    with kiosk.store.read() as db:
        return list(reversed(audit.entries(db, action=action)))


def report_revision(kiosk: Kiosk, session_id: str) -> int:
    with kiosk.store.read() as db:
        body = results.body(db, session_id, "report")
    assert body is not None
    return int(body["revision"])


def media_views(kiosk: Kiosk) -> list[dict[str, Any]]:
    return audited(kiosk, "media.view")


# --- logging in ---------------------------------------------------------------------------

def test_without_a_login_every_page_sends_the_browser_to_the_login_form(
    http: httpx.Client, reviewed: Reviewed
) -> None:
    sid, media_id = reviewed.session_id, reviewed.media[Q1]
    for path in ("/staff/", f"/staff/sessions/{sid}", f"/staff/sessions/{sid}/report-frame",
                 f"/staff/recordings/{media_id}"):
        r = http.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/staff/login", path
    post = http.post(f"/staff/sessions/{sid}/checklist/{DEMO}", data={"point": POINTS})
    assert post.status_code == 303 and post.headers["location"] == "/staff/login"


def test_a_token_logs_in_once_and_the_cookie_is_httponly_strict_and_scoped_to_staff(
    http: httpx.Client, kiosk: Kiosk
) -> None:
    secret = token(kiosk, "site_hr", [JOB])
    form = http.get("/staff/login")
    assert 'type="password"' in form.text and 'method="post"' in form.text
    r = log_in(http, secret)
    assert r.status_code == 303 and secret not in r.headers["location"]
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("kiosk_staff="))
    attributes = [a.strip() for a in cookie.split(";")]
    assert {"HttpOnly", "SameSite=strict", "Path=/staff"} <= set(attributes), cookie
    assert secret not in cookie
    assert not any(a.startswith(("Max-Age", "expires")) for a in attributes)  # the browser's
    page = http.get("/staff/")
    assert page.status_code == 200 and secret not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in page.text and " style=" not in page.text
    logins = audited(kiosk, "staff_page.login")
    assert [(a["actor_role"], a["actor_name"]) for a in logins] == [("site_hr", "site_hr-web")]


def test_logging_in_again_ends_the_earlier_login_and_issues_a_new_id(
    http: httpx.Client, browser: httpx.Client, kiosk: Kiosk
) -> None:
    hr_in(kiosk, http)
    earlier = http.cookies["kiosk_staff"]
    hr_in(kiosk, http)
    assert http.cookies["kiosk_staff"] != earlier
    browser.cookies.set("kiosk_staff", earlier, path="/staff")
    assert browser.get("/staff/").status_code == 303


def test_a_wrong_token_a_technician_and_a_form_not_from_the_box_are_refused(
    http: httpx.Client, kiosk: Kiosk
) -> None:
    bad = log_in(http, "not-a-token")
    assert bad.status_code == 401 and "not valid" not in bad.text  # zh-CN by default
    assert "该令牌无效" in bad.text and "kiosk_staff=" not in bad.headers.get("set-cookie", "")
    tech = log_in(http, token(kiosk, "technician"), lang="en")
    assert tech.status_code == 403 and "Technician tokens" in tech.text
    assert "kiosk_staff=" not in tech.headers.get("set-cookie", "")
    forged = httpx.post(f"{http.base_url}/staff/login",
                        data={"form": "guessed", "token": token(kiosk, "admin")})
    assert forged.status_code == 403 and "kiosk_staff=" not in forged.headers.get("set-cookie", "")


def test_forged_expired_and_logged_out_cookies_lead_back_to_the_login(
    http: httpx.Client, browser: httpx.Client, kiosk: Kiosk, clock: ManualClock
) -> None:
    http.cookies.set("kiosk_staff", "forged-value", path="/staff")
    assert http.get("/staff/").status_code == 303
    http.cookies.clear()

    hr_in(kiosk, http)  # idle: 15 minutes without a request
    clock.advance(14 * 60)
    assert http.get("/staff/").status_code == 200
    clock.advance(15 * 60 + 1)
    assert http.get("/staff/").status_code == 303

    http.cookies.clear()
    hr_in(kiosk, http)  # absolute: 2 hours however busy
    for _ in range(8):
        clock.advance(14 * 60)
        assert http.get("/staff/").status_code == 200
    clock.advance(14 * 60)
    assert http.get("/staff/").status_code == 303

    http.cookies.clear()
    hr_in(kiosk, http)  # logout ends the login on the box, not just in the browser
    kept = dict(http.cookies)
    page = http.get("/staff/")
    out = http.post("/staff/logout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"].startswith("/staff/login")
    assert 'kiosk_staff=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    browser.cookies.update(kept)  # the old cookie, replayed
    assert browser.get("/staff/").status_code == 303

    http.cookies.clear()
    name = hr_in(kiosk, http)  # a revoked token ends its logins at the next request
    assert http.get("/staff/").status_code == 200
    tokens.revoke(kiosk.store, name, SYSTEM)
    assert http.get("/staff/").status_code == 303


# --- the day's sessions -------------------------------------------------------------------

def test_the_day_lists_sessions_in_the_site_time_zone_with_report_and_checklist_state(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed, invite: InviteFn
) -> None:
    other = invite(job_id=JOB, display_name="Lee Other")
    drill = start_drill(kiosk.engine, JOB, SYSTEM)
    hr_in(kiosk, http)
    page = http.get("/staff/?lang=en")
    assert page.status_code == 200
    assert "Sessions on 2026-01-05" in page.text and f"Times are in {ZONE}" in page.text
    row = page.text.split(f'data-session="{reviewed.session_id}"')[1].split("</tr>")[0]
    assert "<td>16:00</td>" in row  # 08:00 UTC in Shanghai
    assert "Completed" in row and "Open report" in row and "To score" in row
    assert f'href="/staff/sessions/{reviewed.session_id}"' in row
    invited = page.text.split(f'data-session="{other.session_id}"')[1].split("</tr>")[0]
    assert "Lee Other" in invited and "No report yet" in invited and "Invited" in invited
    practice = page.text.split(f'data-session="{drill.session_id}"')[1].split("</tr>")[0]
    assert "Invited · drill" in practice and "drill" not in invited
    earlier = http.get("/staff/?day=2026-01-04")
    assert reviewed.session_id not in earlier.text and "No sessions on this day." in earlier.text
    assert 'href="/staff/?day=2026-01-05"' in earlier.text  # the next day, back again
    nonsense = http.get("/staff/?day=2026-13-45")
    assert nonsense.status_code == 404 and nonsense.headers["content-type"].startswith("text/html")


def test_a_session_is_listed_on_the_day_its_interview_started_not_the_day_of_its_invite(
    http: httpx.Client, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
    consent_version: str
) -> None:
    invited = invite()
    assert invited.invite_code is not None and invited.session_id is not None
    clock.advance(24 * 3600)  # invited on the 5th, interviewed on the 6th (Shanghai)
    sid = kiosk.engine.check_in(invited.invite_code, language="en").session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version)
    kiosk.interview.present(sid)
    clock.advance(30)
    kiosk.interview.start_answer(sid)
    hr_in(kiosk, http)
    assert sid not in http.get("/staff/?day=2026-01-05").text
    row = http.get("/staff/?lang=en").text.split(f'data-session="{sid}"')[1].split("</tr>")[0]
    assert "<td>16:00</td>" in row and "In progress" in row


def test_site_hr_sees_only_the_sessions_of_its_jobs(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    hr_in(kiosk, http, jobs=["another-job"])
    page = http.get("/staff/")
    assert page.status_code == 200 and reviewed.session_id not in page.text


# --- the report -----------------------------------------------------------------------------

def test_the_report_is_framed_as_analysis_renders_it_with_evidence_to_play(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    sid = reviewed.session_id
    hr_in(kiosk, http)
    page = http.get(f"/staff/sessions/{sid}?lang=en")
    assert page.status_code == 200
    assert f'<iframe class="report" src="/staff/sessions/{sid}/report-frame?lang=en"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    frame = http.get(f"/staff/sessions/{sid}/report-frame?lang=en")
    with kiosk.store.read() as db:
        body = results.body(db, sid, "report")
    assert body is not None
    report = Report.model_validate(body["report"])
    assert frame.text == render_html(report, "en", ZONE)
    assert "sandbox" in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    spoken = next(i for i in report.items if i.spec.id == Q1)
    starts = {f"{tag.start:.2f}" for w in spoken.word_evidence  # type: ignore[union-attr]
              for tag in w.tags if tag.kind != "filler"}
    assert starts
    for start in starts:
        assert f'data-player="player-{Q1}" data-start="{start}"' in page.text
    assert f'src="/staff/recordings/{reviewed.media[Q1]}"' in page.text
    assert 'data-start="100.00"' in page.text  # the demonstration's idle period
    assert "Idle 1:40–2:20" in page.text
    assert 'data-start="60.00"' in page.text and "Hands away 1:00–1:15" in page.text
    assert 'data-start="3.00"' in page.text and "Work begins 0:03" in page.text
    assert 'data-start="410.00"' in page.text and "Work ends 6:50" in page.text


def test_site_hr_of_another_job_gets_not_found_and_nothing_of_the_candidate(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    hr_in(kiosk, http, jobs=["another-job"])
    sid = reviewed.session_id
    for path in (f"/staff/sessions/{sid}", f"/staff/sessions/{sid}/report-frame",
                 f"/staff/recordings/{reviewed.media[Q1]}", "/staff/sessions/no-such-session",
                 "/staff/recordings/no-such-recording"):
        r = http.get(path)
        assert r.status_code == 404, path
        leaked = r.text.replace(path, "")  # the page names its own address, nothing more
        assert "cand-" not in leaked and sid not in leaked and "wav" not in leaked, leaked
    page = http.get("/staff/")
    post = http.post(f"/staff/sessions/{sid}/checklist/{DEMO}",
                     data={"csrf": csrf_of(page), "point": list(POINTS)})
    assert post.status_code == 404
    assert media_views(kiosk) == []


# --- the checklist ------------------------------------------------------------------------

def _score(http: httpx.Client, sid: str, ticked: tuple[str, ...], reason: str | None = None,
           csrf: str | None = None) -> httpx.Response:
    page = http.get(f"/staff/sessions/{sid}")
    fields: dict[str, object] = {"csrf": csrf if csrf is not None else csrf_of(page),
                                 "point": list(ticked)}
    if reason is not None:
        fields["reason"] = reason
    return http.post(f"/staff/sessions/{sid}/checklist/{DEMO}", data=fields)


def test_posts_without_the_logins_csrf_token_are_refused(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    sid = reviewed.session_id
    hr_in(kiosk, http)
    url = f"/staff/sessions/{sid}/checklist/{DEMO}"
    assert http.post(url, data={"point": list(POINTS)}).status_code == 403
    assert _score(http, sid, POINTS, csrf="wrong").status_code == 403
    assert http.post(url, json={"point": list(POINTS)}).status_code == 415
    other = httpx.Client(base_url=str(http.base_url))
    hr_in(kiosk, other)
    foreign = csrf_of(other.get("/staff/"))  # another login's token is no good either
    assert _score(http, sid, POINTS, csrf=foreign).status_code == 403
    other.close()
    assert http.post("/staff/logout", data={"csrf": "wrong"}).status_code == 403
    assert http.get("/staff/").status_code == 200  # still logged in
    assert audited(kiosk, "checklist.score") == []


def test_the_checklist_form_scores_and_a_change_needs_a_reason_kept_in_the_audit_log(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    sid = reviewed.session_id
    hr_in(kiosk, http)
    revision = report_revision(kiosk, sid)
    first = _score(http, sid, ("screws-torqued", "esd-strap-worn"))
    assert first.status_code == 303
    assert first.headers["location"] == f"/staff/sessions/{sid}?saved={DEMO}#checklist-{DEMO}"
    shown = http.get(first.headers["location"].split("#")[0] + "&lang=en")
    assert "Checklist saved; the report is updated." in shown.text
    assert 'value="screws-torqued" checked' in shown.text
    assert 'value="correct-orientation">' in shown.text
    stored = http.get(f"/staff/sessions/{sid}/report-frame").text
    assert stored != ""
    assert report_revision(kiosk, sid) == revision + 1
    with kiosk.store.read() as db:
        body = results.body(db, sid, "report")
    assert body is not None and body["report"]["scorecard"]["pending"] == []

    again = _score(http, sid, POINTS)
    assert again.status_code == 409
    assert "give a reason to change it" in again.text or "修改时请填写原因" in again.text
    blank = _score(http, sid, POINTS, reason="   ")
    assert blank.status_code == 409
    unknown = _score(http, sid, (*POINTS, "made-up-point"), reason="typo")
    assert unknown.status_code == 409 and "made-up-point" in unknown.text
    fixed = _score(http, sid, POINTS, reason="watched the recording again")
    assert fixed.status_code == 303
    entries = audited(kiosk, "checklist.score")
    assert [e["reason"] for e in entries] == [None, "watched the recording again"]
    assert entries[1]["details"]["points"] == {p: True for p in POINTS}
    assert entries[1]["actor_name"] == "hr-0"
    assert report_revision(kiosk, sid) == revision + 2


def test_the_api_and_the_page_share_the_rule_for_re_scoring(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    sid = reviewed.session_id
    hr_in(kiosk, http)
    assert _score(http, sid, POINTS).status_code == 303
    api = http.put(f"/api/v1/staff/sessions/{sid}/checklist/{DEMO}",
                   json={"points": {p: True for p in POINTS}},
                   headers=staff_headers(kiosk, "site_hr", [JOB], name="hr-api"))
    assert api.status_code == 409 and "give a reason" in api.text


# --- recordings -----------------------------------------------------------------------------

def test_a_recording_plays_decrypted_with_ranges_and_each_login_is_audited_once(
    http: httpx.Client, browser: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    url = f"/staff/recordings/{reviewed.media[Q1]}"
    plain = reviewed.plain[Q1]
    size = len(plain)
    hr_in(kiosk, http)
    whole = http.get(url)
    assert whole.status_code == 200 and whole.content == plain
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    part = http.get(url, headers={"Range": "bytes=5000-9999"})
    assert part.status_code == 206 and part.content == plain[5000:10000]
    assert part.headers["content-range"] == f"bytes 5000-9999/{size}"
    tail = http.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == plain[-100:]
    opened = http.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert opened.status_code == 206 and opened.content == plain[-10:]
    for beyond in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        refused = http.get(url, headers={"Range": beyond})
        assert refused.status_code == 416, beyond
        assert refused.headers["content-range"] == f"bytes */{size}" and refused.content == b""
    views = media_views(kiosk)
    assert len(views) == 1 and views[0]["subject"] == reviewed.session_id
    assert views[0]["details"]["media_id"] == reviewed.media[Q1]
    hr_in(kiosk, browser)
    assert browser.get(url, headers={"Range": "bytes=0-1"}).status_code == 206
    assert len(media_views(kiosk)) == 2


def test_a_player_asking_for_ranges_at_once_is_audited_once(
    http: httpx.Client, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    url = f"/staff/recordings/{reviewed.media[DEMO]}"
    hr_in(kiosk, http)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(
            lambda n: http.get(url, headers={"Range": f"bytes={n * 1000}-{n * 1000 + 99}"}),
            range(8)))
    assert [a.status_code for a in answers] == [206] * 8
    assert [a.content for a in answers] == [
        reviewed.plain[DEMO][n * 1000:n * 1000 + 100] for n in range(8)]
    assert len(media_views(kiosk)) == 1
