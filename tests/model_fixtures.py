"""A model store of the test's own (a copy of the cached models) and the audit entries of the
self-test routes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from device import audit
from device.composition import Kiosk
from kiosk.rigs.samples import ModelPaths


@pytest.fixture
def models_copy(tmp_path: Path, model_files: ModelPaths) -> Path:
    """The installed test models in a store of this test's own (the large speech model is
    linked, not copied, and left alone)."""
    src = model_files.store.root
    dest = tmp_path / "models"
    dest.mkdir()
    shutil.copy2(src / "index.json", dest / "index.json")
    for m in model_files.store.installed():
        if m.spec.kind == "speech":
            (dest / m.name).symlink_to(src / m.name)
        else:
            shutil.copytree(src / m.name, dest / m.name)
    return dest


def entries(k: Kiosk, action: str) -> list[dict[str, Any]]:
    with k.store.read() as db:
        return audit.entries(db, action=action)
