"""Factory reset: typed confirmation, the media and database keys destroyed first, an
interrupted wipe finished on re-run, and no kiosk start while one is pending."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.composition import open_kiosk
from device.config_loader import load_config
from device.storage import encrypted_db
from device.storage.encrypted_db import DatabaseKey, DatabaseKeyError
from kiosk.cli import main
from provisioning import files
from provisioning import wipe as wipe_module
from provisioning.wipe import MARKER, WipePendingError, refuse_if_pending

DEVICE = "box-42"


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A box that has run: store, keys, media, logs, models, enrolment, its config file."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "enrolment.toml").write_text(f'[device]\nid = "{DEVICE}"\n')
    config_file = data / "kiosk.toml"
    config_file.write_text('[logging]\nformat = "text"\n')
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data))
    monkeypatch.setenv("KIOSK_CONFIG", str(config_file))
    kiosk = open_kiosk(load_config())  # the real store, codes.key and media.key
    kiosk.close()
    (data / "media").mkdir(exist_ok=True)
    (data / "media" / "a1.wav.sealed").write_bytes(b"sealed" * 100)
    (data / "logs").mkdir()
    (data / "logs" / "kiosk-device.log").write_text("log line\n")
    (data / "secrets" / "device.key").write_text("key")
    (data / "models" / "vosk-en").mkdir(parents=True)
    (data / "models" / "index.json").write_text("{}")
    (data / "sync-state.json").write_text("{}")
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def everything(data: Path) -> set[str]:
    return {str(p.relative_to(data)) for p in data.rglob("*")}


def test_wrong_confirmation_deletes_nothing(box: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = everything(box)
    code, _, err = run(capsys, "provision", "wipe", "--yes-wipe", "box-41")
    assert code == 1 and "does not match the device id box-42" in err
    assert "nothing was deleted" in err
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    code, _, err = run(capsys, "provision", "wipe")
    assert code == 1 and "nothing was deleted" in err
    assert everything(box) == before


def test_a_typed_confirmation_wipes_all_but_models_and_config(
        box: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return DEVICE

    monkeypatch.setattr("builtins.input", answer)
    code, out, err = run(capsys, "provision", "wipe")
    assert code == 0, err
    assert prompts == ["type the device id to confirm: "]
    assert everything(box) == {"kiosk.toml", "models", "models/vosk-en", "models/index.json"}
    assert "kiosk.db" in out and "media/" in out


def test_the_media_key_is_destroyed_first_by_overwriting(
        box: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    key = box / "secrets" / "media.key"
    original = key.read_bytes()
    seen: list[tuple[str, bytes | None, bool]] = []
    real_unlink = files.unlink

    def watch(path: Path) -> None:
        content = path.read_bytes() if path.is_file() else None
        seen.append((path.name, content, (box / "kiosk.db").exists()))
        real_unlink(path)

    monkeypatch.setattr(files, "unlink", watch)
    assert run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)[0] == 0
    name, content, db_still_there = seen[0]
    assert name == "media.key" and db_still_there
    assert content is not None and content != original and len(content) >= len(original)
    assert seen[-1][0] == MARKER


def test_the_database_key_is_destroyed_before_the_database(
        box: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    key = box / "secrets" / "db.key"
    original = key.read_bytes()
    seen: list[tuple[str, bytes | None, bool]] = []
    real_unlink = files.unlink

    def watch(path: Path) -> None:
        content = path.read_bytes() if path.is_file() else None
        seen.append((path.name, content, (box / "kiosk.db").exists()))
        real_unlink(path)

    monkeypatch.setattr(files, "unlink", watch)
    assert run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)[0] == 0
    names = [name for name, _, _ in seen]
    assert names.index("db.key") < names.index("kiosk.db")
    _, content, db_still_there = seen[names.index("db.key")]
    assert db_still_there and content is not None
    assert content != original and len(content) >= len(original)  # overwritten first


def test_after_an_interrupted_wipe_the_database_cannot_be_opened(
        box: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: wipe_module.Wipe) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wipe_module.Wipe, "_database", fail)  # the power goes here
    code, _, err = run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)
    assert code == 1 and "run `kiosk provision wipe` again" in err
    db = box / "kiosk.db"
    assert db.stat().st_size > 0 and not (box / "secrets" / "db.key").exists()
    with pytest.raises(DatabaseKeyError, match="cannot be opened without it"):
        encrypted_db.connect(db, read_only=True)
    with pytest.raises(DatabaseKeyError, match="cannot be opened without it"):
        encrypted_db.connect(db)  # and no new key is made for a database that exists
    DatabaseKey.load_or_create(encrypted_db.key_path(db), db)  # a new key by hand
    with pytest.raises(DatabaseKeyError, match="wrong key or not a kiosk database"):
        encrypted_db.connect(db)


def test_an_interrupted_wipe_blocks_the_kiosk_and_is_finished_on_re_run(
        box: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: wipe_module.Wipe, path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wipe_module.Wipe, "_tree", fail)
    code, _, err = run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)
    assert code == 1 and "run `kiosk provision wipe` again" in err
    assert (box / MARKER).exists()
    assert not (box / "secrets" / "media.key").exists()
    assert (box / "media" / "a1.wav.sealed").exists()
    monkeypatch.undo()

    # the kiosk refuses to start meanwhile, whatever starts it
    monkeypatch.setenv("KIOSK_DATA_DIR", str(box))
    code, _, err = run(capsys, "serve", "--port", "1")
    assert code == 1 and "finish it with `kiosk provision wipe`" in err
    with pytest.raises(WipePendingError):
        refuse_if_pending(load_config())
    code, out, _ = run(capsys, "provision", "status")
    assert code == 1 and "factory reset is pending" in out

    # the marker remembers whom the wipe was for, although the enrolment is gone now
    (box / "enrolment.toml").unlink()
    code, out, err = run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)
    assert code == 0, err
    assert "interrupted factory reset of box-42" in out
    assert everything(box) == {"models", "models/vosk-en", "models/index.json"}


def test_wipe_refuses_while_the_kiosk_services_run(
        box: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"  # reports kiosk-device active, the others not
    systemctl.write_text('#!/bin/sh\n[ "$3" = kiosk-device.service ]\n')
    systemctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(wipe_module, "SYSTEMD_RUN_DIR", tmp_path)
    before = everything(box)
    code, _, err = run(capsys, "provision", "wipe", "--yes-wipe", DEVICE)
    assert code == 1 and "kiosk-device.service still running" in err
    assert "systemctl stop kiosk-device.service" in err
    assert everything(box) == before
