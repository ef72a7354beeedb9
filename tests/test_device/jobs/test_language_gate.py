"""Language coverage is a gate, not a surprise: a box analyses only the languages its speech
models serve, and says so at job import, roster import, check-in, on the touchscreen, in the
staff health view, in ``/metrics`` and on the terminal UI's dashboard.

The box here has Korean only: a model store with one speech model for ``ko``. Its files are
a stand-in for a vosk model's (named as such in :func:`stand_in_vosk`): nothing in these
tests loads a model, they only read the store's index, as the gate does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from document_helpers import assert_rejected, deliver, encode, signed
from language_fixtures import (  # noqa: F401 - config and models are fixtures
    ZH_ONLY,
    config,
    data,
    example,
    install_speech,
    models,
    zh_only,
)
from tui_fixtures import AppFactory, drive, screen_text, until

from conftest import ADMIN, JOB, InviteFn, make_config
from device.analysis.worker import MAX_ATTEMPTS
from device.clock import ManualClock
from device.composition import Kiosk, open_kiosk
from device.config import KioskConfig
from device.errors import PackageRejectedError
from device.jobs.installed import import_package, list_jobs
from device.jobs.package import example_package_path
from device.sessions.roster import Invite, Roster, import_roster
from device.staff.tokens import create
from kiosk.cli import main
from tui.app import KioskApp


def tables(kiosk: Kiosk) -> dict[str, list[dict[str, Any]]]:
    return {t: kiosk.store.all(f"SELECT * FROM {t} ORDER BY rowid")
            for t in ("jobs", "job_packages", "question_sets")}


def staff(kiosk: Kiosk, role: str = "admin") -> dict[str, str]:
    token = create(kiosk.store, f"{role}-gate-test", role, [], ADMIN.actor).token
    return {"Authorization": f"Bearer {token}"}


# -- job import ---------------------------------------------------------------------------

def test_a_package_offering_languages_the_box_cannot_analyse_is_imported_with_them_disabled(
        kiosk: Kiosk) -> None:
    outcome = import_package(kiosk.store, data(example()), "v2.json", ADMIN.actor,
                             kiosk.engine.languages)
    assert (outcome.status, outcome.version) == ("imported", 2)
    assert outcome.languages_disabled == ("zh-CN", "en")
    assert outcome.notice is not None
    for said in ("languages zh-CN, en disabled on this box", "installed speech languages: ko",
                 "candidates can choose ko", "`kiosk models install`",
                 "need not be imported again"):
        assert said in outcome.notice
    entry = kiosk.store.one("SELECT details FROM audit WHERE action = 'job.imported'"
                            " ORDER BY seq DESC LIMIT 1")
    assert entry is not None
    assert json.loads(entry["details"])["languages_disabled"] == ["zh-CN", "en"]
    [job] = list_jobs(kiosk.store, kiosk.engine.languages)
    assert job["languages"] == ["zh-CN", "en", "ko"]
    assert job["languages_disabled"] == ["zh-CN", "en"]


def test_a_package_offering_only_languages_the_box_cannot_analyse_is_refused_whole(
        kiosk: Kiosk) -> None:
    before = tables(kiosk)
    with pytest.raises(PackageRejectedError) as refused:
        import_package(kiosk.store, data(zh_only()), "zh.json", ADMIN.actor,
                       kiosk.engine.languages)
    message = str(refused.value)
    assert message.startswith(f"zh.json: job {ZH_ONLY} offers zh-CN, none of which this box"
                              " can analyse (installed speech languages: ko)")
    assert "`kiosk models install`" in message
    assert tables(kiosk) == before, "nothing of a refused package is stored"
    entry = kiosk.store.one("SELECT subject, reason FROM audit WHERE action ="
                            " 'job.package_rejected' ORDER BY seq DESC LIMIT 1")
    assert entry == {"subject": "zh.json", "reason": message}


def test_a_speech_model_installed_later_enables_its_language_without_reimporting(
        kiosk: Kiosk, models: Path, tmp_path: Path, invite: InviteFn) -> None:
    gate = kiosk.engine.languages
    assert list_jobs(kiosk.store, gate)[0]["languages_disabled"] == ["zh-CN", "en"]
    assert gate.languages() == ("ko",)
    install_speech(models, tmp_path, "zh")  # 'zh' serves zh-CN (same primary subtag)
    assert list_jobs(kiosk.store, gate)[0]["languages_disabled"] == ["en"]
    assert gate.languages() == ("zh-CN", "ko")
    code = invite(language="zh-CN").invite_code
    assert code and kiosk.engine.check_in(code).state == "checked_in"
    outcome = import_package(kiosk.store, data(zh_only()), "zh.json", ADMIN.actor, gate)
    assert (outcome.status, outcome.languages_disabled, outcome.notice) == (
        "imported", (), None)


def test_over_http_the_import_says_which_languages_are_disabled_or_why_it_is_refused(
        http: httpx.Client, kiosk: Kiosk) -> None:
    admin = staff(kiosk)
    body = http.post("/api/v1/staff/jobs", headers=admin, content=data(example())).json()
    assert body["status"] == "imported" and body["languages_disabled"] == ["zh-CN", "en"]
    assert "kiosk models install" in body["notice"]
    jobs = http.get("/api/v1/staff/jobs", headers=admin).json()
    assert [(j["id"], j["languages_disabled"]) for j in jobs] == [(JOB, ["zh-CN", "en"])]
    refused = http.post("/api/v1/staff/jobs", headers=admin, content=data(zh_only()))
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("/package-rejected")
    assert "none of which this box can analyse (installed speech languages: ko)" in \
        problem["detail"]


def test_a_package_from_central_is_applied_with_a_notice_or_rejected_to_central(
        kiosk: Kiosk) -> None:
    applied = deliver(kiosk, encode(signed("job_package", JOB, 2, example())))
    assert applied.status == "applied"
    assert applied.reason.startswith(f"job {JOB} version 2 is now active; languages zh-CN, en"
                                     " disabled on this box")
    refused = deliver(kiosk, encode(signed("job_package", ZH_ONLY, 1, zh_only())))
    assert_rejected(kiosk, refused, "none of which this box can analyse")
    assert kiosk.store.one("SELECT 1 AS x FROM jobs WHERE id = ?", (ZH_ONLY,)) is None


def test_without_analysis_or_before_any_model_is_installed_nothing_is_gated(
        tmp_path: Path, models: Path) -> None:
    off = open_kiosk(make_config(tmp_path / "off", KIOSK_ANALYSIS_ENABLED="false",
                                 KIOSK_ANALYSIS_MODELS_DIR=str(models)))
    unset = open_kiosk(make_config(tmp_path / "unset",
                                   KIOSK_ANALYSIS_MODELS_DIR=str(tmp_path / "empty")))
    try:
        found = import_package(off.store, data(zh_only()), "zh.json", ADMIN.actor,
                               off.engine.languages)
        assert (found.status, found.languages_disabled, found.notice) == ("imported", (), None)
        assert off.engine.languages.languages() == ("zh-CN", "en", "ko")
        found = import_package(unset.store, data(zh_only()), "zh.json", ADMIN.actor,
                               unset.engine.languages)
        assert found.status == "imported" and found.languages_disabled == ()
        assert found.notice is not None and found.notice.startswith(
            "no model is installed on this box yet")
        for box in (off, unset):
            roster = Roster(format="kiosk-roster/1", invites=[Invite(
                candidate_id="c-1", job_id=ZH_ONLY, language="zh-CN")])
            [invited] = import_roster(box.engine, roster, "test", ADMIN.actor)
            assert invited.warning is None and invited.invite_code
            assert box.engine.check_in(invited.invite_code).state == "checked_in"
    finally:
        off.close()
        unset.close()


def test_the_command_line_says_it_plainly(
        config: KioskConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("KIOSK_ANALYSIS_MODELS_DIR", str(config.models_dir))
    assert main(["jobs", "import", str(example_package_path())]) == 0
    out = capsys.readouterr().out
    assert f"imported job {JOB} version 1" in out
    assert re.search(r"warning: languages zh-CN, en disabled on this box.*kiosk models install",
                     out)
    assert main(["jobs", "list"]) == 0
    assert "(cannot analyse: zh-CN, en)" in capsys.readouterr().out
    package = tmp_path / "zh.json"
    package.write_bytes(data(zh_only()))
    assert main(["jobs", "import", str(package)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: {package}: job {ZH_ONLY} offers zh-CN, none of which")
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps({"format": "kiosk-roster/1", "invites": [
        {"candidate_id": "HR-7", "job_id": JOB, "language": "en"}]}))
    assert main(["roster", "import", str(roster)]) == 0
    out = capsys.readouterr().out
    assert "  warning: candidate HR-7: invited in en, which this box cannot analyse" in out


# -- roster and check-in ------------------------------------------------------------------

def test_an_invitation_in_a_language_the_box_cannot_analyse_warns_staff(
        kiosk: Kiosk, invite: InviteFn) -> None:
    warned = invite(candidate_id="c-zh", language="zh-CN")
    assert warned.status == "invited" and warned.warning is not None
    assert warned.warning.startswith("candidate c-zh: invited in zh-CN, which this box cannot"
                                     " analyse (installed speech languages: ko); at check-in"
                                     " the candidate chooses among ko")
    assert invite(candidate_id="c-ko", language="ko").warning is None
    assert invite(candidate_id="c-any").warning is None
    entry = kiosk.store.one("SELECT details FROM audit WHERE action = 'roster.imported'"
                            " ORDER BY seq LIMIT 1")
    assert entry is not None and json.loads(entry["details"])["language_warnings"] == ["c-zh"]


def test_check_in_never_starts_an_interview_the_box_cannot_analyse(
        http: httpx.Client, kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite(language="zh-CN").invite_code
    for chosen in ({"language": "en"}, {}):  # on screen; else the invitation's zh-CN
        r = http.post("/api/v1/checkin", json={"code": code, **chosen})
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["type"].endswith("/language-unavailable")
        assert problem["languages"] == ["ko"] and "choose ko" in problem["detail"]
    default = invite().invite_code  # no language: the job's default, zh-CN
    assert http.post("/api/v1/checkin", json={"code": default}).status_code == 409
    opened = http.post("/api/v1/checkin", json={"code": code, "language": "ko"})
    assert opened.status_code == 200, opened.text
    token = {"X-Session-Token": opened.json()["token"]}
    session = http.get("/api/v1/session", headers=token).json()
    assert (session["language"], session["languages"]) == ("ko", ["ko"])


def test_a_job_none_of_whose_languages_can_be_analysed_is_refused_at_check_in(
        kiosk: Kiosk, invite: InviteFn) -> None:
    # imported before the box was gated (e.g. on an older version, or before a model went)
    import_package(kiosk.store, data(zh_only()), "zh.json", ADMIN.actor)
    invited = invite(job_id=ZH_ONLY, language="zh-CN")
    assert invited.warning is not None and "so check-in will be refused" in invited.warning
    assert invited.invite_code
    from device.jobs.language_gate import LanguageUnavailableError

    with pytest.raises(LanguageUnavailableError, match="none of its languages") as refused:
        kiosk.engine.check_in(invited.invite_code, language="zh-CN")
    assert refused.value.available == []
    with pytest.raises(LanguageUnavailableError, match="this job offers zh-CN; the box can"
                       " analyse ko"):
        kiosk.engine.check_in(invited.invite_code, language="ko")  # not a language of the job
    state = kiosk.store.one("SELECT state FROM sessions WHERE id = ?", (invited.session_id,))
    assert state == {"state": "invited"}, "the invitation stays usable"


def test_the_touchscreen_offers_only_languages_the_box_can_analyse(
        http: httpx.Client, models: Path, tmp_path: Path) -> None:
    assert http.get("/api/v1/languages").json() == {"languages": ["ko"]}
    install_speech(models, tmp_path, "en")
    assert http.get("/api/v1/languages").json() == {"languages": ["en", "ko"]}


# -- failed analyses: health, metrics, dashboard ------------------------------------------

def fail_an_analysis(kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
                     consent_version: str) -> str:
    """Answer one question and let the worker give up on it: this box has a speech model but
    no vision models, so loading the models fails on every attempt (nothing is loaded)."""
    code = invite(language="ko").invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version)
    kiosk.interview.present(sid)
    kiosk.interview.start_answer(sid)
    clock.advance(20)
    kiosk.interview.finish_answer(sid)
    found = kiosk.store.one("SELECT id FROM answers WHERE session_id = ?", (sid,))
    assert found is not None
    kiosk.analysis.schedule(found["id"])
    kiosk.analysis.drain(timeout_s=60)
    row = kiosk.store.one("SELECT status, attempts FROM analyses WHERE answer_id = ?",
                          (found["id"],))
    assert row == {"status": "failed", "attempts": MAX_ATTEMPTS}
    return str(found["id"])


def test_failed_analyses_and_languages_show_in_health_and_metrics(
        http: httpx.Client, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
        consent_version: str) -> None:
    answer_id = fail_an_analysis(kiosk, clock, invite, consent_version)
    text = http.get("/metrics").text
    for line in ('kiosk_analyses{status="failed"} 1.0',
                 'kiosk_speech_languages{language="ko"} 1.0',
                 'kiosk_speech_languages{language="zh-CN"} 0.0',
                 'kiosk_speech_languages{language="en"} 0.0',
                 f'kiosk_job_languages_disabled{{job="{JOB}"}} 2.0'):
        assert line in text, line
    health = http.get("/api/v1/staff/health", headers=staff(kiosk, "technician")).json()
    analysis = health["analysis"]
    assert (analysis["enabled"], analysis["failed"], analysis["pending"]) == (True, 1, 0)
    last = analysis["last_failure"]
    assert last["answer_id"] == answer_id and last["job_id"] == JOB
    assert last["language"] == "ko" and last["at"]
    assert "model is installed" in last["error"]
    assert health["speech"] == {"gate": "on", "languages": ["ko"], "detail": None,
                                "jobs": [{"job_id": JOB, "languages_disabled": ["zh-CN", "en"]}]}


def test_the_dashboard_shows_failed_analyses_and_the_languages_it_cannot_analyse(
        make_app: AppFactory, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
        consent_version: str) -> None:
    fail_an_analysis(kiosk, clock, invite, consent_version)
    app = make_app("technician")

    async def script(pilot: Any) -> None:
        await until(pilot, lambda: getattr(pilot.app.screen, "loads", 0) > 0, what="a load")
        text = screen_text(pilot.app)
        assert re.search(r"Analysis\s+1 failed", text), text
        assert "no face detection model is" in text, "the last error's first words"
        assert re.search(r"Speech\s+ko  not zh-CN, en", text), text

    assert isinstance(app, KioskApp)
    drive(app, script, size=(100, 30))
