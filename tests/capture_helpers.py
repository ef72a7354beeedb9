"""Capture helpers: a session taken to its first recording, a tone written as WAV, waiting
on a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from conftest import JOB
from device.audit import SYSTEM
from device.composition import Kiosk
from device.sessions.roster import Invite, Roster, import_roster


def begin(http: httpx.Client, k: Kiosk, candidate: str = "c-1") -> dict[str, str]:
    """Check in, consent and show the first question; returns the session headers."""
    roster = Roster(format="kiosk-roster/1", invites=[Invite(candidate_id=candidate, job_id=JOB)])
    code = import_roster(k.engine, roster, "test", SYSTEM)[0].invite_code
    opened = http.post("/api/v1/checkin", json={"code": code, "language": "en"}).json()
    headers = {"X-Session-Token": opened["token"]}
    version = http.get("/api/v1/session", headers=headers).json()["consent"]["version"]
    r = http.post("/api/v1/session/consent", headers=headers,
                  json={"accept": True, "consent_version": version})
    assert r.status_code == 200, r.text
    assert http.post("/api/v1/session/present", headers=headers).status_code == 200
    return headers


def wait_for(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
