"""Recorded files of an answer: registered once closed, with their size and checksum, and
announced to central when the box sends recordings.

The rows themselves are kept by :mod:`device.storage.media` (typed :class:`MediaRow`),
below every feature, because the outbox, the storage budget and erasure change them too.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database

from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import Stamp, elapsed_s
from device.errors import SessionRuleError
from device.sessions import answer_rows, session_rows, usage
from device.sessions.session_rows import SessionRow
from device.sessions.transitions import FINAL_STATES
from device.storage import media
from device.storage.database import Store
from device.storage.media import MediaRow
from device.storage.media_crypto import SealedInfo

log = logging.getLogger(__name__)

MediaKind = Literal["audio", "video"]


def attach(db: Database, answer_id: str, kind: MediaKind, path: Path, now: Stamp, *,
           sealed: SealedInfo | None = None, duration_s: float | None = None,
           announce_as: Identity | None = None) -> str:
    """Register a closed recording of ``answer_id``; returns the media id.

    A plain file is read once for its checksum. A sealed file (``sealed``: what
    :func:`device.storage.media_crypto.seal_file` measured while encrypting) is registered with its
    plaintext size and checksum — what central verifies after the upload — and its key id,
    without being read again; the session's usage counts the bytes it takes on disk.

    With ``announce_as`` (the box sends recordings), a recording of a session that has
    already ended is announced in the same transaction: the last answer's files close and
    register after the candidate's last tap may have ended the session, when the
    announcement at the end of the session (:func:`announce_session_media`) has run."""
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
    if announce_as is not None:
        session = session_rows.get(db, answer.session_id)
        if session is not None and session.state in FINAL_STATES:
            announce_session_media(db, announce_as, now,
                                   {"id": session.id, "drill": session.drill})
    return media_id


CONTENT_TYPES = {"audio": "audio/wav", "video": "video/mp4"}


def announce_session_media(db: Database, identity: Identity, now: Stamp, session: Mapping[str, Any]
                           ) -> list[str]:
    """Queue a ``media`` message for each recording of a session not yet on its way.

    The sync agent uploads the file (HTTPS, resumable) before it sends the message; central's
    ack of the message is what marks the recording as held by central. Called when a session
    ends, when a recording is registered after its session ended, and by the periodic
    sweep, if the box is set to send recordings (``[sync] upload_media``); a recording
    already named by a message is never announced again.
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


#: How often the kiosk process looks for recordings of ended sessions not announced yet.
RECONCILE_INTERVAL_S = 60.0


def announce_missing(db: Database, identity: Identity, now: Stamp) -> list[str]:
    """Queue a ``media`` message for every recording of an ended session that none names
    yet (central has not confirmed it, the box still keeps it); returns the message ids."""
    queued: list[str] = []
    for session_id in media.sessions_with_unconfirmed(db):
        session = session_rows.get(db, session_id)
        if session is not None and session.state in FINAL_STATES:
            queued += announce_session_media(db, identity, now,
                                             {"id": session.id, "drill": session.drill})
    return queued


class MediaAnnouncer:
    """Recordings to central, in one kiosk process that sends them (``[sync] upload_media``).

    A session's recordings are announced when it ends (:meth:`on_final`, an engine hook);
    one registered later is announced as it is registered (``attach(..., announce_as=)``).
    :meth:`sweep`, run by the API's periodic sweep, is the safety net: it queues what is
    still missing and counts it in ``late``."""

    def __init__(self, store: Store, identity: Identity,
                 interval_s: float = RECONCILE_INTERVAL_S) -> None:
        self.store = store
        self.identity = identity
        self.interval_s = interval_s
        #: Recordings the sweep found unannounced and queued, since the process started.
        self.late = 0
        self._last_run: Stamp | None = None

    def on_final(self, db: Database, session: SessionRow, now: Stamp) -> None:
        announce_session_media(db, self.identity, now, {"id": session.id, "drill": session.drill})

    def sweep(self, *, force: bool = False) -> int:
        """Queue recordings of ended sessions that no ``media`` message names yet, when the
        last pass is ``interval_s`` old (or ``force``); returns how many were queued."""
        now = self.store.now()
        if self._last_run is not None and not force:
            since = elapsed_s(self._last_run, now)
            if since is not None and 0 <= since < self.interval_s:
                return 0
        self._last_run = now
        with self.store.transaction() as db:
            queued = announce_missing(db, self.identity, now)
        if queued:
            self.late += len(queued)
            log.warning("queued %d recording(s) of ended sessions that were never announced"
                        " to central", len(queued))
        return len(queued)
