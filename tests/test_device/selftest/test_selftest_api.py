"""Health and self-tests through the live staff API: real devices (PulseAudio null sink, a
file camera), the real installed models, a real data directory and real small disks."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from api_helpers import assert_problem, staff_headers
from capture_helpers import begin, wait_for
from model_fixtures import entries, models_copy  # noqa: F401 - fixture
from wav_fixtures import tone_wav

from conftest import JOB, Served, make_config
from device.audit import SYSTEM
from device.composition import Kiosk
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.ops import alerts
from device.selftest.disk import PREFIX
from device.selftest.install import job_for
from inference.models.manifest import load_manifest
from inference.models.store import ModelStore
from inference.speech.audio import rms_dbfs
from kiosk.rigs.samples import ModelPaths

ROOT = Path(__file__).resolve().parents[3]
API = "/api/v1/staff"
FRAMING = {"ok", "no_face", "several_faces", "too_dark", "too_bright", "too_far", "too_close",
           "off_centre"}

Box = Callable[..., tuple[Kiosk, httpx.Client]]


@pytest.fixture
def box(tmp_path: Path, served: Served) -> Box:
    """``box(capture=False, **env)``: a kiosk with these settings behind a live server."""
    count = iter(range(1000))

    def make(capture: bool = False, **env: str) -> tuple[Kiosk, httpx.Client]:
        config = make_config(tmp_path / f"data{next(count)}",
                             **{"KIOSK_ANALYSIS_ENABLED": "false", **env})
        k, client = served(config, capture=capture)
        import_package(k.store, example_package_path().read_bytes(), "example", SYSTEM)
        return k, client

    return make


def headers(k: Kiosk, role: str) -> dict[str, str]:
    """A token of ``role`` (site HR scoped to the example job)."""
    return staff_headers(k, role, [JOB] if role == "site_hr" else None,
                         name=f"{role}-{time.monotonic_ns()}")


# --- health -------------------------------------------------------------------------------------

def test_health_reports_devices_system_models_clock_and_alerts(
        box: Box, models_copy: Path) -> None:
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))
    with k.store.transaction() as db:
        alerts.raise_alert(db, "camera-missing", "no camera", k.store.now())
    landmark = next(models_copy.glob("face-landmark/*.tflite"))
    with landmark.open("ab") as f:
        f.write(b"extra")
    r = http.get(f"{API}/health", headers=headers(k, "site_hr"))
    assert r.status_code == 200, r.text
    body = r.json()
    off = {"ok": None, "state": "off", "name": None}
    assert {key: body["devices"]["camera"][key] for key in off} == off
    assert body["devices"]["microphone"]["level_dbfs"] is None
    assert "capture is off" in body["devices"]["microphone"]["detail"]

    system = body["system"]
    assert system["cpus"] == os.cpu_count()
    assert system["memory_total"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < system["memory_available"] <= system["memory_total"]
    usage = shutil.disk_usage(k.config.data_dir)
    assert system["disk_total"] == usage.total
    assert abs(system["disk_free"] - usage.free) < 256 * 1024 * 1024
    assert system["data_dir"] == str(k.config.data_dir)
    assert system["load1"] == pytest.approx(os.getloadavg()[0], abs=2.0)

    models = {m["name"]: m for m in body["models"]}
    assert set(models) == {m.name for m in ModelStore(models_copy).installed()}
    assert models["vosk-model-small-ko"] == {
        "name": "vosk-model-small-ko", "kind": "speech", "language": "ko", "version": "0.22",
        "ok": True, "detail": None}
    assert models["face-landmark"]["ok"] is False
    assert models["face-landmark"]["detail"].startswith("its files hold")
    assert models["blazeface-short-range"]["ok"] is True

    assert body["clock"]["synchronized"] in (True, False, None)
    assert body["clock"]["detail"]
    assert body["alerts"] == 1
    assert body["uptime_s"] == pytest.approx(
        float(Path("/proc/uptime").read_text().split()[0]), abs=5)
    assert body["version"] == metadata.version("interview-kiosk")


def test_health_with_capture_configured_but_not_running(box: Box) -> None:
    k, http = box(KIOSK_CAPTURE_CAMERA="none", KIOSK_CAPTURE_MICROPHONE="pulse")
    devices = http.get(f"{API}/health", headers=headers(k, "technician")).json()["devices"]
    assert devices["microphone"]["state"] == "stopped"
    assert devices["microphone"]["name"] == "pulse" and devices["microphone"]["ok"] is None
    assert devices["camera"]["state"] == "disabled" and devices["camera"]["name"] is None


def test_every_role_reads_health_and_only_operators_run_tests(box: Box) -> None:
    k, http = box(KIOSK_CAPTURE_ENABLED="false")
    assert_problem(http.get(f"{API}/health"), 401, "unauthenticated")
    for role in ("technician", "site_hr", "admin"):
        assert http.get(f"{API}/health", headers=headers(k, role)).status_code == 200
        assert http.get(f"{API}/models", headers=headers(k, role)).status_code == 200
    hr = headers(k, "site_hr")
    for path in ("/selftest/models", "/selftest/network", "/selftest/disk", "/models/install"):
        body = assert_problem(http.post(f"{API}{path}", headers=hr), 403, "forbidden")
        assert "technician or admin" in body["detail"]
    assert entries(k, "selftest.disk") == [] and entries(k, "models.install") == []


# --- microphone ---------------------------------------------------------------------------------

def test_the_microphone_test_hears_the_tone_played(box: Box, pulse: Any,
                                                   tmp_path: Path) -> None:
    k, http = box(KIOSK_CAPTURE_MICROPHONE="pulse", KIOSK_CAPTURE_CAMERA="none")
    wav = tone_wav(tmp_path / "tone.wav", 4.0)
    played = np.frombuffer(wav.read_bytes()[44:], dtype="<i2")
    player = pulse.play(wav)
    try:
        time.sleep(0.8)
        r = http.get(f"{API}/selftest/microphone", headers=headers(k, "site_hr"))
    finally:
        player.terminate()
        player.wait(15)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["detail"] is None, body
    assert body["device"] and "pulse" in body["device"].lower()
    assert body["level_dbfs"] == pytest.approx(rms_dbfs(played), abs=3.0)
    peak = 20 * np.log10(np.max(np.abs(played.astype(float))) / 32768)
    assert body["peak_dbfs"] == pytest.approx(peak, abs=3.0)
    assert not list(k.config.data_dir.rglob("*.wav")), "nothing is stored"


def test_a_missing_microphone_is_reported_not_raised(box: Box, pulse: Any) -> None:
    k, http = box(KIOSK_CAPTURE_MICROPHONE="no-such-microphone", KIOSK_CAPTURE_CAMERA="none")
    r = http.get(f"{API}/selftest/microphone", headers=headers(k, "technician"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and body["level_dbfs"] is None
    assert "no-such-microphone" in body["detail"] and "not found" in body["detail"]


# --- camera -------------------------------------------------------------------------------------

def test_the_camera_test_returns_a_picture_and_a_framing_verdict(
        box: Box, astronaut: Path, models_copy: Path) -> None:
    k, http = box(KIOSK_CAPTURE_CAMERA="file", KIOSK_CAPTURE_CAMERA_SOURCE=str(astronaut),
                  KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))
    r = http.get(f"{API}/selftest/camera", headers=headers(k, "site_hr"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["device"] == f"file: {astronaut}", body
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(body["jpeg_base64"]), np.uint8),
                           cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] <= 320 and picture.shape[0] > 100
    assert (body["width"], body["height"]) == (320, 320)  # the square image, analysis size
    assert body["framing"]["verdict"] in FRAMING and body["framing"]["advice"]
    assert body["framing"]["verdict"] != "no_face", body["framing"]


def test_the_camera_test_without_a_face_model_still_shows_the_picture(
        box: Box, crema_clips: dict[str, Path], tmp_path: Path) -> None:
    k, http = box(KIOSK_CAPTURE_CAMERA="file", KIOSK_CAPTURE_CAMERA_SOURCE=str(
        crema_clips["NEU"]), KIOSK_ANALYSIS_MODELS_DIR=str(tmp_path / "no-models"))
    body = http.get(f"{API}/selftest/camera", headers=headers(k, "technician")).json()
    assert body["ok"] is True and body["jpeg_base64"] and body["framing"] is None
    assert "no face detection model" in body["detail"]


@pytest.mark.parametrize(("env", "words"), [
    ({"KIOSK_CAPTURE_CAMERA": "none"}, "no camera is configured"),
    ({"KIOSK_CAPTURE_CAMERA": "file", "KIOSK_CAPTURE_CAMERA_SOURCE": "/nonexistent/clip.mp4"},
     "no video file at /nonexistent/clip.mp4"),
])
def test_no_camera_is_reported_not_raised(box: Box, env: dict[str, str], words: str) -> None:
    k, http = box(**env)
    r = http.get(f"{API}/selftest/camera", headers=headers(k, "technician"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and body["jpeg_base64"] is None and body["framing"] is None
    assert words in body["detail"]


def test_during_an_interview_the_tests_read_the_capture_service(
        box: Box, pulse: Any, crema_clips: dict[str, Path], models_copy: Path,
        tmp_path: Path) -> None:
    k, http = box(capture=True, KIOSK_CAPTURE_MICROPHONE="pulse",
                  KIOSK_CAPTURE_CAMERA="file", KIOSK_CAPTURE_LOOP="true",
                  KIOSK_CAPTURE_CAMERA_SOURCE=str(crema_clips["NEU"]),
                  KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))
    begin(http, k)
    assert k.capture is not None
    wait_for(lambda: k.capture is not None and k.capture.mic is not None
             and k.capture.camera is not None, what="the interview's devices open")
    staff = headers(k, "technician")
    health = http.get(f"{API}/health", headers=staff).json()["devices"]
    assert health["microphone"]["state"] == "open" and health["microphone"]["ok"] is True
    assert health["camera"]["state"] == "open" and health["camera"]["name"].startswith("file")
    player = pulse.play(tone_wav(tmp_path / "tone.wav", 7.0))
    try:  # the level of the interview's own microphone, once it hears the tone
        wait_for(lambda: (m := http.get(f"{API}/selftest/microphone", headers=staff
                                        ).json())["ok"] and m["level_dbfs"] > -40,
                 6.0, "the tone in the interview's microphone")
        time.sleep(0.3)
        mic = http.get(f"{API}/selftest/microphone", headers=staff).json()
    finally:
        player.terminate()
        player.wait(15)
    service_mic = k.capture.mic
    assert service_mic is not None
    assert mic["ok"] is True and mic["device"] == service_mic.stats().device, mic
    assert mic["level_dbfs"] == pytest.approx(-13.5, abs=3.0) and mic["peak_dbfs"] is None
    cam = http.get(f"{API}/selftest/camera", headers=staff).json()
    assert cam["ok"] is True and cam["framing"]["verdict"] in FRAMING
    assert cam["device"] == f"file: {crema_clips['NEU']}"


def test_a_broken_device_is_not_opened_behind_an_interview(
        box: Box, crema_clips: dict[str, Path]) -> None:
    k, http = box(capture=True, KIOSK_CAPTURE_MICROPHONE="no-such-microphone",
                  KIOSK_CAPTURE_CAMERA="file", KIOSK_CAPTURE_LOOP="true",
                  KIOSK_CAPTURE_CAMERA_SOURCE=str(crema_clips["NEU"]))
    begin(http, k)
    wait_for(lambda: k.capture is not None and k.capture.slots["microphone"].problem,
             what="the interview's microphone found missing")
    staff = headers(k, "technician")
    mic = http.get(f"{API}/selftest/microphone", headers=staff).json()
    assert mic["ok"] is False and "interview is using the microphone" in mic["detail"]
    health = http.get(f"{API}/health", headers=staff).json()
    assert health["devices"]["microphone"]["state"] == "missing"
    assert health["devices"]["microphone"]["ok"] is False
    assert health["alerts"] == 1


# --- models -------------------------------------------------------------------------------------

def test_every_installed_model_runs_on_a_made_up_sample(box: Box, models_copy: Path) -> None:
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))
    r = http.post(f"{API}/selftest/models", headers=headers(k, "technician"))
    assert r.status_code == 200, r.text
    results = {x["name"]: x for x in r.json()["results"]}
    assert {x["kind"] for x in results.values()} == {
        "speech", "face_detection", "face_landmarks", "expression", "hands"}
    for name, x in results.items():
        assert x["ok"] is True and x["ms"] > 0 and x["detail"], (name, x)
    assert "468 landmarks" in results["face-landmark"]["detail"]
    assert results["whisper-base"]["detail"].startswith("whisper recognised")
    assert results["vosk-model-small-ko"]["detail"].startswith("vosk recognised")
    assert results["mediapipe-hands-lite"]["detail"].startswith("ran on a drawn hand:")
    assert entries(k, "selftest.models")[0]["details"] == {"failed": [], "models": 6}


def test_a_damaged_model_is_reported_and_the_others_still_run(
        box: Box, models_copy: Path, tmp_path: Path) -> None:
    store = ModelStore(models_copy)
    landmark = next(models_copy.glob("face-landmark/*.tflite"))
    landmark.write_bytes(b"\0" * landmark.stat().st_size)  # same size, different content
    expression = store.get("fer-emotion-quantized")  # verified, but not a model at all
    staged = store.staging_dir(expression.name)
    (staged / expression.spec.entry).write_bytes(b"this is not a TFLite model")
    store.record(expression.spec, staged)
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))
    results = {x["name"]: x for x in http.post(
        f"{API}/selftest/models", headers=headers(k, "admin")).json()["results"]}
    assert results["face-landmark"]["ok"] is False
    assert "failed verification" in results["face-landmark"]["detail"]
    assert results["fer-emotion-quantized"]["ok"] is False
    assert "cannot load TFLite model" in results["fer-emotion-quantized"]["detail"]
    assert results["blazeface-short-range"]["ok"] and results["vosk-model-small-ko"]["ok"]
    assert results["whisper-base"]["ok"], results["whisper-base"]
    assert results["whisper-base"]["detail"].startswith("whisper recognised 1 s of a tone")
    failed = entries(k, "selftest.models")[0]["details"]["failed"]
    assert sorted(failed) == ["face-landmark", "fer-emotion-quantized"]


# --- disk ---------------------------------------------------------------------------------------

def test_the_disk_test_measures_and_leaves_nothing(box: Box) -> None:
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_STORAGE_RESERVE_MB="0")
    before = sorted(p.name for p in k.config.data_dir.iterdir())
    r = http.post(f"{API}/selftest/disk", headers=headers(k, "technician"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["detail"] is None, body
    assert body["bytes"] == 16 * 1024 * 1024 and body["write_mb_s"] > 0
    assert body["fsync_ms"] >= 0 and body["free_bytes"] > 0
    assert body["path"] == str(k.config.data_dir)
    assert not list(k.config.data_dir.glob(f"{PREFIX}*"))
    assert sorted(p.name for p in k.config.data_dir.iterdir()) == before
    assert entries(k, "selftest.disk")[0]["details"]["ok"] is True


def test_the_disk_test_on_a_missing_data_dir_fails_plainly(box: Box, tmp_path: Path) -> None:
    k, http = box(KIOSK_CAPTURE_ENABLED="false")
    staff = headers(k, "admin")
    k.config = k.config.model_copy(update={"data_dir": tmp_path / "gone"})
    body = http.post(f"{API}/selftest/disk", headers=staff).json()
    assert body["ok"] is False and body["bytes"] == 0
    assert body["detail"] == (f"the data directory {tmp_path / 'gone'} does not exist; check"
                              " data_dir in the configuration")


_CHILD = """
import json, resource, signal, sys
from pathlib import Path
from device.selftest.disk import run
small, readonly, limited = (Path(p) for p in sys.argv[1:4])
out = {"full": run(small), "readonly": run(readonly)}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))
out["cut"] = run(limited)
out["left"] = [p.name for d in (small, readonly, limited) for p in d.iterdir()]
print(json.dumps(out))
"""


def test_the_disk_test_on_a_full_read_only_or_failing_disk(tmp_path: Path) -> None:
    """Real small filesystems in a private mount namespace: a full one, a read-only one,
    and a write cut off half-way (the file size limit)."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for this test: apt-get install util-linux")
    small, readonly, limited = (tmp_path / n for n in ("small", "readonly", "limited"))
    for d in (small, readonly, limited):
        d.mkdir()
    script = (f"mount -t tmpfs -o size=4m tmpfs {small} && "
              f"mount -t tmpfs -o ro,size=64m tmpfs {readonly} && "
              f"mount -t tmpfs -o size=64m tmpfs {limited} && "
              f'exec "$0" -c "$1" {small} {readonly} {limited}')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, sys.executable, _CHILD],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["full"]["ok"] is False and "the disk is (nearly) full" in out["full"]["detail"]
    assert out["readonly"]["ok"] is False and "read-only" in out["readonly"]["detail"]
    assert out["cut"]["ok"] is False and "after 4.0 MiB" in out["cut"]["detail"]
    assert "the test file was removed" in out["cut"]["detail"]
    assert out["left"] == []


# --- installing models --------------------------------------------------------------------------

def test_installing_the_default_models_reports_progress_and_refuses_a_second(
        box: Box, model_files: ModelPaths) -> None:
    root = model_files.store.root
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_ANALYSIS_MODELS_DIR=str(root))
    staff = headers(k, "technician")
    first = http.post(f"{API}/models/install", headers=staff)
    second = http.post(f"{API}/models/install", headers=staff)
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "running"
    body = assert_problem(second, 409, "install-running")
    assert "already running" in body["detail"]
    final = wait_for(lambda: (s := http.get(f"{API}/models", headers=staff).json())[
        "install"]["state"] != "running" and s, 60, "the install to end")
    assert final["install"]["state"] == "done" and final["install"]["error"] is None, final
    defaults = {m.name for m in load_manifest().models if not m.optional}
    assert defaults <= {m["name"] for m in final["installed"]}
    assert "whisper-tiny-en" not in defaults  # optional models only when named
    assert all(m["size"] > 0 for m in final["installed"])
    assert entries(k, "models.install")[0]["actor_role"] == "technician"


def test_a_failed_install_says_why(box: Box, tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    (root / "index.json").write_text("{not json")
    k, http = box(KIOSK_CAPTURE_ENABLED="false", KIOSK_ANALYSIS_MODELS_DIR=str(root))
    staff = headers(k, "admin")
    assert http.post(f"{API}/models/install", headers=staff).status_code == 200
    final = job_for(root).wait(30)
    assert final["state"] == "failed"
    assert "model index" in final["error"] and "cannot be read" in final["error"]
    body = assert_problem(http.get(f"{API}/models", headers=staff), 503,
                          "model-store-unreadable")
    assert "kiosk models install" in body["detail"]
