"""Who may see and do what on central HR's console: every role against every route,
the general manager never given personal data, CSRF, passwords, disabled users, the
login rate limit, and the audit chain (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_fixtures import (
    JOB,
    OTHER_JOB,
    PASSWORD,
    PERSONAL,
    console_client,
    csrf_of,
    seed,
)

from central.console import audit, auth, users
from central.console.auth import LoginLimiter
from central.store import ReceiverStore

S1 = "/candidates/kiosk-sz2-01/s-1"
S3 = "/candidates/kiosk-wx-01/s-3"
#: Every GET route, and who gets it (everyone else: 403).
ROUTES: dict[str, set[str]] = {
    "/jobs": {"hr", "hm"},
    f"/jobs/{JOB}": {"hr", "hm"},
    f"/jobs/{JOB}/compare": {"hr", "hm"},
    f"/jobs/{JOB}/export.csv": {"hr", "hm"},
    S1: {"hr", "hm"},
    f"{S1}/report": {"hr", "hm"},
    f"/jobs/{OTHER_JOB}": set(),  # nobody here holds the forklift job
    f"/jobs/{OTHER_JOB}/export.csv": set(),
    S3: set(),
    f"{S3}/report": set(),
    "/stats": {"gm", "admin"},
    "/fleet": {"admin"},
    "/audit": {"admin"},
    "/users": {"admin"},
    "/api/jobs": {"hr", "hm"},
    f"/api/jobs/{JOB}/candidates": {"hr", "hm"},
    "/api/candidates/kiosk-sz2-01/s-1": {"hr", "hm"},
    f"/api/jobs/{OTHER_JOB}/candidates": set(),
    "/api/candidates/kiosk-wx-01/s-3": set(),
    "/api/stats": {"gm", "admin"},
    "/api/fleet": {"admin"},
}
WHO = ("hr", "hm", "gm", "admin")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReceiverStore]:
    url = f"sqlite://{tmp_path / 'central.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    s = ReceiverStore(url)
    seed(s)
    yield s
    s.close()


def test_every_role_against_every_route(store: ReceiverStore) -> None:
    for who in WHO:
        client = console_client(store, who)
        for route, allowed in ROUTES.items():
            got = client.get(route)
            want = 200 if who in allowed else 403
            assert got.status_code == want, (who, route, got.status_code, got.text[:200])


def test_signed_out_is_sent_to_login_and_api_gets_401(store: ReceiverStore) -> None:
    client = console_client(store)
    for route in ROUTES:
        got = client.get(route)
        if route.startswith("/api/"):
            assert got.status_code == 401
        else:
            assert got.status_code == 303 and got.headers["location"] == "/login"


def test_a_general_manager_never_receives_personal_data(store: ReceiverStore) -> None:
    gm = console_client(store, "gm")
    bodies = [gm.get(r).text for r in ROUTES] + [gm.get("/").text,
                                                  gm.get("/stats?lang=en").text,
                                                  gm.get("/api/stats").text]
    stats = gm.get("/api/stats").json()
    assert {s["job_id"] for s in stats} == {JOB, OTHER_JOB}
    for body in bodies:
        for secret in PERSONAL:
            assert secret not in body
        assert "s-1" not in body and "kiosk-sz2-01/s-" not in body


def test_only_a_hiring_manager_of_the_job_records_a_decision(store: ReceiverStore) -> None:
    for who in ("hr", "gm", "admin"):
        client = console_client(store, who)
        csrf = csrf_of(client.get("/jobs" if who == "hr" else "/stats").text)
        got = client.post(f"{S1}/decision", data={"decision": "advance", "reason": "good",
                                                  "csrf": csrf})
        assert got.status_code == 403, who
    hm = console_client(store, "hm")
    csrf = csrf_of(hm.get(S1).text)
    assert hm.post(f"{S3}/decision", data={"decision": "advance", "reason": "x",
                                           "csrf": csrf}).status_code == 403
    assert store.all("SELECT * FROM console_decisions") == []


def test_a_form_without_its_csrf_token_is_refused(store: ReceiverStore) -> None:
    hm = console_client(store, "hm")
    real = csrf_of(hm.get(S1).text)
    for token in (None, "", "forged-" + real):
        data = {"decision": "hold", "reason": "wait for the second site"}
        if token is not None:
            data["csrf"] = token
        assert hm.post(f"{S1}/decision", data=data).status_code == 403
    assert store.all("SELECT * FROM console_decisions") == []
    # logging out needs it too, and so does logging in (a cookie-bound token)
    assert hm.post("/logout", data={"csrf": "nope"}).status_code == 403
    fresh = console_client(store)
    fresh.get("/login")
    got = fresh.post("/login", data={"username": "hm", "password": PASSWORD, "csrf": "x"})
    assert got.status_code == 403 and auth.COOKIE not in got.cookies


def test_session_cookie_is_httponly_strict_and_secure_over_tls(store: ReceiverStore) -> None:
    from fastapi.testclient import TestClient

    from central.console import create_app

    for secure in (False, True):
        client = TestClient(create_app(store, secure=secure), base_url="https://console",
                            follow_redirects=False)
        token = csrf_of(client.get("/login").text)
        got = client.post("/login", data={"username": "hr", "password": PASSWORD,
                                          "csrf": token})
        cookie = next(c for c in got.headers.get_list("set-cookie")
                      if c.startswith(auth.COOKIE + "="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert ("Secure" in cookie) is secure


def test_wrong_password_and_disabled_user_are_refused(store: ReceiverStore) -> None:
    for username, password in (("hr", "wrong password!!"), ("nobody", PASSWORD),
                               ("gone", PASSWORD)):
        client = console_client(store)
        got = client.post("/login", data={"username": username, "password": password,
                                          "csrf": csrf_of(client.get("/login").text)})
        assert got.status_code == 401 and auth.COOKIE not in got.cookies
    assert users.authenticate(store, "gone", PASSWORD) is None


def test_disabling_a_user_ends_their_session(store: ReceiverStore) -> None:
    hr = console_client(store, "hr")
    assert hr.get("/jobs").status_code == 200
    users.disable(store, "hr")
    assert hr.get("/jobs").status_code == 303
    # a user disabled behind the console's back (their session row left) gets nothing either
    hm = console_client(store, "hm")
    with store.transaction() as conn:
        conn.execute("UPDATE console_users SET disabled = 1 WHERE username = 'hm'")
    assert hm.get("/jobs").status_code == 303


def test_logins_are_rate_limited_per_user(store: ReceiverStore) -> None:
    now = [0.0]
    from fastapi.testclient import TestClient

    from central.console import create_app

    client = TestClient(create_app(store, limiter=LoginLimiter(per_user=3, window_s=60,
                                                               clock=lambda: now[0])),
                        follow_redirects=False)

    def attempt(password: str) -> int:
        token = csrf_of(client.get("/login").text)
        return client.post("/login", data={"username": "hm", "password": password,
                                           "csrf": token}).status_code

    assert [attempt("wrong one here") for _ in range(3)] == [401, 401, 401]
    assert attempt(PASSWORD) == 429  # the right password, but not checked now
    now[0] = 61.0
    assert attempt(PASSWORD) == 303


def test_views_and_decisions_are_audited_and_the_chain_detects_tampering(
        store: ReceiverStore) -> None:
    hm = console_client(store, "hm")
    csrf = csrf_of(hm.get(S1).text)
    hm.get(f"{S1}/report")
    hm.get(f"/jobs/{JOB}/export.csv")
    got = hm.post(f"{S1}/decision", data={"decision": "advance", "reason": "strong on the line",
                                          "csrf": csrf})
    assert got.status_code == 303
    entries = store.all("SELECT seq, username, role, action, subject, reason FROM console_audit"
                        " ORDER BY seq")
    assert [e["action"] for e in entries] == [
        "candidate.viewed", "report.viewed", "job.exported", "decision.recorded"]
    assert all(e["username"] == "hm" and e["role"] == "hiring_manager" for e in entries)
    assert entries[-1]["reason"] == "strong on the line"
    assert audit.verify(store).ok and audit.verify(store).entries == 4
    with store.transaction() as conn:
        conn.execute("UPDATE console_audit SET reason = 'weak' WHERE seq = 4")
    check = audit.verify(store)
    assert not check.ok and check.problem == "entry 4 was altered after it was written"
    with store.transaction() as conn:
        conn.execute("UPDATE console_audit SET reason = 'strong on the line' WHERE seq = 4")
    assert audit.verify(store).ok
    with store.transaction() as conn:  # a cut-off tail: the head still names entry 4
        conn.execute("DELETE FROM console_audit WHERE seq = 4")
    assert audit.verify(store).problem == "the log ends at entry 3 but its head is entry 4"
    with store.transaction() as conn:
        conn.execute("DELETE FROM console_audit WHERE seq = 2")
    assert audit.verify(store).problem == "entry 2 is missing (next is 3)"


def test_the_console_and_device_ingest_are_apart(store: ReceiverStore, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from central import Receiver

    assert console_client(store, "admin").post("/v1/messages", json={}).status_code in (
        404, 405)
    receiver = Receiver(tmp_path / "central", database=f"sqlite://{tmp_path / 'other.db'}")
    try:
        ingest = TestClient(receiver.app)
        assert ingest.get("/login").status_code == 404
        assert ingest.get("/api/stats").status_code == 404
    finally:
        receiver.close()


def test_signing_out_ends_the_session_on_central(store: ReceiverStore) -> None:
    hr = console_client(store, "hr")
    token = hr.cookies.get(auth.COOKIE)
    got = hr.post("/logout", data={"csrf": csrf_of(hr.get("/jobs").text)})
    assert got.status_code == 303 and got.headers["location"] == "/login"
    assert auth.current(store, token) is None
    hr.cookies.set(auth.COOKIE, str(token))  # a copy of the old cookie is worth nothing
    assert hr.get("/jobs").status_code == 303
