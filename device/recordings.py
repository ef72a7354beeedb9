"""Recorded files of an answer: registered once closed, with their size and checksum."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Literal

from sqlite_utils import Database

from device.clock import Stamp
from device.errors import SessionRuleError
from device.store import row, stamp_json

MediaKind = Literal["audio", "video"]


def attach(db: Database, answer_id: str, kind: MediaKind, path: Path, now: Stamp) -> str:
    """Register a closed recording of ``answer_id``; returns the media id."""
    answer = row(db, "SELECT id, session_id FROM answers WHERE id = ?", (answer_id,))
    if answer is None:
        raise SessionRuleError(f"no answer {answer_id} to attach {path.name} to")
    if not path.is_file():
        raise SessionRuleError(f"recording {path} does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    media_id = uuid.uuid4().hex
    size = path.stat().st_size
    db.execute(
        "INSERT INTO media (id, session_id, answer_id, kind, path, bytes, sha256, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (media_id, answer["session_id"], answer_id, kind, str(path), size, digest.hexdigest(),
         stamp_json(now)),
    )
    db.execute("UPDATE usage SET media_bytes = media_bytes + ? WHERE session_id = ?",
               (size, answer["session_id"]))
    return media_id
