"""Recordings to central: resumable chunked HTTPS uploads on a thread of their own.

A ``media`` outbox message announces a recording. Its file is uploaded first; only then
is the message itself sent, and central's ack of the message marks the recording as held
by central (which is what lets retention evict it later).

Central receives the plaintext and checks it against the SHA-256 the box registered: a
recording sealed at rest is decrypted on the fly, chunk by chunk, from the offset central's
copy ends at (see :class:`RecordingFile`).
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.storage.media_crypto import MediaCryptoError, MediaKey, is_sealed
from device.storage.media_reader import SealedReader
from sync_agent.errors import LinkError
from sync_agent.events import Event, MediaFailed, MediaUploaded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    message_id: str
    media_id: str
    path: Path
    meta: dict[str, Any]


class RecordingFile:
    """A recording as central receives it: ``open("rb")`` gives its plaintext, decrypted
    on the fly when the file is sealed (seekable, so an upload resumes mid-file)."""

    def __init__(self, path: Path, key: MediaKey | None) -> None:
        self.path = path
        self.sealed = is_sealed(path)
        self._key = key

    def open(self, mode: str = "rb") -> io.BufferedReader | SealedReader:
        if mode != "rb":
            raise ValueError(f"a recording is opened for reading only, not {mode!r}")
        if not self.sealed:
            return self.path.open("rb")
        if self._key is None:
            raise MediaCryptoError(f"{self.path} is encrypted, and the sync agent has no media"
                                   " key to read it")
        return SealedReader(self.path, self._key)

    def __str__(self) -> str:
        return str(self.path)


class MediaUploader:
    """Uploads one file at a time; reports each outcome as an event.

    ``upload(media_id, recording, meta)`` sends the plaintext of ``recording.open("rb")``;
    ``media_key`` is the box's recording key, needed for sealed recordings."""

    def __init__(self, upload: Callable[[str, RecordingFile, dict[str, Any]], int],
                 events: queue.Queue[Event], *, media_key: MediaKey | None = None) -> None:
        self._upload = upload
        self._events = events
        self._key = media_key
        self._jobs: queue.Queue[Upload | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kiosk-media-upload",
                                        daemon=True)
        self.bytes_sent = 0
        self._thread.start()

    def use_key(self, media_key: MediaKey) -> None:
        """Read sealed recordings with ``media_key`` from the next upload on."""
        self._key = media_key

    def submit(self, job: Upload) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if not job.path.exists():
                    raise LinkError(f"{job.path}: the recording is missing on the box")
                recording = RecordingFile(job.path, self._key)
                self.bytes_sent += self._upload(job.media_id, recording, job.meta)
            except (LinkError, MediaCryptoError) as exc:
                self._events.put(MediaFailed(job.message_id, str(exc)))
            except OSError as exc:
                self._events.put(MediaFailed(job.message_id, f"{job.path}: {exc.strerror}"))
            else:
                self._events.put(MediaUploaded(job.message_id))
