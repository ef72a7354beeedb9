"""A database that went backwards is refused at start, and ``kiosk store recover`` starts a
new one that continues the message sequence.

Real SQLite in a temporary data directory; the sync agent runs over a recording stand-in
for its link to central (no broker), which notes the store mark as each message leaves.
"""

from __future__ import annotations

import json
import queue
import shutil
from pathlib import Path

import pytest

from conftest import make_config
from device import audit
from device.central_link import outbox
from device.central_link.outbox import Identity, Outgoing
from device.composition import open_kiosk
from device.config import KioskConfig
from device.storage import store_mark
from device.storage.database import Store
from device.storage.encrypted_db import KEY_FILE, DatabaseKeyError
from device.storage.store_mark import DatabaseBehindError
from kiosk.cli import main
from sync_agent.agent import SyncAgent

DEVICE = "box-9"


class RecordingLink:
    """Stand-in for the MQTT link: always connected; notes each message and the store mark
    on disk at the moment it is handed over."""

    name = "recording"
    epoch = 1

    def __init__(self, mark: Path) -> None:
        self.mark = mark
        self.sent: list[tuple[Outgoing, int]] = []

    @property
    def connected(self) -> bool:
        return True

    def connect(self) -> None:
        pass

    def publish(self, out: Outgoing) -> int:
        found = store_mark.read(self.mark)
        self.sent.append((out, found.sent_seq if found else -1))
        return 0

    def close(self) -> None:
        pass


def enrolled(data: Path, device_id: str = DEVICE) -> KioskConfig:
    """A box as enrolment leaves it (identity in the enrolment file)."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "enrolment.toml").write_text(
        f'[enrolment]\nurl = "https://central.example:8444"\n\n'
        f'[device]\nid = "{device_id}"\ntenant = "acme"\nsite = "plant-1"\n')
    return make_config(data)


def write_messages(config: KioskConfig, n: int) -> list[str]:
    kiosk = open_kiosk(config)
    try:
        ids = []
        for i in range(n):
            with kiosk.store.transaction() as db:
                ids.append(outbox.enqueue(db, kiosk.identity, kiosk.store.now(), "usage",
                                          {"n": i}))
        return ids
    finally:
        kiosk.close()


def send_all(config: KioskConfig) -> RecordingLink:
    """One turn of the real sync agent: every queued message goes out over the stand-in."""
    kiosk = open_kiosk(config)
    link = RecordingLink(config.store_mark_path)
    try:
        SyncAgent(config, kiosk.store, link, queue.Queue()).step()
    finally:
        kiosk.close()
    return link


def seq_of(message_id: str) -> int:
    return int(message_id.rsplit(":", 1)[1])


def test_a_fresh_unenrolled_box_starts_and_is_marked(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    open_kiosk(config).close()
    mark = store_mark.read(config.store_mark_path)
    assert mark is not None and mark.sent_seq == 0
    kiosk = open_kiosk(config)  # and starts again on the database the mark names
    try:
        assert store_mark.load_store_id(kiosk.store) == mark.store_id
    finally:
        kiosk.close()


def test_the_mark_is_raised_before_a_message_leaves(tmp_path: Path) -> None:
    config = enrolled(tmp_path / "data")
    ids = write_messages(config, 3)
    link = send_all(config)
    assert [out.message_id for out, _ in link.sent] == ids
    assert all(marked >= out.seq for out, marked in link.sent)
    found = store_mark.read(config.store_mark_path)
    assert found is not None and found.sent_seq == 3


@pytest.mark.parametrize("damage", ["emptied", "missing"])
def test_an_emptied_or_missing_database_is_refused_at_start(tmp_path: Path, damage: str) -> None:
    config = enrolled(tmp_path / "data")
    write_messages(config, 2)
    send_all(config)
    if damage == "emptied":
        config.db_path.write_bytes(b"")
    else:
        config.db_path.unlink()
    with pytest.raises(DatabaseBehindError) as refused:
        open_kiosk(config)
    text = str(refused.value)
    assert str(config.db_path) in text and str(config.store_mark_path) in text
    assert "kiosk store recover" in text and "up to seq 2" in text
    # refused, not re-created: the file is as the box found it
    assert (config.db_path.stat().st_size == 0) if damage == "emptied" \
        else not config.db_path.exists()


def test_another_boxs_database_is_refused(tmp_path: Path) -> None:
    config = enrolled(tmp_path / "data")
    write_messages(config, 1)
    other = enrolled(tmp_path / "other", "box-10")
    write_messages(other, 5)
    shutil.copy(other.db_path, config.db_path)
    with pytest.raises(DatabaseKeyError, match="wrong key or not a kiosk database"):
        open_kiosk(config)  # encrypted under the other box's key
    shutil.copy(other.secrets_dir / KEY_FILE, config.secrets_dir / KEY_FILE)
    with pytest.raises(DatabaseBehindError, match="another database"):
        open_kiosk(config)  # with its key too: still not this box's database


def test_an_older_copy_of_the_database_is_refused(tmp_path: Path) -> None:
    config = enrolled(tmp_path / "data")
    write_messages(config, 2)
    send_all(config)
    backup = tmp_path / "kiosk.db.bak"
    shutil.copy(config.db_path, backup)
    write_messages(config, 3)
    send_all(config)
    shutil.copy(backup, config.db_path)
    with pytest.raises(DatabaseBehindError, match="message counter is at 2, behind"):
        open_kiosk(config)


def test_recovery_continues_the_sequence_and_audits_itself_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = enrolled(tmp_path / "data")
    before = write_messages(config, 4)
    send_all(config)
    config.db_path.write_bytes(b"")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    assert main(["store", "recover", "--continue-sequence", "--reason", "SD card fault",
                 "--yes-recover", DEVICE]) == 0
    said = capsys.readouterr().out
    assert f"{DEVICE}:000000000005" in said and "lost:" in said
    assert list(config.data_dir.glob("kiosk.db.refused-*"))  # moved aside, not deleted

    after = write_messages(config, 1)
    assert seq_of(after[0]) > max(seq_of(m) for m in before)
    kiosk = open_kiosk(config)
    try:
        with kiosk.store.read() as db:
            first = audit.entries(db, limit=10)[-1]
            assert audit.verify(db).ok
        assert first["seq"] == 1 and first["action"] == "store.recover"
        assert first["reason"] == "SD card fault"
        assert first["details"]["continues_after"] == 4
    finally:
        kiosk.close()


def test_recovery_continues_past_centrals_last_acknowledged_seq(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = enrolled(tmp_path / "data")
    write_messages(config, 2)
    send_all(config)
    config.db_path.unlink()
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    assert main(["store", "recover", "--continue-sequence", "--reason", "restored wrong card",
                 "--central-seq", "40", "--yes-recover", DEVICE]) == 0
    assert write_messages(config, 1) == [f"{DEVICE}:000000000041"]
    found = json.loads(config.store_mark_path.read_text())
    assert found["sent_seq"] == 40


def test_recovery_changes_nothing_unconfirmed_or_when_the_database_is_good(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = enrolled(tmp_path / "data")
    write_messages(config, 1)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    assert main(["store", "recover", "--continue-sequence", "--reason", "x",
                 "--yes-recover", DEVICE]) == 1
    assert "nothing to recover" in capsys.readouterr().err
    config.db_path.write_bytes(b"")
    assert main(["store", "recover", "--continue-sequence", "--reason", "x",
                 "--yes-recover", "box-1"]) == 1
    assert "does not match" in capsys.readouterr().err
    assert config.db_path.stat().st_size == 0
    assert not list(config.data_dir.glob("kiosk.db.refused-*"))


def test_a_box_from_before_the_mark_is_marked_at_its_next_start(tmp_path: Path) -> None:
    config = enrolled(tmp_path / "data")
    old = Store(config.db_path)  # opened as before the mark existed
    identity = Identity(DEVICE, "acme", "plant-1")
    with old.transaction() as db:
        for i in range(3):
            outbox.enqueue(db, identity, old.now(), "usage", {"n": i})
    assert store_mark.load_store_id(old) is None
    old.close()
    open_kiosk(config).close()
    found = store_mark.read(config.store_mark_path)
    assert found is not None and found.sent_seq == 3  # any of them may have been sent
    assert write_messages(config, 1) == [f"{DEVICE}:000000000004"]
