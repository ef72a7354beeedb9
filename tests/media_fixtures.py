"""A box with recordings sealed and announced, for the media upload tests."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import (
    Central,
    box_config,
)

from device.central_link import outbox
from device.central_link.outbox import Identity
from device.config import KioskConfig
from device.sessions.recordings import announce_session_media, attach
from device.storage.database import Store, row, stamp_json

BOX = Identity("dev-1", TENANT, SITE)


@dataclass(frozen=True)
class Recording:
    media_id: str
    message_id: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def record_session(config: KioskConfig, size: int) -> tuple[str, Recording]:
    """A finished session with one recorded answer (random bytes), its state change queued
    and its recording announced, as the session engine leaves them; returns the state
    message id and the recording."""
    data = os.urandom(size)
    path = config.media_dir / "S1" / "answer-1.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    store = Store(config.db_path)
    try:
        with store.transaction() as db:
            at = stamp_json(store.now())
            seed_answer_rows(db, at)
            state = outbox.enqueue(db, BOX, store.now(), "session.state",
                                   {"from": "in_progress", "to": "completed"}, session_id="S1")
            media_id = attach(db, "A1", "video", path, store.now())
            session = row(db, "SELECT * FROM sessions WHERE id = 'S1'")
            assert session is not None
            announced = announce_session_media(db, BOX, store.now(), session)
    finally:
        store.close()
    assert len(announced) == 1
    return state, Recording(media_id, announced[0], data)


def box_media(config: KioskConfig, media_id: str) -> dict[str, object]:
    store = Store(config.db_path)
    try:
        found = store.one("SELECT bytes, sha256, acked FROM media WHERE id = ?", (media_id,))
    finally:
        store.close()
    assert found is not None
    return found


def media_box(tmp_path: Path, pki: Pki, central: Central, url: str, *,
              broker_port: int | None = None, **sync: Any) -> KioskConfig:
    sync.setdefault("transport", "https")
    return box_config(tmp_path / "box", pki, "dev-1", broker_port=broker_port, https_url=url,
                      key_file=central.key_file, upload_media=True, **sync)


def seed_answer_rows(db: Database, at: str) -> None:
    """Session ``S1`` (completed) with its one finished answer ``A1``, written directly: the
    rows a recording hangs on, without running an interview."""
    db.execute("INSERT INTO candidates (id, created) VALUES ('cand-1', ?)", (at,))
    db.execute("INSERT INTO job_packages VALUES ('job-1', 1, 'd', '{}', 'test', ?)",
               (at,))
    db.execute("INSERT INTO sessions (id, candidate_id, job_id, job_version, state,"
               " created, state_since) VALUES ('S1', 'cand-1', 'job-1', 1,"
               " 'completed', ?, ?)", (at, at))
    db.execute("INSERT INTO answers (id, session_id, item_id, position, attempt, kind,"
               " state, presented) VALUES ('A1', 'S1', 'q1', 0, 1, 'question',"
               " 'finished', ?)", (at,))
