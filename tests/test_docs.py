"""Generated documents are current, and every setting is documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.config_loader import env_names
from device.schemas import GENERATED, render

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_schemas_are_current(name: str) -> None:
    path = ROOT / "docs" / "schemas" / name
    assert path.exists(), f"{path} is missing: run 'make schemas'"
    committed = json.loads(path.read_text(encoding="utf-8"))
    fresh = json.loads(render(GENERATED[name]()))
    assert committed == fresh, f"{path} is stale: run 'make schemas' and commit the result"


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in env_names() if f"`{name}`" not in doc]
    assert missing == [], f"docs/configuration.md does not document {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head
