"""A box whose only speech model hears Korean, and a job offering Mandarin only: the
language gate's fixtures, shared with the touchscreen's language tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_config
from device.config import KioskConfig
from device.jobs.package import example_package_path
from inference.models.installer import add_local_speech_model
from inference.models.store import ModelStore

ZH_ONLY = "zh-only-job"




def install_speech(models: Path, work: Path, language: str) -> None:
    """Record a speech model for ``language`` in the store at ``models`` (as `kiosk models
    add` does)."""
    source = stand_in_vosk(work / f"stand-in-vosk-{language}")
    add_local_speech_model(ModelStore(models), source, language, name=f"vosk-{language.lower()}")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    install_speech(root, tmp_path, "ko")
    return root


@pytest.fixture
def config(tmp_path: Path, models: Path) -> KioskConfig:
    """A box with analysis on and a Korean speech model only (the conftest ``kiosk`` is
    opened on it, with the example job, offering zh-CN, en and ko, already imported)."""
    return make_config(tmp_path / "data", KIOSK_ANALYSIS_MODELS_DIR=str(models))


def zh_only(version: int = 1) -> dict[str, Any]:
    body = example(version)
    body["job"].update(id=ZH_ONLY, language="zh-CN", languages=["zh-CN"])
    return body


def data(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def stand_in_vosk(root: Path) -> Path:
    """Files laid out as a vosk model (the installer checks the layout), holding nothing a
    recogniser could load: a stand-in, since only the store's index matters here."""
    for rel in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "README"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def example(version: int = 2) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example_package_path().read_text("utf-8"))
    body["package_version"] = version
    return body
