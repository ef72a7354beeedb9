"""``kiosk central user add | list | disable``: the console's users from the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from central.console import users
from central.store import ReceiverStore
from kiosk import cli


def test_add_list_and_disable_a_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--data-dir", str(tmp_path)]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["central", "user", "add", *where, "wang.li", "--role", "hiring_manager",
                     "--name", "王丽", "--job", "assembly-line-operator",
                     "--password-stdin"]) == 0
    assert "wang.li added as hiring_manager (assembly-line-operator)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["central", "user", "add", *where, "li.na", "--role", "admin",
                     "--password-stdin"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert cli.main(["central", "user", "list", *where]) == 0
    listed = capsys.readouterr().out
    assert "wang.li" in listed and "active" in listed and "li.na" not in listed
    assert cli.main(["central", "user", "disable", *where, "wang.li"]) == 0
    assert cli.main(["central", "user", "disable", *where, "nobody"]) == 2
    store = ReceiverStore(tmp_path / "receiver.db")
    try:
        found = users.get(store, "wang.li")
        assert found is not None and found.disabled and found.display_name == "王丽"
        assert users.authenticate(store, "wang.li", "a long enough password") is None
        stored = store.one("SELECT password_hash FROM console_users")
        assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    finally:
        store.close()


@pytest.mark.integration
def test_console_command_serves_the_console_on_its_own_port(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx

    from central.broker import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "central", "console", "--data-dir",
                             str(tmp_path), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, got = time.monotonic() + 60, None
        while got is None:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the console did not start"
            try:
                got = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
        assert got.status_code == 200 and 'name="password"' in got.text
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'self'" in got.headers["content-security-policy"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
