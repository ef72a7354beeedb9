"""The audit log: append-only in SQLite, and any edit, deletion or truncation detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import InviteFn
from device.audit import verify
from device.composition import Kiosk
from device.storage import encrypted_db
from kiosk.cli import main


def _fill(kiosk: Kiosk, invite: InviteFn, n: int = 4) -> None:
    for _ in range(n):
        code = invite().invite_code
        assert code
        kiosk.engine.check_in(code)


def _tamper(path: Path, *statements: str) -> None:
    conn = encrypted_db.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.close()


def test_update_and_delete_are_refused_by_the_database(kiosk: Kiosk, invite: InviteFn) -> None:
    _fill(kiosk, invite, 1)
    with pytest.raises(encrypted_db.IntegrityError, match="append-only"):
        kiosk.store.conn.execute("UPDATE audit SET reason = 'x' WHERE seq = 1")
    with pytest.raises(encrypted_db.IntegrityError, match="append-only"):
        kiosk.store.conn.execute("DELETE FROM audit WHERE seq = 1")


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (["UPDATE audit SET reason = 'nothing to see' WHERE seq = 3"], "entry 3 was altered"),
        (["UPDATE audit SET actor_name = 'someone-else' WHERE seq = 2"], "entry 2 was altered"),
        (["DELETE FROM audit WHERE seq = 2"], "entry 2 is missing"),
        (["DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)"], "its head is entry"),
    ],
)
def test_tampering_is_detected(
    kiosk: Kiosk, invite: InviteFn, statements: list[str], problem: str
) -> None:
    _fill(kiosk, invite)
    with kiosk.store.read() as db:
        assert verify(db).ok
    _tamper(kiosk.config.db_path, *statements)
    with kiosk.store.read() as db:
        result = verify(db)
    assert not result.ok and problem in (result.problem or "")


def test_cli_verify_exit_codes(
    kiosk: Kiosk, invite: InviteFn, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fill(kiosk, invite)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(kiosk.config.data_dir))
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    _tamper(kiosk.config.db_path, "UPDATE audit SET reason = 'edited' WHERE seq = 2")
    assert main(["audit", "verify"]) == 1
    assert "entry 2 was altered" in capsys.readouterr().out
