"""The capture service: devices open while a candidate is in an interview, one answer
recorded at a time, exactly while the engine says that answer is being recorded.

The engine's answer state is the only truth. The service reconciles with it after every
candidate action (:meth:`CaptureService.sync`) and on its own monitor tick: an answer in
``recording`` gets its files; an answer that left ``recording`` (finished, cut at its time
limit, interrupted by an exit or a pause) has its files closed, sealed and registered by a
finisher thread, so the request that stopped it never waits on disk or encryption.

Devices open when a session is consented (for the framing check and the level meter)
and close when no session is. Nothing is written to a file before its answer starts. A
device that cannot be opened, or stops delivering, raises an alert for staff; one that
stops mid-interview pauses the session with the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from device.capture import files
from device.capture.base import (
    Camera,
    DeviceUnavailable,
    LostCallback,
    LowresFrame,
    Recorded,
)
from device.capture.framing import FramingService
from device.capture.live import LiveTranscriber
from device.capture.slots import Active, DeviceSlot, Microphone
from device.config import CaptureConfig, KioskConfig
from device.ops import alerts
from device.sessions import answer_rows, session_rows
from device.sessions.answer_rows import AnswerRow
from device.sessions.engine import Engine
from device.sessions.interview import Interview
from device.storage.media_crypto import MediaKey

log = logging.getLogger(__name__)

TICK_S = 0.2
REOPEN_S = 3.0
ARMED_STATES = ("consented", "in_progress")


class CaptureService:
    def __init__(
        self,
        config: KioskConfig,
        engine: Engine,
        interview: Interview,
        *,
        key: MediaKey | None,
        microphone: Callable[[CaptureConfig], Microphone],
        camera: Callable[[CaptureConfig], Camera | None],
        on_registered: Callable[[str], None] | None = None,
        live_stream: Callable[[str, str], Any] | None = None,
        on_transcript: Callable[[str, Any], object] | None = None,
    ) -> None:
        self.config = config
        self.c = config.capture
        self.engine = engine
        self.interview = interview
        self.store = engine.store
        self.key = key
        #: Who announces recordings of sessions that ended before they were registered
        #: (None when the box does not send recordings).
        self.announce_as = engine.identity if config.sync.upload_media else None
        self._make_mic = microphone
        self._make_camera = camera
        self._on_registered = on_registered
        self._live_stream = live_stream
        self._on_transcript = on_transcript
        self.mic: Microphone | None = None
        self.camera: Camera | None = None
        no_mic = self.c.microphone.strip().lower() == "none"
        no_cam = self.c.camera == "none"
        self.slots = {  # a device configured away is not required
            "microphone": DeviceSlot("microphone", self.c.require_microphone and not no_mic,
                                     no_mic),
            "camera": DeviceSlot("camera", self.c.require_camera and not no_cam, no_cam),
        }
        for slot in self.slots.values():
            if slot.disabled:
                slot.problem = "disabled"
        self.active: Active | None = None
        self.recordings = 0
        self._lock = threading.RLock()
        self._lost: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._finish: queue.Queue[tuple[Active, list[Recorded]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None
        #: The live recognition of the last spoken answer (words heard, blocks skipped).
        self.last_live: dict[str, Any] | None = None
        #: The framing check on the live picture (set when the face model is available).
        self.framing: FramingService | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Register what a restart left behind, then watch the engine."""
        files.remove_partial_seals(self.config.media_dir)
        with self.store.read() as db:
            left = answer_rows.recording_ids(db)
        for answer_id in left:
            self.interview.interrupt(answer_id)  # its take ended with the old process
        files.salvage(self.store, self.key, self.config.media_dir,
                      announce_as=self.announce_as)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._monitor, name="capture", daemon=True),
                         threading.Thread(target=self._finisher, name="capture-files",
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        with self._lock:
            if self.active is not None:
                self._stop_recording()
            self._close_devices()
        self._finish.put(None)
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # --- what the API asks -----------------------------------------------------------------

    def ready(self) -> bool:
        """Every required device works (answers may start)."""
        with self._lock:
            return all(s.ok or not s.required for s in self.slots.values())

    def require_ready(self) -> None:
        """Refuse to start an answer the box cannot record; staff are alerted."""
        self.sync()
        with self._lock:
            broken = [s for s in self.slots.values() if s.required and not s.ok]
        if broken:
            words = " and ".join(f"the {s.name}" for s in broken)
            detail = "; ".join(s.detail or s.problem or "" for s in broken)
            raise DeviceUnavailable(f"{words} {'is' if len(broken) == 1 else 'are'} not working"
                                    f" ({detail}); staff have been alerted")

    def status(self) -> dict[str, Any]:
        with self._lock:
            mic = self.mic.stats() if self.mic is not None else None
            return {
                "enabled": True,
                "ready": self.ready(),
                "recording": self.active is not None,
                "microphone": {**self._slot_view("microphone"),
                               "level_dbfs": mic.level_dbfs if mic else None},
                "camera": self._slot_view("camera"),
            }

    def _slot_view(self, name: str) -> dict[str, Any]:
        s = self.slots[name]
        return {"required": s.required, "ok": s.ok, "problem": s.problem, "detail": s.detail}

    def latest_frame(self) -> LowresFrame | None:
        cam = self.camera
        return cam.latest() if cam is not None else None

    def preview_jpeg(self) -> tuple[int, bytes] | None:
        cam = self.camera
        return cam.preview_jpeg() if cam is not None else None

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {
                "running": self.running,
                "recording": self.active.answer_id if self.active else None,
                "recordings": self.recordings,
                "microphone": {**self._slot_view("microphone"),
                               "stats": self.mic.stats().to_dict() if self.mic else None},
                "camera": {**self._slot_view("camera"),
                           "stats": self.camera.stats().to_dict() if self.camera else None},
                "live_recognition": self.last_live,
                "last_error": self.last_error,
            }

    # --- reconciling with the engine -------------------------------------------------------

    def sync(self) -> None:
        """Bring devices and the recording in line with the engine, now."""
        with self._lock:
            self._handle_lost()
            with self.store.read() as db:
                armed = session_rows.count_in_states(db, ("consented", "in_progress"))
            if armed:
                self._open_devices()
            elif self.active is None:
                self._close_devices()
            self._reconcile()

    def _reconcile(self) -> None:
        with self.store.read() as db:
            want = answer_rows.latest_recording(db)
        if self.active is not None and (want is None or want[0].id != self.active.answer_id):
            self._stop_recording()
        if want is not None and self.active is None:
            self._start_recording(*want)

    def _start_recording(self, answer: AnswerRow, language: str | None) -> None:
        wav, mp4 = files.answer_paths(self.config.media_dir, answer.session_id, answer.id)
        spoken = answer.kind == "question"
        live = None
        if spoken and self._live_stream is not None and self.mic is not None:
            make, answer_id = self._live_stream, answer.id
            # a session invited without a language passes None on, as it always has
            live = LiveTranscriber.start(lambda language: make(language, answer_id),
                                         cast(str, language), self.c.sample_rate)
        active = Active(answer.id, answer.session_id, language or "",
                        spoken, time.monotonic(), audio=False, video=False, live=live)
        if self.mic is not None:
            self.mic.start_recording(wav, on_block=live.feed if live else None)
            active.audio = True
        if self.camera is not None:
            self.camera.start_recording(mp4)
            active.video = True
        self.active = active
        self.recordings += 1
        log.info("recording answer %s (audio: %s, video: %s)", active.answer_id,
                 active.audio, active.video)

    def _stop_recording(self) -> None:
        active, self.active = self.active, None
        if active is None:
            return
        recorded: list[Recorded] = []
        for device, on in ((self.mic, active.audio), (self.camera, active.video)):
            if device is None or not on:
                continue
            try:
                recorded.append(device.stop_recording())
            except Exception as exc:  # a device that died still leaves its file
                log.warning("closing a recording of answer %s: %s", active.answer_id, exc)
                self.last_error = str(exc)
        self._finish.put((active, recorded))

    # --- devices ---------------------------------------------------------------------------

    def _open_devices(self) -> None:
        now = time.monotonic()
        mic, cam = self.slots["microphone"], self.slots["camera"]
        if self.mic is None and not mic.disabled and now - mic.tried >= REOPEN_S:
            mic.tried = now
            device = self._make_mic(self.c)
            if self._try_open(mic, lambda: device.open(self._lost_callback("microphone"))):
                self.mic = device
        if self.camera is None and not cam.disabled and now - cam.tried >= REOPEN_S:
            cam.tried = now

            def open_camera() -> None:
                found = self._make_camera(self.c)
                if found is None:
                    raise DeviceUnavailable(
                        "no camera found (camera = auto: no Pi camera and no /dev/video*);"
                        " `kiosk devices` lists what the box sees")
                found.open(self._lost_callback("camera"))
                self.camera = found

            self._try_open(cam, open_camera)

    def _try_open(self, slot: DeviceSlot, opener: Callable[[], None]) -> bool:
        try:
            opener()
        except DeviceUnavailable as exc:
            if slot.detail != str(exc):
                log.warning("%s: %s", slot.name, exc)
            if slot.problem != "lost":  # a lost device stays "lost" until it opens again
                slot.problem = "missing"
            slot.detail = str(exc)
            self._alert(f"{slot.name}-{slot.problem}", str(exc), None)  # kept once while open
            return False
        if slot.problem is not None:
            self._clear(f"{slot.name}-missing", f"{slot.name}-lost")
        slot.problem, slot.detail = None, None
        return True

    def _close_devices(self) -> None:
        for name in ("mic", "camera"):
            device = getattr(self, name)
            if device is not None:
                setattr(self, name, None)
                try:
                    device.close()
                except Exception as exc:
                    log.warning("closing the %s: %s", name, exc)
        for slot in self.slots.values():
            slot.tried = -1e9

    def _lost_callback(self, name: str) -> LostCallback:
        def lost(reason: str) -> None:
            self._lost.put((name, reason))

        return lost

    def _handle_lost(self) -> None:
        """A device stopped: close the recording, pause the interview, alert staff."""
        while True:
            try:
                name, reason = self._lost.get_nowait()
            except queue.Empty:
                return
            slot = self.slots[name]
            slot.problem, slot.detail, slot.tried = "lost", reason, time.monotonic()
            session_id = self.active.session_id if self.active else None
            if self.active is not None:
                self._stop_recording()
            device = self.mic if name == "microphone" else self.camera
            if name == "microphone":
                self.mic = None
            else:
                self.camera = None
            if device is not None:
                try:
                    device.close()
                except Exception as exc:
                    log.warning("closing the lost %s: %s", name, exc)
            with self.store.read() as db:
                running = session_rows.ids_in_states(db, ("consented", "in_progress"))
            for running_id in running:
                self.engine.pause_for_device(running_id, f"{name}-lost: {reason}")
            self._alert(f"{name}-lost", reason, session_id or (running[0] if running
                                                               else None))

    def _alert(self, kind: str, detail: str, session_id: str | None) -> None:
        now = self.store.now()
        with self.store.transaction() as db:
            alerts.raise_alert(db, kind, detail, now, session_id)

    def _clear(self, *kinds: str) -> None:
        now = self.store.now()
        with self.store.transaction() as db:
            alerts.clear_alerts(db, now, *kinds)

    # --- threads -----------------------------------------------------------------------------

    def _monitor(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                if self.active is not None:
                    self.interview.finish_overdue()  # cut at the limit, not at the next sweep
                self.sync()
            except Exception as exc:  # the monitor must outlive any one failure
                log.exception("capture monitor error")
                self.last_error = str(exc)

    def _finisher(self) -> None:
        while True:
            job = self._finish.get()
            if job is None:
                self._finish.task_done()
                return
            active, recorded = job
            try:
                transcript = None
                if active.live is not None:
                    # before the files are registered for analysis, so that the analysis
                    # finds the transcript and does not decode the recording again
                    transcript = active.live.close()
                    self.last_live = {
                        "answer_id": active.answer_id, "skipped_blocks": active.live.skipped,
                        "error": active.live.error,
                        "words": len(transcript.words) if transcript is not None else None}
                    if transcript is not None and active.live.complete:
                        with self.store.transaction() as db:
                            answer_rows.set_live_transcript(db, active.answer_id,
                                                            transcript.model_dump_json())
                ids = files.register(self.store, self.key, active.answer_id, recorded,
                                     announce_as=self.announce_as)
                if transcript is not None and self._on_transcript:
                    with self.store.read() as db:
                        answer = answer_rows.get(db, active.answer_id)
                    if answer is not None and answer.state == "finished":
                        self._on_transcript(active.answer_id, transcript)
                if ids and self._on_registered is not None:
                    self._on_registered(active.answer_id)
            except Exception as exc:
                log.exception("registering the recordings of answer %s", active.answer_id)
                self.last_error = f"{active.answer_id}: {exc}"
            finally:
                self._finish.task_done()

    def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until closed recordings are registered (for scripts and tests)."""
        deadline = time.monotonic() + timeout_s
        while self._finish.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
