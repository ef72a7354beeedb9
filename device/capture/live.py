"""Live recognition of an answer while it is recorded, for the follow-up question.

The microphone hands each block to :meth:`LiveTranscriber.feed`, which only queues it:
recognition runs in its own thread, so a slow recogniser never holds up capture. Blocks
that do not fit the bounded queue are skipped for the live transcript (and counted); the
recording file is unaffected and the full analysis later reads the file.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Seconds of audio the queue holds while the recogniser loads or catches up.
QUEUE_S = 30.0


class LiveTranscriber:
    def __init__(self, make_stream: Callable[[str], Any], language: str, sample_rate: int,
                 block_s: float = 0.05) -> None:
        self.language = language
        self.sample_rate = sample_rate
        self.skipped = 0
        self.error: str | None = None
        self._make = make_stream
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=int(QUEUE_S / block_s))
        self._result: Any = None
        self._thread = threading.Thread(target=self._run, name="live-speech", daemon=True)

    @classmethod
    def start(cls, make_stream: Callable[[str], Any], language: str, sample_rate: int
              ) -> LiveTranscriber:
        live = cls(make_stream, language, sample_rate)
        live._thread.start()
        return live

    @property
    def complete(self) -> bool:
        """True when every block was recognised (none skipped, no error): the transcript
        then stands for the whole recording."""
        return self.skipped == 0 and self.error is None and self._result is not None

    def feed(self, block: bytes) -> None:
        """Queue a block (called from the microphone's writer thread; never blocks)."""
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            self.skipped += 1

    def close(self, timeout_s: float = 30.0) -> Any:
        """The transcript of what was fed (None if recognition failed)."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            self.error = "live recognition fell behind; no live transcript"
            return None
        self._thread.join(timeout_s)
        return self._result

    def _run(self) -> None:
        try:
            stream = self._make(self.language)
        except Exception as exc:
            self.error = f"live recognition unavailable: {exc}"
            log.warning("%s", self.error)
            stream = None
        while True:
            block = self._queue.get()
            if block is None:
                break
            if stream is not None:
                try:
                    stream.feed(block, self.sample_rate)
                except Exception as exc:
                    self.error = str(exc)
                    stream = None
        if stream is not None:
            try:
                self._result = stream.finish()
            except Exception as exc:
                self.error = str(exc)
