"""Local API helpers: staff bearer headers, a candidate's check-in and interview, problem+json
checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from conftest import LiveServer
from device.audit import SYSTEM
from device.clock import ManualClock
from device.composition import Kiosk
from device.staff import tokens

PROBLEM = "application/problem+json"


def staff_headers(kiosk: Kiosk, role: str = "admin", jobs: list[str] | None = None,
                  name: str | None = None) -> dict[str, str]:
    created = tokens.create(kiosk.store, name or f"{role}-token", role, jobs or [], SYSTEM)
    return {"Authorization": f"Bearer {created.token}"}


def check_in(http: httpx.Client, code: str) -> dict[str, str]:
    r = http.post("/api/v1/checkin", json={"code": code, "language": "ko"})
    assert r.status_code == 200, r.text
    return {"X-Session-Token": r.json()["token"]}


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and str(body["type"]).endswith("/" + code)
    assert body["code"] == code, "the stable code clients (the touchscreen) branch on"
    assert body["detail"]
    return body


def answer_to_the_end(http: httpx.Client, h: dict[str, str], consent_version: str,
                      advance: Callable[[float], object],
                      after_finish: Callable[[str], object] | None = None) -> str:
    """Consent and answer every item; the last answer is finished and ``next`` tapped right
    after it, as a candidate hurrying out does (``after_finish`` runs between the two, with
    the answer's id). Returns the last answer's id."""
    r = http.post("/api/v1/session/consent", headers=h,
                  json={"accept": True, "consent_version": consent_version})
    assert r.status_code == 200, r.text
    view = http.post("/api/v1/session/present", headers=h).json()
    last = ""
    while view["phase"] != "done":
        started = http.post("/api/v1/session/answer/start", headers=h)
        assert started.status_code == 200, started.text
        last = started.json()["answer_id"]
        advance(20)
        http.post("/api/v1/session/answer/finish", headers=h).raise_for_status()
        if after_finish is not None:
            after_finish(last)
        view = http.post("/api/v1/session/next", headers=h).json()
    return last


def hurried_session(k: Kiosk, code: str, consent_version: str, clock: ManualClock,
                    after_finish: Callable[[str], object] | None = None) -> tuple[str, str]:
    """A candidate answers every item through the API, tapping ``next`` right after the
    last ``finish``, before capture has registered that answer's files; returns (session,
    last answer). The session has ended."""
    with LiveServer(k) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        last = answer_to_the_end(http, check_in(http, code), consent_version, clock.advance,
                                 after_finish)
    answer = k.store.one("SELECT session_id FROM answers WHERE id = ?", (last,))
    assert answer is not None
    session = k.store.one("SELECT state FROM sessions WHERE id = ?", (answer["session_id"],))
    assert session == {"state": "completed"}
    return answer["session_id"], last
