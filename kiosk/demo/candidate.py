"""The scripted candidate, at the touchscreen's API, and the staff member beside the kiosk.

Everything goes through the kiosk's local API over HTTP, as the touchscreen and the
technician's terminal do: check in with the invite code central sent in the roster, agree
to be recorded (and, separately, to expression analysis), wait for the camera and the
microphone, answer each spoken question out loud (the answer is played into the microphone
while the camera replays the person), be paused and resumed by staff between the two
questions, perform the skill demonstration, and finish. Staff then tick the
demonstration's checklist, which completes the scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from device.errors import KioskError
from kiosk.demo.answers import answer_text, speak
from kiosk.demo.summary import short
from kiosk.rigs.pulse_rig import PulseRig

Say = Callable[[str], None]
#: The audio a recording keeps after the candidate stops speaking (seconds).
TAIL_S = 0.8
WAIT_S = 30.0


@dataclass
class Script:
    """How long the candidate takes; the --ci script is shorter."""

    short: bool
    demonstration_s: float
    paused_s: float


FULL = Script(short=False, demonstration_s=15.0, paused_s=3.0)
SHORT = Script(short=True, demonstration_s=5.0, paused_s=1.0)


@dataclass
class Candidate:
    url: str
    staff_token: str
    rig: PulseRig
    language: str
    work: Path
    script: Script
    say: Say
    steps: list[dict[str, Any]] = field(default_factory=list)
    _token: str = ""
    _started: float = 0.0

    # -- http ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, staff: bool = False,
              json: dict[str, Any] | None = None) -> Any:
        headers = ({"Authorization": f"Bearer {self.staff_token}"} if staff
                   else {"X-Session-Token": self._token} if self._token else {})
        with httpx.Client(base_url=self.url, timeout=60) as client:
            response = client.request(method, path, headers=headers, json=json)
        if response.status_code >= 400:
            raise KioskError(f"the kiosk refused {method} {path} ({response.status_code}):"
                             f" {response.text[:300]}")
        return response.json()

    def staff_get(self, path: str) -> str:
        """A staff page as text (the report for HR)."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            response = client.get(path, headers={"Authorization": f"Bearer {self.staff_token}"})
        if response.status_code >= 400:
            raise KioskError(f"the kiosk refused GET {path} ({response.status_code}):"
                             f" {response.text[:300]}")
        return response.text

    def _step(self, what: str, **detail: Any) -> None:
        t = round(time.monotonic() - self._started, 1)
        self.steps.append({"t_s": t, "step": what, **detail})
        extra = ", ".join(f"{k}={short(str(v), 60)}" for k, v in detail.items())
        self.say(f"  {t:6.1f} s  {what}" + (f" ({extra})" if extra else ""))

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not ready():
            if time.monotonic() > deadline:
                raise KioskError(f"the kiosk did not get {what} within {WAIT_S:g} s")
            time.sleep(0.1)

    # -- the interview ------------------------------------------------------------------

    def interview(self, invite_code: str) -> str:
        """The whole interview; returns the session id."""
        self._started = time.monotonic()
        opened = self._call("POST", "/api/v1/checkin",
                            json={"code": invite_code, "language": self.language})
        self._token = opened["token"]
        session_id: str = opened["session_id"]
        self._step("checked in with the invite code", session=session_id,
                   language=self.language)
        consent = self._call("GET", "/api/v1/session")["consent"]
        self._call("POST", "/api/v1/session/consent",
                   json={"accept": True, "consent_version": consent["version"],
                         "expression_analysis": True})
        self._step("consented to recording and, separately, to expression analysis",
                   consent_version=consent["version"])
        self._wait("its camera and microphone ready",
                   lambda: bool(self._call("GET", "/api/v1/capture/status")["ready"]))
        self._step("camera and microphone check passed")
        questions = 0
        while True:
            view = self._call("POST", "/api/v1/session/present")
            if view["phase"] == "done" or view["item"] is None:
                break
            item = view["item"]
            if item["kind"] == "question":
                self._answer(item)
                questions += 1
                if questions == 1:
                    self._pause_and_resume(session_id)
            else:
                self._demonstrate(item)
            after = self._call("POST", "/api/v1/session/next")
            if after["state"] == "completed":
                break
        self._step("interview completed")
        return session_id

    def _answer(self, item: dict[str, Any]) -> None:
        text = answer_text(item["id"], self.language, self.script.short)
        wav = speak(text, self.language, self.work / f"{item['id']}.wav")
        self._call("POST", "/api/v1/session/answer/start")
        self._wait("the recording started",
                   lambda: bool(self._call("GET", "/api/v1/capture/status")["recording"]))
        self.rig.play_and_wait(wav)
        time.sleep(TAIL_S)
        view = self._call("POST", "/api/v1/session/answer/finish")
        self._step(f"answered '{item['id']}' out loud", said=text)
        follow_up = self._follow_up(view)
        if follow_up is not None:
            self._step("the box chose a follow-up from the live transcript",
                       element=follow_up.get("element"), prompt=follow_up.get("prompt"))

    def _follow_up(self, view: dict[str, Any]) -> dict[str, Any] | None:
        """The follow-up, decided moments after the answer from its live transcript."""
        deadline = time.monotonic() + 5
        while view.get("follow_up") is None and time.monotonic() < deadline:
            time.sleep(0.2)
            view = self._call("GET", "/api/v1/session")["current"]
        found: dict[str, Any] | None = view.get("follow_up")
        return found

    def _pause_and_resume(self, session_id: str) -> None:
        for action, reason in (("pause", "demo: the technician checks the camera mount"),
                               ("resume", "demo: camera checked")):
            self._call("POST", "/api/v1/staff/sessions/actions", staff=True,
                       json={"action": action, "session_ids": [session_id], "reason": reason})
            state = self._call("GET", "/api/v1/session")
            self._step(f"staff {action}d the session", state=state["state"],
                       reason=reason)
            if action == "pause":
                time.sleep(self.script.paused_s)

    def _demonstrate(self, item: dict[str, Any]) -> None:
        self._call("POST", "/api/v1/session/answer/start")
        self._wait("the recording started",
                   lambda: bool(self._call("GET", "/api/v1/capture/status")["recording"]))
        time.sleep(self.script.demonstration_s)
        self._call("POST", "/api/v1/session/answer/finish")
        self._step(f"performed the demonstration '{item['id']}' on camera",
                   seconds=self.script.demonstration_s)

    def score_checklist(self, session_id: str, item_id: str, points: dict[str, bool]) -> None:
        """Staff tick the demonstration's checklist (what the camera cannot judge)."""
        self._call("PUT", f"/api/v1/staff/sessions/{session_id}/checklist/{item_id}",
                   staff=True, json={"points": points})
        passed = sum(points.values())
        self._step("staff scored the demonstration's checklist",
                   passed=f"{passed}/{len(points)}")
