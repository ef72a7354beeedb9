"""An answer's recording files from capture to the store: closed, sealed, registered.

While an answer is recorded its files are plain (``<answer>.wav``, ``<answer>.mp4``) so
each second written survives a power cut. Once closed, each is sealed (AES-256-GCM, see
:mod:`device.storage.media_crypto`) into ``<name>.sealed``, the plain file is removed, and the
recording is registered with its plaintext size and checksum in one transaction that also
queues the answer's analysis when the answer is finished. A box that restarts mid-answer
finds the plain files at start: they are repaired, sealed and registered the same way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from device.analysis import worker as analysis
from device.capture.base import Recorded
from device.capture.wavfile import repair_wav
from device.central_link.outbox import Identity
from device.sessions import answer_rows, recordings
from device.sessions.recordings import MediaKind
from device.storage import media
from device.storage.database import Store
from device.storage.media_crypto import MediaKey, SealedInfo, seal_file

log = logging.getLogger(__name__)

SEALED = ".sealed"
PLAIN = {".wav": "audio", ".mp4": "video"}


def answer_paths(media_dir: Path, session_id: str, answer_id: str) -> tuple[Path, Path]:
    """Where an answer is recorded: (audio WAV, video MP4), in its session's directory."""
    folder = media_dir / session_id
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{answer_id}.wav", folder / f"{answer_id}.mp4"


def register(store: Store, key: MediaKey | None, answer_id: str, recorded: list[Recorded],
             *, announce_as: Identity | None = None) -> list[str]:
    """Seal (when ``key`` is given) and register closed recordings of one answer; queue its
    analysis when the answer is finished, and with ``announce_as`` (the box sends
    recordings) their ``media`` messages when the session has ended meanwhile. Returns the
    media ids."""
    sealed: list[tuple[Recorded, Path, SealedInfo | None]] = []
    for rec in recorded:
        if not rec.path.is_file():
            log.warning("recording %s is missing; nothing to register", rec.path)
            continue
        if key is None:
            sealed.append((rec, rec.path, None))
            continue
        dest = rec.path.with_name(rec.path.name + SEALED)
        info = seal_file(rec.path, dest, key)
        rec.path.unlink()
        sealed.append((rec, dest, info))
    now = store.now()
    ids: list[str] = []
    with store.transaction() as db:
        answer = answer_rows.get(db, answer_id)
        if answer is None:  # erased meanwhile: the files go too
            for _, path, _ in sealed:
                path.unlink(missing_ok=True)
            return []
        for rec, path, sealed_info in sealed:
            kind: MediaKind = "audio" if rec.kind == "audio" else "video"
            ids.append(recordings.attach(db, answer_id, kind, path, now, sealed=sealed_info,
                                         duration_s=rec.duration_s, announce_as=announce_as))
        if answer.state == "finished" and ids:
            analysis.schedule(db, answer_id, now)
    return ids


def salvage(store: Store, key: MediaKey | None, media_dir: Path, *,
            announce_as: Identity | None = None) -> list[str]:
    """Register plain recordings a restart left behind (repairing a cut WAV header);
    returns the answer ids they belong to."""
    found: dict[str, list[Recorded]] = {}
    if not media_dir.is_dir():
        return []
    for path in sorted(media_dir.glob("*/*")):
        kind = PLAIN.get(path.suffix)
        if kind is None or not path.is_file() or path.parent.name.startswith("."):
            continue
        answer_id = path.stem
        with store.read() as db:
            known = media.is_registered(db, (str(path), str(path) + SEALED))
        if known:
            continue
        if path.stat().st_size == 0:
            path.unlink()
            continue
        duration = repair_wav(path) if kind == "audio" else None
        found.setdefault(answer_id, []).append(
            Recorded(path=path, kind=kind, duration_s=duration or 0.0, frames=0))
    for answer_id, recs in found.items():
        log.warning("registering %d recording(s) of answer %s left by a restart",
                    len(recs), answer_id)
        register(store, key, answer_id, recs, announce_as=announce_as)
    return list(found)


def remove_partial_seals(media_dir: Path) -> None:
    """A seal cut by a power cut (``*.sealed.part``) is redone from the plain file."""
    if media_dir.is_dir():
        for part in media_dir.glob("*/*.part"):
            os.unlink(part)
