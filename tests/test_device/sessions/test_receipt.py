"""The candidate's receipt and the resume code's QR image."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
from api_helpers import assert_problem, check_in

from conftest import InviteFn
from device.clock import ManualClock
from device.composition import Kiosk


def finish_interview(http: httpx.Client, h: dict[str, str], version: str,
                     clock: ManualClock) -> None:
    r = http.post("/api/v1/session/consent", headers=h,
                  json={"accept": True, "consent_version": version})
    r.raise_for_status()
    view = http.post("/api/v1/session/present", headers=h).json()
    while view["phase"] != "done":
        http.post("/api/v1/session/answer/start", headers=h).raise_for_status()
        clock.advance(20)
        http.post("/api/v1/session/answer/finish", headers=h).raise_for_status()
        view = http.post("/api/v1/session/next", headers=h).json()


def test_the_receipt_lists_what_was_recorded_and_lasts_a_short_while(
    http: httpx.Client, invite: InviteFn, consent_version: str, clock: ManualClock,
    kiosk: Kiosk,
) -> None:
    h = check_in(http, invite().invite_code or "")
    early = http.get("/api/v1/session/receipt", headers=h).json()
    assert early["state"] == "checked_in" and early["items"] == []
    finish_interview(http, h, consent_version, clock)
    assert_problem(http.get("/api/v1/session", headers=h), 401, "unauthenticated")
    receipt = http.get("/api/v1/session/receipt", headers=h).json()
    assert receipt["state"] == "completed"
    total = len(kiosk.interview.items(kiosk.store.db, kiosk.engine.session(receipt["session_id"])))
    assert [i["position"] for i in receipt["items"]] == list(range(total))
    assert all(i["duration_s"] == 20.0 and i["title"]["ko"] for i in receipt["items"])
    assert receipt["retention_days"] > 0 and receipt["deletion_contact"]["en"]
    assert receipt["shared_with_central"]["zh-CN"] and receipt["expression_analysis"] is False
    clock.advance(16 * 60)
    assert_problem(http.get("/api/v1/session/receipt", headers=h), 401, "unauthenticated")
    assert_problem(http.get("/api/v1/session/receipt"), 401, "unauthenticated")


def test_exit_gives_the_resume_code_as_a_qr_image(
    http: httpx.Client, invite: InviteFn, consent_version: str,
) -> None:
    h = check_in(http, invite().invite_code or "")
    out = http.post("/api/v1/session/exit", headers=h).json()
    svg = ET.fromstring(out["resume_qr_svg"])
    assert svg.tag.endswith("svg") and int(svg.attrib["width"]) >= 21 * 8
    assert any(el.tag.endswith("path") for el in svg.iter())
    assert out["resume_code"] not in out["resume_qr_svg"], "the code is only in the image"
    paused = http.post("/api/v1/resume", json={"code": out["resume_code"]}).json()
    h2 = {"X-Session-Token": paused["token"]}
    assert http.get("/api/v1/session", headers=h2).json()["pause_reason"] is None
