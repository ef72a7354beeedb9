"""The site's time zone on the local API: the reviewer's page shows local times, whoami tells
clients the zone, and what is stored stays in UTC."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_helpers import staff_headers
from scoring_fixtures import DEMO, QUESTIONS, rubric, session

from conftest import JOB, InviteFn, make_config
from device.composition import Kiosk
from device.config import KioskConfig
from device.sessions import results
from inference.report.build import build_report

GENERATED = "2026-03-05T08:20:00+00:00"


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data", KIOSK_SITE_TIME_ZONE="Asia/Shanghai")


def _reported_session(kiosk: Kiosk, invite: InviteFn) -> str:
    sid = invite().session_id
    assert sid is not None
    report = build_report(
        session_id=sid, candidate_id="C-7", language="en", consent_version="2026-01",
        expression_consent=False, generated_at=GENERATED,
        interviewed_at="2026-03-05T07:50:00+00:00", rubric=rubric(), questions=QUESTIONS,
        demonstrations=[DEMO], analyses=session())
    body = {"revision": 1, "scorecard": report.scorecard.model_dump(mode="json"),
            "report": report.model_dump(mode="json")}
    with kiosk.store.transaction() as db:
        results.put(db, sid, "report", body, kiosk.store.now())
    return sid


def test_the_report_page_shows_the_site_time_and_the_json_stays_utc(
    http: httpx.Client, kiosk: Kiosk, invite: InviteFn
) -> None:
    sid = _reported_session(kiosk, invite)
    hr = staff_headers(kiosk, "site_hr", [JOB])
    url = f"/api/v1/staff/sessions/{sid}"
    for lang in ("zh-CN", "en", "ko"):
        page = http.get(f"{url}/report.html?lang={lang}", headers=hr)
        assert page.status_code == 200, page.text
        assert "2026-03-05 16:20 (Asia/Shanghai)" in page.text
        assert "2026-03-05 15:50 (Asia/Shanghai)" in page.text
        assert "2026-03-05 08:20" not in page.text
    stored = http.get(f"{url}/report", headers=hr).json()["report"]
    assert stored["generated_at"] == "2026-03-05T08:20:00Z"


def test_whoami_tells_clients_the_site_time_zone(http: httpx.Client, kiosk: Kiosk) -> None:
    who = http.get("/api/v1/staff/whoami", headers=staff_headers(kiosk, "technician")).json()
    assert who["time_zone"] == "Asia/Shanghai" and who["role"] == "technician"
