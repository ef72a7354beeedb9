"""Recordings to central: resumable chunked HTTPS uploads on a thread of their own.

A ``media`` outbox message announces a recording. Its file is uploaded first; only then
is the message itself sent, and central's ack of the message marks the recording as held
by central (which is what lets retention evict it later).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_agent.errors import LinkError
from sync_agent.events import Event, MediaFailed, MediaUploaded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    message_id: str
    media_id: str
    path: Path
    meta: dict[str, Any]


class MediaUploader:
    """Uploads one file at a time; reports each outcome as an event."""

    def __init__(self, upload: Callable[[str, Path, dict[str, Any]], int],
                 events: queue.Queue[Event]) -> None:
        self._upload = upload
        self._events = events
        self._jobs: queue.Queue[Upload | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kiosk-media-upload",
                                        daemon=True)
        self.bytes_sent = 0
        self._thread.start()

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
                self.bytes_sent += self._upload(job.media_id, job.path, job.meta)
            except LinkError as exc:
                self._events.put(MediaFailed(job.message_id, str(exc)))
            except OSError as exc:
                self._events.put(MediaFailed(job.message_id, f"{job.path}: {exc.strerror}"))
            else:
                self._events.put(MediaUploaded(job.message_id))
