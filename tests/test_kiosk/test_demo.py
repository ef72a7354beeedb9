"""``kiosk demo``: the whole product path on this machine, checked at the receiver's end.

The demo runs as a user runs it (``kiosk demo --ci --json``, a subprocess) with the test
cache's models and sample media. What central got is read from the receiver's own
database, not from the demo's summary; the recordings central holds are compared with
what the box recorded, byte for byte (by SHA-256).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.broker import free_port
from central.core import DB_FILE
from central.messages import list_messages
from central.store import ReceiverStore
from conftest import TEST_CACHE
from device.storage import encrypted_db
from device.storage.database import as_dicts
from inference.speech.quality import RELIABLE_QUALITY as MIN_QUALITY
from kiosk.rigs import samples

KIOSK = [sys.executable, "-m", "kiosk"]
SPOKEN = ("quality-issue-found", "shift-teamwork-handover")
DEMONSTRATION = "fan-motor-bracket-assembly"


def demo(tmp_path: Path, *extra: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"),
                   "KIOSK_ANALYSIS_MODELS_DIR": str(TEST_CACHE / "models"), **(env or {})}
    return subprocess.run(
        [*KIOSK, "demo", "--ci", "--json", "--data-dir", str(tmp_path / "demo"),
         "--cache", str(TEST_CACHE), *extra],
        capture_output=True, text=True, env=environment, timeout=600, check=False)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, model_files: samples.ModelPaths,
        crema_clips: dict[str, Path]) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("demo")
    done = demo(tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp / "demo", json.loads(done.stdout)


def query(db: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of central's receiver database (plain SQLite, central's own store)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return as_dicts(conn.execute(sql))


def query_box(db: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of the box's kiosk.db (encrypted: opened with the box's key)."""
    with contextlib.closing(encrypted_db.connect(db, read_only=True)) as conn:
        return as_dicts(conn.execute(sql))


def receiver_store(root: Path) -> ReceiverStore:
    return ReceiverStore(root / "central" / "receiver" / DB_FILE)


def test_central_received_every_message_once_in_order(ran: tuple[Path, dict[str, Any]]
                                                       ) -> None:
    root, summary = ran
    store = receiver_store(root)
    try:
        messages = list_messages(store, device_id="demo-kiosk-01")
    finally:
        store.close()
    kinds = [m["kind"] for m in messages]
    assert all(m["delivered_order"] is not None for m in messages)  # none held back
    assert kinds.count("session.result") == 1 and kinds.count("usage") == 1
    # the report before the checklist was scored, and the complete one after
    assert kinds.count("session.report") == 2
    states = [m["envelope"]["body"]["to"] for m in messages if m["kind"] == "session.state"]
    assert states[0] == "checked_in" and states[-1] == "completed"
    assert "paused" in states  # staff paused and resumed it along the way
    session_seqs = [m["session_seq"] for m in messages if m["session_id"]]
    assert session_seqs == sorted(session_seqs)
    # the summary tells what the receiver holds
    assert summary["central_received"]["by_kind"] == {k: kinds.count(k) for k in set(kinds)}
    assert summary["all_acked"] is True
    last = [m for m in messages if m["kind"] == "session.report"][-1]["envelope"]["body"]
    assert last["scorecard"]["complete"] is True


def test_recordings_reach_central_intact(ran: tuple[Path, dict[str, Any]]) -> None:
    """Sealed on the box, uploaded as the candidate was recorded (same SHA-256)."""
    root, summary = ran
    recorded = {r["id"]: r for r in query_box(
        root / "box" / "kiosk.db", "SELECT id, kind, sha256, encrypted, acked FROM media")}
    got = {r["id"]: r for r in query(
        root / "central" / "receiver" / DB_FILE, "SELECT id, sha256, path, complete FROM media")}
    assert len(recorded) == 6  # audio and video of two answers and the demonstration
    assert set(got) == set(recorded)
    for media_id, r in recorded.items():
        assert r["encrypted"] == 1 and r["acked"] is not None
        assert got[media_id]["complete"] == 1
        data = Path(got[media_id]["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"] == got[media_id]["sha256"]
    assert summary["central_received"]["media_files"] == 6


def test_summary_scores_with_evidence_and_timings(ran: tuple[Path, dict[str, Any]]) -> None:
    root, summary = ran
    assert summary["final_state"] == "completed"
    assert summary["audit"]["ok"] is True
    scores = summary["scores"]
    assert scores["complete"] is True and scores["overall"] is not None
    assert {c["id"] for c in scores["competencies"]} == {
        "communication", "problem_solving", "operation_proficiency", "attention_to_detail"}
    # a machine voice may not be understood well enough: then not assessed, never a guess
    assert all(c["status"] in ("scored", "not_assessed") and c["explanation"]
               for c in scores["competencies"])
    assert any(c["status"] == "scored" for c in scores["competencies"])
    answers = {a["item_id"]: a for a in summary["answers"]}
    assert set(answers) == {*SPOKEN, DEMONSTRATION}
    assert all(a["analysis"] == "done" and a["analysis_cpu_s"] > 0 for a in answers.values())
    for item in SPOKEN:  # the script is shown beside what was heard, and how well
        answer = answers[item]
        assert answer["said"] and 0 <= answer["recognition_quality"] <= 1
        rate = answer["error_rate"]
        assert rate["metric"] == "CER" and 0 <= rate["value"] <= 1.0
        if answer["recognition_quality"] >= MIN_QUALITY:  # assessed: then truly heard
            assert answer["heard"] and rate["value"] < 1.0
    # the demonstration's video is a person talking to the camera, no work in the work area
    assert answers[DEMONSTRATION]["active_ratio"] < 0.2
    assert answers[DEMONSTRATION]["activity_basis"] == "hands"
    assert answers[DEMONSTRATION]["face_present_ratio"] > 0.5  # the CREMA-D actor
    stages = summary["stages"]
    assert len(stages) == 8 and all(s >= 0 for s in stages.values())
    # the report for HR, written where the summary says
    report = Path(summary["report"])
    assert report.parent == root and "DEMO-0001" in report.read_text("utf-8")


def test_demo_names_the_speech_model_honestly(ran: tuple[Path, dict[str, Any]]) -> None:
    _, summary = ran
    speech = summary["speech"]
    whisper = "whisper-base base-ct2-1.0.0"
    assert speech["installed"] == {"zh-CN": whisper, "en": whisper, "ko": whisper}
    assert speech["language"] == "zh-CN"  # Mandarin by default, as most candidates speak
    assert "machine voice" in speech["note"] and "not assessed" in speech["note"]
    steps = [s["step"] for s in summary["steps"]]
    assert "staff paused the session" in steps and "staff resumed the session" in steps


def test_demo_refuses_a_directory_that_is_not_its_own(tmp_path: Path) -> None:
    """Nothing of someone else's is emptied: a clear refusal, the files untouched."""
    keep = tmp_path / "demo" / "notes.txt"
    keep.parent.mkdir()
    keep.write_text("precious")
    done = demo(tmp_path)
    assert done.returncode == 1
    assert "not empty and not a demo directory" in done.stderr
    assert keep.read_text() == "precious"


def test_without_mosquitto_the_box_delivers_over_https(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        model_files: samples.ModelPaths, crema_clips: dict[str, Path]) -> None:
    """No broker installed: said plainly, and everything still reaches central."""
    from device.config_loader import load_config
    from kiosk import demo as demo_module

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name: None if name == "mosquitto" else real_which(name))
    config = load_config(None, {"KIOSK_DATA_DIR": str(tmp_path / "data"),
                                "KIOSK_ANALYSIS_MODELS_DIR": str(TEST_CACHE / "models")})
    code = demo_module.run_demo(config, as_json=True, data_dir=tmp_path / "demo",
                                cache=TEST_CACHE, ci=True)
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    assert "Mosquitto is not installed: the box delivers over HTTPS only" in out.err
    summary = json.loads(out.out)
    assert summary["central_received"]["transport"] == "https"
    messages = query(tmp_path / "demo" / "central" / "receiver" / DB_FILE,
                     "SELECT kind, transport FROM messages")
    assert {m["transport"] for m in messages} == {"https"}
    assert [m["kind"] for m in messages].count("session.result") == 1
    assert summary["all_acked"] is True and summary["central_received"]["media_files"] == 6


def test_serve_leaves_the_kiosk_running_for_the_touchscreen_and_the_tui(
        tmp_path: Path, model_files: samples.ModelPaths, crema_clips: dict[str, Path]) -> None:
    port = free_port()
    environment = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"),
                   "KIOSK_ANALYSIS_MODELS_DIR": str(TEST_CACHE / "models"),
                   "KIOSK_API_PORT": str(port)}
    proc = subprocess.Popen(
        [*KIOSK, "demo", "--ci", "--serve", "--data-dir", str(tmp_path / "demo"),
         "--cache", str(TEST_CACHE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        else:
            pytest.fail(f"the demo ended without serving: {''.join(lines)[-2000:]}")
        url = f"http://127.0.0.1:{port}"
        tui = next(x for x in lines if x.startswith("Technician's terminal:"))
        assert f"kiosk tui --url {url} --token " in tui
        token = tui.rsplit("--token ", 1)[1].strip()
        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        sessions = httpx.get(f"{url}/api/v1/staff/sessions", timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
        assert sessions.status_code == 200
        assert [s["state"] for s in sessions.json()] == ["completed"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
