"""``kiosk analyze``: recorded files in, metrics and scores out; bad input named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from device.jobs.package import example_package_path
from inference.models.store import ModelStore
from kiosk import cli
from kiosk.rigs.samples import ModelPaths

JOB = str(example_package_path())


@pytest.fixture
def models_env(model_files: ModelPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_ANALYSIS_MODELS_DIR", str(model_files.store.root))
    monkeypatch.setenv("KIOSK_ANALYSIS_TFLITE_THREADS", "1")


@pytest.mark.usefixtures("models_env")
def test_analyze_a_spoken_answer_as_json(crema_clips: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["analyze", str(crema_clips["HAP"]), "--job", JOB, "--question",
                     "quality-issue-found", "--language", "en", "--expression", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    analysis = out["analysis"]
    assert analysis["transcript"]["language"] == "en"
    assert analysis["transcript"]["model"]["name"] == "whisper-base"
    # "Don't forget a jacket": whisper-base hears the first words; the last depends on the
    # CTranslate2 build ("a jacket" or "to check it"), as the bare library does on the clip
    assert analysis["transcript"]["text"].lower().startswith("don't forget")
    assert analysis["transcript"]["quality"] > 0.45
    assert analysis["vision"]["face_present_ratio"] == 1.0
    dist = analysis["vision"]["expression_distribution"]
    assert max(dist, key=dist.get) == "happy"
    ids = [c["id"] for c in out["scorecard"]["competencies"]]
    assert ids == ["communication", "problem_solving", "attention_to_detail"]
    assert out["timings"]["analyse_s"] > 0


@pytest.mark.usefixtures("models_env")
def test_analyze_a_demonstration_in_text(crema_clips: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["analyze", str(crema_clips["NEU"]), "--job", JOB, "--question",
                     "fan-motor-bracket-assembly"]) == 0
    out = capsys.readouterr().out
    assert "activity:" in out and "of 600 s allowed" in out
    assert "awaiting staff" in out  # the checklist is scored by staff, not by analyze


@pytest.mark.usefixtures("models_env")
@pytest.mark.parametrize(("args", "message"), [
    (["--question", "nope"], "no item 'nope'"),
    (["--question", "quality-issue-found", "--language", "fr"], "not offered in 'fr'"),
])
def test_analyze_refuses_bad_requests(crema_clips: dict[str, Path], args: list[str],
                                      message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["analyze", str(crema_clips["HAP"]), "--job", JOB, *args]) == 1
    assert message in capsys.readouterr().err


def test_analyze_refuses_a_language_no_installed_model_serves(
    tmp_path: Path, model_files: ModelPaths, crema_clips: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A box with only the Korean vosk model: English is refused before any work."""
    store = ModelStore(tmp_path / "models")
    for model in model_files.store.installed():
        if model.name != "whisper-base":
            staged = store.staging_dir(model.name)
            shutil.copytree(model_files.store.model_dir(model.name), staged, dirs_exist_ok=True)
            store.record(model.spec, staged)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_ANALYSIS_MODELS_DIR", str(store.root))
    assert cli.main(["analyze", str(crema_clips["HAP"]), "--job", JOB, "--question",
                     "quality-issue-found", "--language", "en"]) == 1
    assert "no speech model for language 'en' (installed: ko)" in capsys.readouterr().err


@pytest.mark.usefixtures("models_env")
def test_analyze_names_a_corrupt_or_unsupported_file(
    tmp_path: Path, crema_clips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "answer.mp4"
    junk.write_bytes(b"\x00garbage" * 200)
    assert cli.main(["analyze", str(junk), "--job", JOB, "--question",
                     "quality-issue-found", "--language", "ko"]) == 1
    assert str(junk) in capsys.readouterr().err
    truncated = tmp_path / "answer.wav"
    truncated.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    assert cli.main(["analyze", str(truncated), "--job", JOB, "--question",
                     "quality-issue-found", "--language", "ko"]) == 1
    assert "answer.wav" in capsys.readouterr().err
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert cli.main(["analyze", str(other), "--job", JOB, "--question",
                     "quality-issue-found"]) == 1
    assert "unsupported recording type '.txt'" in capsys.readouterr().err
