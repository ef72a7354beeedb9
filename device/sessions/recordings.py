"""Recorded files of an answer: registered once closed, with their size and checksum.

The rows themselves are kept by :mod:`device.storage.media` (typed :class:`MediaRow`),
below every feature, because the outbox, the storage budget and erasure change them too.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database

from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import Stamp
from device.errors import SessionRuleError
from device.sessions import answer_rows, usage
from device.storage import media
from device.storage.media import MediaRow
from device.storage.media_crypto import SealedInfo

MediaKind = Literal["audio", "video"]


def attach(db: Database, answer_id: str, kind: MediaKind, path: Path, now: Stamp, *,
           sealed: SealedInfo | None = None, duration_s: float | None = None) -> str:
    """Register a closed recording of ``answer_id``; returns the media id.

    A plain file is read once for its checksum. A sealed file (``sealed``: what
    :func:`device.storage.media_crypto.seal_file` measured while encrypting) is registered with its
    plaintext size and checksum — what central verifies after the upload — and its key id,
    without being read again; the session's usage counts the bytes it takes on disk."""
    answer = answer_rows.get(db, answer_id)
    if answer is None:
        raise SessionRuleError(f"no answer {answer_id} to attach {path.name} to")
    if not path.is_file():
        raise SessionRuleError(f"recording {path} does not exist")
    if sealed is None:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        size = disk = path.stat().st_size
        sha256, key_id = digest.hexdigest(), None
    else:
        disk = path.stat().st_size
        if disk != sealed.sealed_bytes:
            raise SessionRuleError(f"recording {path} has {disk} bytes, its sealing wrote"
                                   f" {sealed.sealed_bytes}: not the file that was sealed")
        size, sha256, key_id = sealed.plain_bytes, sealed.plain_sha256, sealed.key_id
    media_id = uuid.uuid4().hex
    media.add(db, MediaRow(
        id=media_id, session_id=answer.session_id, answer_id=answer_id, kind=kind,
        path=str(path), bytes=size, sha256=sha256, encrypted=sealed is not None, key_id=key_id,
        duration_s=duration_s, created=now))
    usage.add_media_bytes(db, answer.session_id, disk)
    return media_id


CONTENT_TYPES = {"audio": "audio/wav", "video": "video/mp4"}


def announce_session_media(db: Database, identity: Identity, now: Stamp, session: Mapping[str, Any]
                           ) -> list[str]:
    """Queue a ``media`` message for each recording of a session not yet on its way.

    The sync agent uploads the file (HTTPS, resumable) before it sends the message; central's
    ack of the message is what marks the recording as held by central. Called when a session
    ends, if the box is set to send recordings (``[sync] upload_media``).
    """
    announced = outbox.announced_media(db, session["id"])
    found = [m for m in media.unconfirmed_of_session(db, session["id"]) if m.id not in announced]
    return [
        outbox.enqueue(
            db, identity, now, "media",
            {"media_id": m.id, "answer_id": m.answer_id, "kind": m.kind,
             "bytes": m.bytes, "sha256": m.sha256,
             "content_type": CONTENT_TYPES.get(m.kind, "application/octet-stream")},
            session_id=session["id"], drill=bool(session["drill"]),
        )
        for m in found
    ]
