"""Capture helpers: a session taken to its first recording, an answer's closed files, a tone
written as WAV, waiting on a condition."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from conftest import JOB
from device.audit import SYSTEM
from device.capture import files
from device.capture.base import Recorded
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


def closed_answer_files(k: Kiosk, session_id: str, answer_id: str) -> list[Recorded]:
    """An answer's audio and video (random bytes) as capture leaves them when it stops
    recording, before they are registered."""
    wav, mp4 = files.answer_paths(k.config.media_dir, session_id, answer_id)
    wav.write_bytes(os.urandom(4000))
    mp4.write_bytes(os.urandom(9000))
    return [Recorded(wav, "audio", 20.0, 320_000), Recorded(mp4, "video", 20.0, 300)]
