"""The local API, over HTTP against a real uvicorn server on loopback."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import assert_problem, check_in, staff_headers

from conftest import JOB, InviteFn, LiveServer
from device.audit import SYSTEM
from device.clock import ManualClock
from device.composition import Kiosk
from device.staff import tokens
from device.storage import encrypted_db


def test_candidate_flow_over_http(
    http: httpx.Client, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    code = invite().invite_code
    assert code
    h = check_in(http, code)
    session = http.get("/api/v1/session", headers=h).json()
    assert session["state"] == "checked_in" and session["language"] == "ko"
    assert session["consent"]["version"] == consent_version
    assert "ko" in session["consent"]["text"]
    r = http.post("/api/v1/session/consent", headers=h,
                  json={"accept": True, "consent_version": consent_version,
                        "expression_analysis": True})
    assert r.json() == {"state": "consented"}
    item = http.post("/api/v1/session/present", headers=h).json()
    assert item["phase"] == "thinking" and item["item"]["kind"] == "question"
    http.post("/api/v1/session/answer/start", headers=h).raise_for_status()
    clock.advance(42)
    done = http.post("/api/v1/session/answer/finish", headers=h).json()
    assert done["phase"] == "finished"
    nxt = http.post("/api/v1/session/next", headers=h).json()
    assert nxt["position"] == 1
    out = http.post("/api/v1/session/exit", headers=h).json()
    assert out["state"] == "paused" and out["resume_window_h"] == 24
    assert_problem(http.get("/api/v1/session", headers=h), 401, "unauthenticated")
    again = http.post("/api/v1/resume", json={"code": out["resume_code"]}).json()
    assert again["state"] == "in_progress"


def test_unknown_code_expired_code_and_rate_limit(
    http: httpx.Client, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    assert_problem(http.post("/api/v1/checkin", json={"code": "NOPE2345"}), 404, "invalid-code")
    code = invite().invite_code
    assert code
    h = check_in(http, code)
    http.post("/api/v1/session/consent", headers=h,
              json={"accept": True, "consent_version": consent_version})
    resume = http.post("/api/v1/session/exit", headers=h).json()["resume_code"]
    clock.advance(25 * 3600)
    body = assert_problem(http.post("/api/v1/resume", json={"code": resume}), 410,
                          "code-expired")
    assert "expired" in str(body["detail"])
    for _ in range(5):
        http.post("/api/v1/checkin", json={"code": "WRONG234"})
    limited = http.post("/api/v1/checkin", json={"code": "WRONG234"})
    assert_problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) >= 1


def test_illegal_transition_is_409_with_state_and_allowed(
    http: httpx.Client, invite: InviteFn
) -> None:
    code = invite().invite_code
    assert code
    h = check_in(http, code)
    body = assert_problem(http.post("/api/v1/session/answer/start", headers=h), 409,
                          "illegal-transition")
    assert body["state"] == "checked_in"
    assert set(body["allowed"]) >= {"consent", "decline", "exit"}


def test_malformed_and_oversized_bodies(http: httpx.Client, live: LiveServer) -> None:
    r = http.post("/api/v1/checkin", content=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "invalid-request")
    r = http.post("/api/v1/checkin", json={"code": "ABCDEFGH", "extra": 1})
    assert_problem(r, 422, "invalid-request")
    big = b'{"code": "' + b"A" * (live.kiosk.config.api.max_body_bytes + 10) + b'"}'
    assert_problem(http.post("/api/v1/checkin", content=big,
                             headers={"Content-Type": "application/json"}), 413,
                   "body-too-large")

    def chunks() -> object:
        for _ in range(64):
            yield b"x" * 32768

    # no Content-Length: the limit is enforced while the body streams in
    r = http.post("/api/v1/checkin", content=chunks(),  # type: ignore[arg-type]
                  headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "body-too-large")


def test_staff_auth_roles_and_problem_details(
    http: httpx.Client, kiosk: Kiosk, invite: InviteFn
) -> None:
    assert_problem(http.get("/api/v1/staff/sessions"), 401, "unauthenticated")
    assert_problem(http.get("/api/v1/staff/sessions",
                            headers={"Authorization": "Bearer made-up"}), 401, "unauthenticated")
    tech = staff_headers(kiosk, "technician")
    sid = invite(display_name="Kim Minji").session_id
    r = http.post("/api/v1/staff/sessions/actions", headers=tech,
                  json={"action": "revoke", "session_ids": [sid], "reason": "test"})
    assert r.status_code == 200 and r.json()["failed"][0]["error"] == "forbidden"
    listed = http.get("/api/v1/staff/sessions", headers=tech).json()
    assert listed and "display_name" not in listed[0]  # technicians see no names
    assert_problem(http.post("/api/v1/staff/jobs", headers=tech, json={}), 403, "forbidden")
    hr = staff_headers(kiosk, "site_hr", [JOB])
    detail = http.get(f"/api/v1/staff/sessions/{sid}", headers=hr).json()
    assert detail["display_name"] == "Kim Minji"
    assert detail["actions"]["revoke"]["available"] is True
    assert detail["actions"]["pause"]["why_not"] == "not possible while the session is invited"
    assert "cannot continue" in detail["actions"]["terminate"]["consequence"]
    r = http.post("/api/v1/staff/sessions/actions", headers=hr,
                  json={"action": "revoke", "session_ids": [sid], "reason": "position filled"})
    assert r.json()["ok"] == [{"session_id": sid, "state": "revoked"}]
    assert_problem(http.post("/api/v1/staff/sessions/actions", headers=hr,
                             json={"action": "revoke", "session_ids": [sid], "reason": ""}),
                   422, "invalid-request")
    summary = http.get("/api/v1/staff/sessions-summary/reasons", headers=hr).json()
    assert {"action": "revoke", "reason": "position filled", "count": 1} in summary
    revoked = staff_headers(kiosk, "admin", name="leaver")
    tokens.revoke(kiosk.store, "leaver", SYSTEM)
    body = assert_problem(http.get("/api/v1/staff/whoami", headers=revoked), 401,
                          "unauthenticated")
    assert "revoked" in str(body["detail"])


def test_site_hr_sees_only_its_jobs(http: httpx.Client, kiosk: Kiosk, invite: InviteFn) -> None:
    sid = invite().session_id
    other = staff_headers(kiosk, "site_hr", ["warehouse-picker"])
    assert http.get("/api/v1/staff/sessions", headers=other).json() == []
    assert_problem(http.get(f"/api/v1/staff/sessions/{sid}", headers=other), 404, "not-found")


def test_job_import_roster_and_drill_over_http(http: httpx.Client, kiosk: Kiosk) -> None:
    from device.jobs.package import example_package_path

    admin = staff_headers(kiosk)
    r = http.post("/api/v1/staff/jobs", headers=admin,
                  content=example_package_path().read_bytes())
    body = r.json()
    assert body.pop("notice").startswith("no model is installed on this box yet")
    assert body == {"job_id": JOB, "version": 1, "status": "unchanged", "languages_disabled": []}
    bad = http.post("/api/v1/staff/jobs", headers=admin, content=b'{"format": "nope"}')
    assert_problem(bad, 422, "package-rejected")
    roster = {"format": "kiosk-roster/1", "invites": [{"candidate_id": "c-9", "job_id": JOB}]}
    invited = http.post("/api/v1/staff/roster", headers=admin, json=roster).json()
    assert invited[0]["status"] == "invited" and len(invited[0]["invite_code"]) == 8
    drill = http.post("/api/v1/staff/drills", headers=staff_headers(kiosk, "technician"),
                      json={"job_id": JOB}).json()
    sessions = http.get("/api/v1/staff/sessions?drill=true", headers=admin).json()
    assert [s["id"] for s in sessions] == [drill["session_id"]]


def test_audit_verify_and_outbox_over_http(
    http: httpx.Client, kiosk: Kiosk, invite: InviteFn
) -> None:
    code = invite().invite_code
    assert code
    check_in(http, code)
    admin = staff_headers(kiosk)
    assert http.get("/api/v1/staff/audit/verify", headers=admin).json()["ok"] is True
    entries = http.get("/api/v1/staff/audit?action=session.check_in", headers=admin).json()
    assert len(entries) == 1 and entries[0]["actor_role"] == "candidate"
    assert http.get("/api/v1/staff/outbox", headers=admin).json() == {
        "pending": {"session.state": 1}}


def test_healthz_metrics_and_docs(http: httpx.Client, invite: InviteFn) -> None:
    invite()
    assert http.get("/healthz").json()["status"] == "ok"
    http.post("/api/v1/checkin", json={"code": "NOPE2345"})
    text = http.get("/metrics").text
    assert 'kiosk_sessions{state="invited"} 1.0' in text
    assert 'kiosk_api_errors_total{code="invalid-code"} 1.0' in text
    assert "kiosk_audit_entries" in text
    assert 'kiosk_analyses{status="pending"} 0.0' in text
    health = http.get("/healthz").json()
    assert health["analysis"] == {"enabled": True, "running": False, "pending": 0,
                                  "last_error": None}
    assert http.get("/docs").status_code == 200
    assert http.get("/openapi.json").json()["info"]["title"] == "Interview kiosk local API"


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/staff/sessions/x/y/z"])
def test_unknown_paths_are_problem_json(http: httpx.Client, path: str) -> None:
    assert_problem(http.get(path), 404, "not-found")


def test_locked_database_is_503_and_nothing_half_done(kiosk: Kiosk, invite: InviteFn) -> None:
    from conftest import make_config
    from device.composition import open_kiosk

    code = invite().invite_code
    assert code
    # a second kiosk process on the same files, with a short busy timeout
    config = make_config(kiosk.config.data_dir, KIOSK_STORE_BUSY_TIMEOUT_MS="200")
    second = open_kiosk(config)
    holder = encrypted_db.connect(config.db_path)
    try:
        with LiveServer(second) as server, httpx.Client(base_url=server.url) as http:
            holder.execute("BEGIN EXCLUSIVE")
            body = assert_problem(http.post("/api/v1/checkin", json={"code": code}), 503,
                                  "database-locked")
            assert "locked by another process" in str(body["detail"])
            holder.execute("ROLLBACK")
            assert http.post("/api/v1/checkin", json={"code": code}).status_code == 200
    finally:
        holder.close()
        second.close()
