"""A lost tab takes its interview up again on the same kiosk with the invite code, safely:
only an unfinished, running session, only from this kiosk's own screen (loopback), with a new
token that revokes the old one, audited. Everything else is refused as a wrong code."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import assert_problem, check_in
from fastapi.testclient import TestClient

from conftest import InviteFn, LiveServer
from device import audit
from device.composition import Kiosk


def checkin(http: httpx.Client | TestClient, code: str) -> Any:
    return http.post("/api/v1/checkin", json={"code": code, "language": "ko"})


def recoveries(kiosk: Kiosk, session_id: str) -> list[dict[str, object]]:
    with kiosk.store.read() as db:
        return audit.entries(db, subject=session_id, action="session.recovered")


def test_the_invite_code_takes_a_lost_tab_up_again_and_revokes_the_old_token(
        http: httpx.Client, kiosk: Kiosk, invite: InviteFn, consent_version: str) -> None:
    invited = invite()
    assert invited.invite_code and invited.session_id
    old = check_in(http, invited.invite_code)
    r = http.post("/api/v1/session/consent", headers=old,
                  json={"accept": True, "consent_version": consent_version})
    assert r.status_code == 200, r.text
    again = checkin(http, invited.invite_code)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "consented", "it goes on where it stood"
    new = {"X-Session-Token": again.json()["token"]}
    assert new != old
    assert_problem(http.get("/api/v1/session", headers=old), 401, "unauthenticated")
    assert http.get("/api/v1/session", headers=new).json()["state"] == "consented"
    found = recoveries(kiosk, invited.session_id)
    assert len(found) == 1 and found[0]["actor_role"] == "candidate"


def test_another_machine_cannot_take_a_session_over(
        live: LiveServer, http: httpx.Client, kiosk: Kiosk, invite: InviteFn) -> None:
    invited = invite()
    assert invited.invite_code and invited.session_id
    mine = check_in(http, invited.invite_code)
    # the same API reached from elsewhere on the network (not this kiosk's screen)
    app: Any = live.server.config.app
    with TestClient(app, client=("192.0.2.7", 50000)) as other:
        assert_problem(checkin(other, invited.invite_code), 404, "invalid-code")
    assert http.get("/api/v1/session", headers=mine).status_code == 200, "mine still works"
    assert not recoveries(kiosk, invited.session_id)


def test_a_finished_or_paused_session_and_a_wrong_code_are_refused(
        http: httpx.Client, kiosk: Kiosk, invite: InviteFn) -> None:
    declined = invite()
    paused = invite()
    assert declined.invite_code and paused.invite_code and paused.session_id
    h = check_in(http, declined.invite_code)
    r = http.post("/api/v1/session/consent", headers=h,
                  json={"accept": False, "consent_version": "x"})
    assert r.status_code == 200, r.text
    assert_problem(checkin(http, declined.invite_code), 404, "invalid-code")
    h = check_in(http, paused.invite_code)
    assert http.post("/api/v1/session/exit", headers=h).status_code == 200
    assert_problem(checkin(http, paused.invite_code), 404, "invalid-code")  # resume code
    wrong = paused.invite_code[:-1] + ("A" if paused.invite_code[-1] != "A" else "B")
    assert_problem(checkin(http, wrong), 404, "invalid-code")
    assert not recoveries(kiosk, paused.session_id)
