"""Analysis wired into the session: per answer while the interview goes on, scored at the end."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from conftest import InviteFn, LiveServer
from device.analysis.rubric import scoring_inputs
from device.clock import ManualClock
from device.composition import Kiosk
from device.jobs.models import DemonstrationTask
from device.jobs.package import example_package_path, load_package
from device.sessions.recordings import attach
from device.staff.policy import Staff
from device.staff.tokens import create as create_token
from inference.errors import ModelVerificationError
from inference.findings import Transcript, Word
from inference.models.store import ModelFiles
from inference.pipeline import Analyzer, Settings
from inference.scoring.models import TimeBandSpec
from inference.speech.audio import read_wav
from kiosk.rigs.samples import ModelPaths
from kiosk.rigs.speech_samples import Clip

SITE_HR = Staff("hr-1", "site_hr", frozenset({"assembly-line-operator"}))


@pytest.fixture(scope="module")
def analyzer(model_files: ModelPaths) -> Analyzer:
    return Analyzer(ModelFiles.open(model_files.store), Settings(tflite_threads=1))


def _last_answer(kiosk: Kiosk, sid: str) -> str:
    found = kiosk.store.one("SELECT id FROM answers WHERE session_id = ? AND state = 'finished'"
                           " ORDER BY position DESC, attempt DESC LIMIT 1", (sid,))
    assert found is not None
    return str(found["id"])


def _interview(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
               clips: dict[str, Path], *, expression: bool, record: bool = True,
               schedule: bool = True) -> str:
    """Check in, consent, and answer every item, attaching a real recording to each."""
    invited = invite()
    assert invited.invite_code is not None
    sid = kiosk.engine.check_in(invited.invite_code, language="ko").session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version,
                         expression_analysis=expression)
    flow = kiosk.interview
    clips_in_order = [clips["HAP"], clips["NEU"], clips["ANG"]]
    for n in range(10):
        view = flow.present(sid)
        if view.item is None:
            break
        clock.advance(5)
        flow.start_answer(sid)
        clock.advance(40)
        flow.finish_answer(sid)
        if record:
            answer_id = _last_answer(kiosk, sid)
            with kiosk.store.transaction() as db:
                attach(db, answer_id, "video", clips_in_order[n % 3], kiosk.store.now())
            if schedule:
                kiosk.analysis.schedule(answer_id)
        if flow.advance(sid).state == "completed":
            break
    return sid


def _report(kiosk: Kiosk, sid: str) -> dict[str, Any] | None:
    found = kiosk.store.one("SELECT body FROM results WHERE session_id = ? AND kind = 'report'",
                            (sid,))
    return None if found is None else dict(json.loads(found["body"]))


def test_answers_are_analysed_and_the_report_queued_with_the_last_analysis(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], analyzer: Analyzer,
) -> None:
    kiosk.analysis.use(analyzer)
    sid = _interview(kiosk, clock, invite, consent_version, crema_clips, expression=True)
    assert kiosk.engine.session(sid).state == "completed"
    assert _report(kiosk, sid) is None, "answers still being analysed: no report yet"
    assert kiosk.analysis.drain() == 3
    statuses = kiosk.store.all("SELECT status, error, cpu_s FROM analyses WHERE session_id = ?",
                               (sid,))
    assert [s["status"] for s in statuses] == ["done"] * 3, statuses
    assert all(s["cpu_s"] > 0 for s in statuses)
    body = _report(kiosk, sid)
    assert body is not None and body["revision"] == 1
    report = body["report"]
    card = body["scorecard"]
    assert card["rubric_version"] == "2026.1" and card["job_id"] == "assembly-line-operator"
    assert {m["name"] for m in card["models"]} >= {"whisper-base", "blazeface-short-range"}
    spoken = [i for i in report["items"] if i["kind"] == "question"]
    assert len(spoken) == 2
    for item in spoken:
        analysis = item["analysis"]
        transcript = analysis["transcript"]
        assert 1.5 < transcript["duration_s"] < 4.0
        assert all(0 <= w["start"] <= w["end"] <= transcript["duration_s"] + 0.05
                   for w in transcript["words"])
        vision = analysis["vision"]
        assert vision["face_present_ratio"] == 1.0 and vision["max_faces"] == 1
        assert vision["expression_run"] is True
    happy = spoken[0]["analysis"]["vision"]["expression_distribution"]
    assert max(happy, key=happy.get) == "happy"
    # the demonstration awaits staff: its checklist competencies are not scored yet
    assert card["complete"] is False and "operation_proficiency" in card["pending"]
    kinds = [m["kind"] for m in kiosk.store.all(
        "SELECT kind FROM outbox WHERE session_id = ? ORDER BY seq", (sid,))]
    assert kinds.count("session.report") == 1 and kinds.index("session.result") < kinds.index(
        "session.report")
    usage = kiosk.store.one("SELECT analysis_cpu_s, media_bytes FROM usage WHERE session_id = ?",
                            (sid,))
    assert usage is not None and usage["analysis_cpu_s"] > 0 and usage["media_bytes"] > 0


def test_declined_expression_consent_means_no_expression_analysis(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], model_files: ModelPaths,
) -> None:
    fresh = Analyzer(ModelFiles.open(model_files.store), Settings(tflite_threads=1))
    kiosk.analysis.use(fresh)
    sid = _interview(kiosk, clock, invite, consent_version, crema_clips, expression=False)
    kiosk.analysis.drain()
    body = _report(kiosk, sid)
    assert body is not None
    assert body["scorecard"]["expression"] == "declined"
    for item in body["report"]["items"]:
        vision = item["analysis"]["vision"]
        assert vision["expression_run"] is False and vision["expression_distribution"] is None
    assert list(fresh._faces) == [False], "the expression model was never loaded"


def test_a_crash_mid_analysis_resumes_from_the_recorded_files(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], analyzer: Analyzer,
) -> None:
    sid = _interview(kiosk, clock, invite, consent_version, crema_clips, expression=False)
    # the process died while analysing the first answer
    with kiosk.store.transaction() as db:
        db.execute("UPDATE analyses SET status = 'running', attempts = 1 WHERE answer_id ="
                   " (SELECT answer_id FROM analyses WHERE session_id = ? LIMIT 1)", (sid,))
    kiosk.analysis.use(analyzer)
    assert kiosk.analysis.run_once() is True  # the others were still pending
    assert _report(kiosk, sid) is None  # one answer is stuck 'running' in a dead process
    kiosk.analysis.start()  # restart: 'running' rows go back to pending
    try:
        until = time.monotonic() + 120
        while _report(kiosk, sid) is None and time.monotonic() < until:
            time.sleep(0.2)
    finally:
        kiosk.analysis.stop()
    done = kiosk.store.all("SELECT status FROM analyses WHERE session_id = ?", (sid,))
    assert [d["status"] for d in done] == ["done"] * 3
    assert _report(kiosk, sid) is not None


def test_a_model_that_fails_verification_is_never_loaded_and_the_answer_is_reported(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], model_files: ModelPaths, tmp_path: Path,
) -> None:
    from device.composition import load_analyzer

    models = kiosk.config.models_dir
    shutil.copytree(model_files.store.root, models, ignore=shutil.ignore_patterns(".*"))
    target = models / "face-landmark" / "face_landmark.tflite"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelVerificationError, match=r"face_landmark\.tflite has changed"):
        load_analyzer(kiosk.config)
    sid = _interview(kiosk, clock, invite, consent_version, crema_clips, expression=False)
    kiosk.analysis.drain()
    rows = kiosk.store.all("SELECT status, attempts, error FROM analyses WHERE session_id = ?",
                           (sid,))
    assert all(r["status"] == "failed" and r["attempts"] == 3 for r in rows)
    assert "face_landmark.tflite" in rows[0]["error"]
    assert "face_landmark.tflite" in (kiosk.analysis.last_error or "")
    body = _report(kiosk, sid)
    assert body is not None, "the session is still reported, with its items not analysed"
    items = body["scorecard"]["items"]
    assert all(i["recorded"] and "face_landmark.tflite" in i["not_analysed"] for i in items)


def test_staff_score_the_checklist_and_the_report_is_revised(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], analyzer: Analyzer,
) -> None:
    kiosk.analysis.use(analyzer)
    sid = _interview(kiosk, clock, invite, consent_version, crema_clips, expression=False)
    kiosk.analysis.drain()
    hr = create_token(kiosk.store, "hr-1", "site_hr", ["assembly-line-operator"],
                      SITE_HR.actor).token
    tech = create_token(kiosk.store, "tech-1", "technician", [], SITE_HR.actor).token
    with LiveServer(kiosk) as server, httpx.Client(base_url=server.url) as client:
        url = f"/api/v1/staff/sessions/{sid}"
        item = "fan-motor-bracket-assembly"
        points = {"screws-torqued": True, "correct-orientation": True,
                  "no-leftover-parts": False, "esd-strap-worn": True, "workstation-clean": True}
        headers = {"Authorization": f"Bearer {hr}"}
        refused = client.put(f"{url}/checklist/{item}", json={"points": points},
                                    headers={"Authorization": f"Bearer {tech}"})
        assert refused.status_code == 403
        partial = client.put(f"{url}/checklist/{item}",
                                    json={"points": {"screws-torqued": True}}, headers=headers)
        assert partial.status_code == 409 and "missing points" in partial.text
        ok = client.put(f"{url}/checklist/{item}", json={"points": points},
                               headers=headers)
        assert ok.status_code == 200 and ok.json()["rescored"] is True
        again = client.put(f"{url}/checklist/{item}", json={"points": points},
                                  headers=headers)
        assert again.status_code == 409 and "give a reason" in again.text
        report = client.get(f"{url}/report", headers=headers).json()
        assert report["revision"] == 2
        card = report["report"]["scorecard"]
        assert card["complete"] is True and card["pending"] == []
        html = client.get(f"{url}/report.html?lang=zh-CN", headers=headers)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in html.text and "<svg" in html.text
        status = client.get(f"{url}/analysis", headers=headers).json()
        assert {s["status"] for s in status} == {"done"}
    messages = kiosk.store.all("SELECT payload FROM outbox WHERE session_id = ? AND"
                               " kind = 'session.report' ORDER BY seq", (sid,))
    assert [json.loads(m["payload"])["body"]["revision"] for m in messages] == [1, 2]


def _answer_first_question(kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
                           consent_version: str, language: str) -> tuple[str, str]:
    invited = invite()
    assert invited.invite_code is not None
    sid = kiosk.engine.check_in(invited.invite_code, language=language).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version)
    kiosk.interview.present(sid)
    clock.advance(5)
    kiosk.interview.start_answer(sid)
    clock.advance(30)
    kiosk.interview.finish_answer(sid)
    return sid, _last_answer(kiosk, sid)


def _words(*timed: tuple[str, float]) -> Transcript:
    words = tuple(Word(text=t, start=s, end=s + 0.4, conf=0.9) for t, s in timed)
    return Transcript(language="en", words=words, text=" ".join(w.text for w in words),
                      duration_s=30.0, silent=False)


def test_an_answer_without_a_result_gets_the_packages_follow_up_within_a_second(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    analyzer: Analyzer, tmp_path: Path,
) -> None:
    sid, answer_id = _answer_first_question(kiosk, clock, invite, consent_version, "en")
    no_result = _words(("one", 0.5), ("day", 0.9), ("I", 2.0), ("found", 2.3), ("a", 2.6),
                       ("defect", 2.8), ("and", 4.0), ("I", 4.3), ("had", 4.5), ("to", 4.8),
                       ("report", 5.0), ("it", 5.4))
    started = time.perf_counter()
    chosen = kiosk.analysis.follow_up(answer_id, no_result)
    assert time.perf_counter() - started < 1.0
    assert chosen is not None and chosen.element == "result"
    assert chosen.prompt.startswith("How did it turn out")
    view = kiosk.interview.present(sid)
    assert view.follow_up is not None and view.follow_up["element"] == "result"
    # asked once: a second decision for the same answer asks nothing more
    assert kiosk.analysis.follow_up(answer_id, no_result) is None
    entries = kiosk.store.all("SELECT action FROM audit WHERE subject = ?", (sid,))
    assert "answer.follow_up" in [e["action"] for e in entries]


def test_the_follow_up_is_decided_from_the_transcript_decoded_while_spoken(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    analyzer: Analyzer, human_speech: list[Clip],
) -> None:
    """Real human speech streamed as it would be captured: most of the answer is decoded
    while it is spoken, so finish() only has the tail left, and the follow-up is decided
    from the final transcript (the clips tell no result, so one may be asked)."""
    _, answer_id = _answer_first_question(kiosk, clock, invite, consent_version, "en")
    clips = [read_wav(c.path) for c in human_speech if c.source == "LibriVox"][:3]
    rate = clips[0].sample_rate
    gap = np.zeros(rate, dtype=np.int16)
    audio = np.concatenate([np.concatenate([c.samples, gap]) for c in clips])  # about 18 s
    stream = analyzer.stream("en", hints=("dashwood", "power"))
    for i in range(0, len(audio), rate // 5):
        stream.feed(audio[i:i + rate // 5], rate)
    before_the_end = len(stream.words)
    transcript = stream.finish()
    assert transcript.words and not transcript.silent
    assert before_the_end > len(transcript.words) / 2, "the answer was not decoded as spoken"
    chosen = kiosk.analysis.follow_up(answer_id, transcript)
    assert chosen is None or chosen.element in ("result", "action", "task", "situation")
    stored = kiosk.store.one("SELECT follow_up FROM answers WHERE id = ?", (answer_id,))
    assert stored is not None and (stored["follow_up"] is None) == (chosen is None)


def test_progress_is_visible_in_health_and_metrics(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    crema_clips: dict[str, Path], analyzer: Analyzer,
) -> None:
    kiosk.analysis.use(analyzer)
    _interview(kiosk, clock, invite, consent_version, crema_clips, expression=False)
    with LiveServer(kiosk) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/healthz").json()["analysis"]["pending"] == 3
        assert 'kiosk_analyses{status="pending"} 3.0' in client.get("/metrics").text
        kiosk.analysis.drain()
        assert client.get("/healthz").json()["analysis"]["pending"] == 0
        text = client.get("/metrics").text
        assert 'kiosk_analyses{status="done"} 3.0' in text
        assert "kiosk_analysis_cpu_seconds" in text


def test_the_packages_time_band_reaches_scoring() -> None:
    package = load_package(example_package_path())
    (demo,) = scoring_inputs(package).demonstrations
    assert demo.time_band == TimeBandSpec(expected_min_s=240, expected_max_s=480,
                                          credible_min_s=120)
    without = package.model_copy(update={"items": [
        i.model_copy(update={"time_band": None}) if isinstance(i, DemonstrationTask) else i
        for i in package.items]})
    assert scoring_inputs(without).demonstrations[0].time_band is None
