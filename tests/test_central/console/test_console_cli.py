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
