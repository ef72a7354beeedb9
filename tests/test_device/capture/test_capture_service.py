"""Capture as the product runs it: the engine says "recording", the box records the answer
through the real PortAudio path (PulseAudio null sink) and the file camera (a real CREMA-D
clip replayed in real time), seals the files and registers them; devices that are missing
or vanish are reported to the candidate and to staff, and a restart loses nothing."""

from __future__ import annotations

import hashlib
import json
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from api_helpers import staff_headers
from capture_helpers import begin, wait_for
from wav_fixtures import tone_wav

from conftest import JOB, LiveServer, make_config
from device.audit import SYSTEM
from device.composition import Kiosk, open_kiosk
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.sessions.roster import Invite, Roster, import_roster
from device.storage.media_crypto import MediaKey
from device.storage.media_reader import SealedReader

pytestmark = pytest.mark.integration


@pytest.fixture
def capture_kiosk(tmp_path: Path, crema_clips: dict[str, Path], pulse: Any
                  ) -> Iterator[Callable[..., Kiosk]]:
    opened: list[Kiosk] = []

    def make(**env: str) -> Kiosk:
        settings = {"KIOSK_CAPTURE_CAMERA": "file",
                    "KIOSK_CAPTURE_CAMERA_SOURCE": str(next(iter(crema_clips.values()))),
                    "KIOSK_CAPTURE_LOOP": "true", "KIOSK_CAPTURE_MICROPHONE": "pulse",
                    "KIOSK_CAPTURE_VIDEO_WIDTH": "480", "KIOSK_CAPTURE_VIDEO_HEIGHT": "270",
                    "KIOSK_ANALYSIS_ENABLED": "false", **env}
        k = open_kiosk(make_config(tmp_path / f"data{len(opened)}", **settings))
        import_package(k.store, example_package_path().read_bytes(), "example", SYSTEM)
        opened.append(k)
        return k

    yield make
    for k in opened:
        k.close()


def media_of(k: Kiosk, answer_id: str) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in k.store.all("SELECT * FROM media WHERE answer_id = ?",
                                              (answer_id,))}


def plain(k: Kiosk, media: dict[str, Any], dest: Path) -> Path:
    key = MediaKey.load_or_create(k.config.secrets_dir / "media.key")
    with SealedReader(Path(media["path"]), key) as reader:
        dest.write_bytes(reader.read())
    return dest


def test_an_answer_is_recorded_sealed_and_registered(
    capture_kiosk: Callable[..., Kiosk], pulse: Any, tmp_path: Path
) -> None:
    k = capture_kiosk()
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        status = wait_for(lambda: (s := http.get("/api/v1/capture/status",
                                                 headers=headers).json())["ready"] and s,
                          what="devices ready")
        assert status["microphone"]["ok"] and status["camera"]["ok"]
        assert not list(k.config.media_dir.glob("*/*")), "nothing is written before an answer"
        view = http.post("/api/v1/session/answer/start", headers=headers).json()
        answer_id = view["answer_id"]
        player = pulse.play(tone_wav(tmp_path / "tone.wav", 2.5))
        time.sleep(2.5)
        player.wait(10)
        assert http.get("/api/v1/capture/status", headers=headers).json()["recording"]
        http.post("/api/v1/session/answer/finish", headers=headers).raise_for_status()
        found = wait_for(lambda: len(m := media_of(k, answer_id)) == 2 and m,
                         what="both recordings registered")
    assert {m["encrypted"] for m in found.values()} == {1}
    assert all(m["path"].endswith(".sealed") for m in found.values())
    leftovers = [p for p in k.config.media_dir.rglob("*") if p.suffix in (".wav", ".mp4")]
    assert leftovers == [], "the plain files are gone once sealed"
    wav = plain(k, found["audio"], tmp_path / "a.wav")
    assert hashlib.sha256(wav.read_bytes()).hexdigest() == found["audio"]["sha256"]
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert 2.0 <= seconds <= 5.0
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 1000, "the tone was recorded"
    mp4 = plain(k, found["video"], tmp_path / "v.mp4")
    cap = cv2.VideoCapture(str(mp4))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, picture = cap.read()
    cap.release()
    assert ok and picture.shape[:2] == (270, 480)
    assert frames >= 15, f"about 2.5 s of video at the clip's rate, got {frames} frames"
    analysis = k.store.one("SELECT status FROM analyses WHERE answer_id = ?", (answer_id,))
    assert analysis is not None and analysis["status"] == "pending", "analysis is queued"


def test_a_missing_microphone_refuses_to_record_and_alerts_staff(
    capture_kiosk: Callable[..., Kiosk]
) -> None:
    k = capture_kiosk(KIOSK_CAPTURE_MICROPHONE="no-such-microphone")
    admin = staff_headers(k, "admin")
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        status = wait_for(lambda: (s := http.get("/api/v1/capture/status", headers=headers)
                                   .json())["microphone"]["problem"] and s, what="mic problem")
        assert status["ready"] is False and status["microphone"]["problem"] == "missing"
        assert "no-such-microphone" in status["microphone"]["detail"]
        r = http.post("/api/v1/session/answer/start", headers=headers)
        assert r.status_code == 503
        problem = r.json()
        assert problem["type"].endswith("capture-unavailable")
        assert "microphone" in problem["detail"] and "staff" in problem["detail"]
        current = http.get("/api/v1/session", headers=headers).json()["current"]
        assert current["phase"] == "thinking", "nothing started"
        alerts = http.get("/api/v1/staff/alerts", headers=admin).json()["alerts"]
        assert [a["kind"] for a in alerts] == ["microphone-missing"]
        assert http.get("/api/v1/staff/alerts").status_code == 401


def test_a_microphone_that_vanishes_mid_answer_pauses_the_session(
    capture_kiosk: Callable[..., Kiosk], fresh_pulse: Any, tmp_path: Path
) -> None:
    k = capture_kiosk(KIOSK_CAPTURE_LOST_AFTER_S="1")
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        wait_for(lambda: http.get("/api/v1/capture/status", headers=headers).json()["ready"],
                 what="devices ready")
        answer_id = http.post("/api/v1/session/answer/start", headers=headers).json()["answer_id"]
        fresh_pulse.play(tone_wav(tmp_path / "tone.wav", 8.0))
        capture = k.capture
        assert capture is not None
        wait_for(lambda: (capture.health()["microphone"]["stats"] or {}).get("blocks", 0) > 20,
                 what="sound arriving")
        time.sleep(0.5)
        fresh_pulse.kill()
        session = wait_for(lambda: (s := http.get("/api/v1/session", headers=headers).json())
                           ["state"] == "paused" and s, what="the session to pause")
        assert session["pause_reason"] == "microphone-lost"
        kinds = [a["kind"] for a in k.store.all("SELECT kind FROM alerts WHERE cleared IS NULL")]
        assert "microphone-lost" in kinds
        answer = k.store.one("SELECT state FROM answers WHERE id = ?", (answer_id,))
        assert answer is not None and answer["state"] == "interrupted"
        found = wait_for(lambda: media_of(k, answer_id).get("audio"),
                         what="the interrupted take's audio kept")
        assert found["bytes"] > 44, "what was captured before the loss is kept"


def test_a_restart_mid_answer_keeps_the_take_and_asks_again(
    capture_kiosk: Callable[..., Kiosk], tmp_path: Path
) -> None:
    from device.capture.wavfile import WavWriter

    k = capture_kiosk(KIOSK_CAPTURE_CAMERA="none", KIOSK_CAPTURE_MICROPHONE="none")
    with LiveServer(k) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        answer_id = http.post("/api/v1/session/answer/start", headers=headers).json()["answer_id"]
    session_id = k.store.one("SELECT session_id FROM answers WHERE id = ?", (answer_id,))
    assert session_id is not None
    folder = k.config.media_dir / session_id["session_id"]
    folder.mkdir(parents=True)
    writer = WavWriter(folder / f"{answer_id}.wav", 16_000, 1)
    writer.write(np.full(16_000 * 2 + 123, 1000, dtype="<i2").tobytes())
    writer.flush()  # what a power cut leaves: flushed audio, no close
    assert k.capture is not None
    k.capture.start()
    try:
        found = wait_for(lambda: media_of(k, answer_id).get("audio"), what="salvaged audio")
    finally:
        k.capture.stop()
    assert found["encrypted"] == 1 and abs(found["duration_s"] - 2.0) < 0.1
    answers = k.store.all("SELECT state, attempt, retake FROM answers WHERE session_id = ?"
                          " ORDER BY attempt", (session_id["session_id"],))
    assert [(a["state"], a["retake"]) for a in answers] == [("interrupted", 0), ("presented", 0)]


def test_a_reload_mid_answer_keeps_the_one_recording(
    capture_kiosk: Callable[..., Kiosk]
) -> None:
    k = capture_kiosk()
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        wait_for(lambda: http.get("/api/v1/capture/status", headers=headers).json()["ready"],
                 what="devices ready")
        first = http.post("/api/v1/session/answer/start", headers=headers).json()
        for _ in range(3):  # what a reloaded page does
            assert http.get("/api/v1/session", headers=headers).status_code == 200
            view = http.post("/api/v1/session/present", headers=headers).json()
            assert view["answer_id"] == first["answer_id"] and view["phase"] == "recording"
            time.sleep(0.3)
        again = http.post("/api/v1/session/answer/start", headers=headers)
        assert again.status_code == 409
        assert k.capture is not None and k.capture.recordings == 1
        http.post("/api/v1/session/answer/finish", headers=headers).raise_for_status()
        wait_for(lambda: len(media_of(k, first["answer_id"])) == 2, what="registered")
    assert k.store.one("SELECT count(*) AS n FROM media")["n"] == 2  # type: ignore[index]


def test_staff_play_a_recording_decrypted_and_audited(
    capture_kiosk: Callable[..., Kiosk], tmp_path: Path
) -> None:
    k = capture_kiosk(KIOSK_CAPTURE_MICROPHONE="none")
    admin = staff_headers(k, "admin")
    tech = staff_headers(k, "technician")
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        headers = begin(http, k)
        wait_for(lambda: http.get("/api/v1/capture/status", headers=headers).json()["ready"],
                 what="camera ready")
        answer_id = http.post("/api/v1/session/answer/start", headers=headers).json()["answer_id"]
        time.sleep(1.5)
        http.post("/api/v1/session/answer/finish", headers=headers).raise_for_status()
        video = wait_for(lambda: media_of(k, answer_id).get("video"), what="video registered")
        assert http.get(f"/api/v1/staff/media/{video['id']}", headers=tech).status_code == 403
        r = http.get(f"/api/v1/staff/media/{video['id']}", headers=admin)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        assert hashlib.sha256(r.content).hexdigest() == video["sha256"]
        assert http.get("/api/v1/staff/media/nope", headers=admin).status_code == 404
        health = http.get("/healthz").json()["capture"]
        assert health["camera"]["ok"] and health["microphone"]["problem"] == "disabled"
        metrics = http.get("/metrics").text
        assert 'kiosk_capture_device_ok{device="camera"} 1.0' in metrics
        assert "kiosk_recordings_total 1.0" in metrics
    viewed = k.store.all("SELECT details FROM audit WHERE action = 'media.view'")
    assert len(viewed) == 1 and video["id"] in viewed[0]["details"]


def test_a_spoken_answer_is_recognised_live_while_it_is_recorded(
    capture_kiosk: Callable[..., Kiosk], pulse: Any, model_files: Any, human_speech: list[Any]
) -> None:
    """A person speaking Mandarin, played through the null sink into PortAudio: Whisper
    decodes it on the live recogniser's thread while capture writes the file (no block
    skipped), the follow-up is decided from it, and the transcript is kept with the answer
    so that the analysis does not decode the recording again."""
    from inference.findings import Transcript
    from inference.models.store import ModelFiles
    from inference.pipeline import Analyzer, Settings

    k = capture_kiosk(KIOSK_ANALYSIS_ENABLED="true", KIOSK_CAPTURE_CAMERA="none")
    k.analysis.use(Analyzer(ModelFiles.open(model_files.store), Settings(tflite_threads=1)))
    speech = next(c for c in human_speech if c.language == "zh-CN").path
    with LiveServer(k, capture=True) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        roster = Roster(format="kiosk-roster/1", invites=[Invite(candidate_id="c-zh",
                                                                 job_id=JOB)])
        code = import_roster(k.engine, roster, "test", SYSTEM)[0].invite_code
        token = http.post("/api/v1/checkin", json={"code": code, "language": "zh-CN"}).json()
        headers = {"X-Session-Token": token["token"]}
        version = http.get("/api/v1/session", headers=headers).json()["consent"]["version"]
        http.post("/api/v1/session/consent", headers=headers,
                  json={"accept": True, "consent_version": version}).raise_for_status()
        http.post("/api/v1/session/present", headers=headers).raise_for_status()
        wait_for(lambda: http.get("/api/v1/capture/status", headers=headers).json()["ready"],
                 what="microphone ready")
        answer_id = http.post("/api/v1/session/answer/start", headers=headers).json()["answer_id"]
        pulse.play_and_wait(speech)
        time.sleep(1.0)  # the sink's latency: the last words reach the microphone
        http.post("/api/v1/session/answer/finish", headers=headers).raise_for_status()
        capture = k.capture
        assert capture is not None
        heard = wait_for(lambda: capture.last_live, timeout_s=60, what="live transcript")
    assert heard["answer_id"] == answer_id and heard["error"] is None
    assert heard["words"] and heard["words"] > 0, "the recogniser heard the answer live"
    assert heard["skipped_blocks"] == 0
    stored = k.store.one("SELECT follow_up, live_transcript FROM answers WHERE id = ?",
                         (answer_id,))
    assert stored is not None and stored["live_transcript"]
    transcript = Transcript.model_validate_json(stored["live_transcript"])
    assert "真人" in transcript.text and transcript.model is not None
    assert transcript.model.name == "whisper-base"
    decided = k.store.all("SELECT action FROM audit WHERE action = 'answer.follow_up'")
    assert (stored["follow_up"] is None) == (not decided)
    # mark the kept transcript, to see that the analysis scores it rather than decoding again
    marked = transcript.model_copy(update={"text": transcript.text + "（标记）"})
    with k.store.transaction() as db:
        db.execute("UPDATE answers SET live_transcript = ? WHERE id = ?",
                   (marked.model_dump_json(), answer_id))
    k.analysis.drain()
    analysed = k.store.one("SELECT status, body FROM analyses WHERE answer_id = ?",
                           (answer_id,))
    assert analysed is not None and analysed["status"] == "done", analysed
    assert json.loads(analysed["body"])["transcript"]["text"] == marked.text


def test_kiosk_devices_lists_the_microphones_and_cameras(
    pulse: Any, tmp_path: Path, crema_clips: dict[str, Path]
) -> None:
    import json
    import os
    import subprocess
    import sys

    clip = next(iter(crema_clips.values()))
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "d"), "KIOSK_CAPTURE_CAMERA": "file",
           "KIOSK_CAPTURE_CAMERA_SOURCE": str(clip), "KIOSK_CAPTURE_MICROPHONE": "pulse"}
    done = subprocess.run([sys.executable, "-m", "kiosk", "devices", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    found = json.loads(done.stdout)
    assert "pulse" in [m["name"] for m in found["microphones"]]
    assert [c["source"] for c in found["cameras"] if c["usable"]] == [str(clip)]
    text = subprocess.run([sys.executable, "-m", "kiosk", "devices"], env=env,
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Microphones (setting: microphone = 'pulse')" in text and "pulse" in text
    assert "ALSA lib" not in done.stderr + text, "PortAudio's start-up noise is hidden"
    env["KIOSK_CAPTURE_CAMERA_SOURCE"] = str(tmp_path / "missing.mp4")
    gone = json.loads(subprocess.run([sys.executable, "-m", "kiosk", "devices", "--json"],
                                     env=env, capture_output=True, text=True, timeout=60,
                                     check=True).stdout)
    assert any(not c["usable"] and "missing.mp4" in (c["problem"] or "")
               for c in gone["cameras"])
