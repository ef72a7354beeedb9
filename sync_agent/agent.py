"""The sync agent: the outbox to central, and central's documents to the store.

One loop owns the store connection; the links' threads only hand it events. A message
leaves the outbox only when central's application-level ack names it. Until then it is
re-sent: after every new connection (in order, from the outbox, never from paho's memory)
and when its ack is overdue. Central dedupes by message id and puts a session's messages
back in order by ``session_seq``, so a resend is always safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlite_utils import Database

from device.central_link import outbox
from device.central_link import sync_control as control
from device.central_link.link_state import LinkState
from device.central_link.outbox import Identity, Outgoing
from device.central_link.tls_files import TlsPaths
from device.config import KioskConfig
from device.storage import media, store_mark
from device.storage.database import Store
from sync_agent import clock_check
from sync_agent.backoff import Backoff
from sync_agent.controls import DeliveryControls
from sync_agent.errors import LinkError
from sync_agent.events import (
    AckReceived,
    Disconnected,
    DocumentReceived,
    Event,
    MediaFailed,
    MediaUploaded,
    Published,
)
from sync_agent.media import MediaUploader, Upload

log = logging.getLogger(__name__)


class Link(Protocol):
    name: str
    epoch: int

    @property
    def connected(self) -> bool: ...

    def connect(self) -> None: ...

    def publish(self, out: Outgoing) -> int: ...

    def close(self) -> None: ...


@dataclass
class InFlight:
    out: Outgoing
    sent_at: float
    epoch: int


DocumentHandler = Callable[[bytes, str], str]


class SyncAgent:
    """Delivery loop over one link. ``step()`` is one turn; ``run()`` turns until stopped."""

    def __init__(
        self, config: KioskConfig, store: Store, link: Link, events: queue.Queue[Event], *,
        on_document: DocumentHandler | None = None,
        uploader: MediaUploader | None = None,
        poll: Callable[[], None] | None = None,
        publish_status: Callable[[int], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = clock_check.utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.link = link
        self.events = events
        self.identity = Identity(config.device.id, config.device.tenant, config.device.site)
        self.on_document = on_document
        self.uploader = uploader
        self.poll = poll
        self.publish_status = publish_status
        self.monotonic = monotonic
        #: The wall clock a failed handshake is checked against (see ``clock_check``).
        self.wall_clock = wall_clock
        sync = config.sync
        self.backoff = Backoff(sync.backoff_initial_s, sync.backoff_max_s)
        self.controls = DeliveryControls(store, sync, monotonic=monotonic)
        self.state = LinkState(link.name)
        self.in_flight: dict[str, InFlight] = {}
        #: Every message sent and not yet settled, kept across reconnects: the only ids an
        #: ack may name (an ack for an earlier send of a message still counts).
        self.awaiting: set[str] = set()
        self.mids: dict[tuple[int, int], str] = {}
        self.retry_at: dict[str, float] = {}
        self.retry_backoff: dict[str, Backoff] = {}
        self.uploading: set[str] = set()
        self.uploaded: set[str] = set()
        self.next_connect = 0.0
        self.next_status = 0.0
        self.next_poll = 0.0

    def reconfigure(self, config: KioskConfig) -> None:
        """Central changed settings (metered mode, bandwidth, poll interval): use them now.

        A technician's override of metered mode or bandwidth still wins.
        """
        self.config = config
        log.info("settings from central applied (metered %s, bandwidth %s kbit/s)",
                 config.sync.metered, config.sync.bandwidth_kbps or "unlimited")
        self.controls.apply(config.sync, force=True)

    @property
    def paused(self) -> bool:
        return self.controls.paused

    def _check_controls(self) -> None:
        changed, retry = self.controls.check()
        if changed and self.state.state == "online":
            self.state.set("online", self._online_detail())
        if retry:
            self._retry_now()

    def _online_detail(self) -> str | None:
        return control.PAUSED_DETAIL if self.paused else None

    def _retry_now(self) -> None:
        """A technician asked to retry: deferred messages and the connection go at once."""
        log.info("retry requested by %s: deferred messages go now%s",
                 self.controls.updated_by,
                 "" if self.link.connected else ", reconnecting")
        self.retry_at.clear()
        self.retry_backoff.clear()
        self.backoff.reset()
        self.next_connect = 0.0
        self.next_poll = 0.0

    # -- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        log.info("sync agent started (%s, device %s)", self.link.name, self.identity.device_id)
        try:
            while not stop.is_set():
                self.step(wait_s=0.05)
        finally:
            self.link.close()
            self.state.set("stopped")
            self.state.flush(self.store, force=True)
            if self.uploader is not None:
                self.uploader.close()

    def step(self, wait_s: float = 0.0) -> None:
        self._check_controls()
        now = self.monotonic()
        if not self.link.connected:
            if now < self.next_connect:
                self._handle_events(min(wait_s, self.next_connect - now))
                self.state.flush(self.store)
                return
            self._connect()
            if not self.link.connected:
                return
        self._expire_overdue(now)
        if not self.paused:  # in flight may still be acked; documents are still applied
            self._fill()
        self._handle_events(wait_s)
        self._periodic()
        self.state.flush(self.store)

    def _connect(self) -> None:
        self.state.set("connecting")
        try:
            self.link.connect()
        except LinkError as exc:
            delay = self.backoff.next_delay()
            self.next_connect = self.monotonic() + delay
            why = clock_check.explain(exc, self.wall_clock(), TlsPaths.from_config(self.config).ca)
            self.state.set("offline", why)
            self.state.note_error(f"cannot connect: {why}", self.store.now())
            log.warning("link to central down: %s (next try in %.1f s)", why, delay)
            self.state.flush(self.store, force=True)
            return
        if self.state.reconnects or self.state.sent:
            log.info("link to central up again")
        self.state.reconnects += 1
        self.backoff.reset()
        # A new connection: everything not acked goes again, from the outbox, in order.
        self._release_all()
        self.state.set("online", self._online_detail())
        self.next_status = 0.0
        self.state.flush(self.store, force=True)

    def _release_all(self) -> None:
        with self.store.transaction() as db:
            outbox.release(db)
        self.in_flight.clear()
        self.mids.clear()

    def _lost(self, reason: str) -> None:
        self.link.close()
        self._release_all()
        delay = self.backoff.next_delay()
        self.next_connect = self.monotonic() + delay
        self.state.set("offline", reason)
        self.state.note_error(f"link lost: {reason}", self.store.now())
        log.warning("link to central lost: %s (reconnecting in %.1f s)", reason, delay)

    # -- sending ------------------------------------------------------------------------

    def _expire_overdue(self, now: float) -> None:
        timeout = self.config.sync.ack_timeout_s
        overdue = [m for m, item in self.in_flight.items() if now - item.sent_at > timeout]
        if overdue:
            with self.store.transaction() as db:
                outbox.release(db, overdue)  # eligible again: resent below
            for message_id in overdue:
                del self.in_flight[message_id]
        for message_id, at in list(self.retry_at.items()):
            if now >= at:
                del self.retry_at[message_id]

    def _fill(self) -> None:
        window = self.config.sync.window
        room = window - len(self.in_flight)
        # Refill in batches, not one message per ack: each refill is a query and a commit.
        if room <= 0 or (self.in_flight and room < max(1, window // 4)):
            return
        busy = set(self.in_flight) | self.uploading
        with self.store.transaction() as db:
            batch = outbox.next_batch(db, self.store.now(), room, busy,
                                      metered=self.controls.metered, held=self.retry_at)
            # Places in a session are given now, in the order chosen (the order written): a
            # recording's message, sent only after its upload, keeps its place before the
            # session's later messages that go out meanwhile.
            outbox.number(db, [r.message_id for r in batch])
            ready = []
            for r in batch:
                if r.kind == "media" and r.message_id not in self.uploaded:
                    self._start_upload(db, r.message_id)
                else:
                    ready.append(r.message_id)
            # Before any of them can leave: central may hold ids up to here from now on.
            store_mark.note_sent(self.store, max((r.seq for r in batch), default=0))
            claimed = outbox.claim(db, ready, self.store.now())
        for out in claimed:
            if not self._send(out):
                return

    def _send(self, out: Outgoing) -> bool:
        self.controls.throttle.take(len(out.payload))
        try:
            mid = self.link.publish(out)
        except LinkError as exc:
            self._lost(str(exc))
            return False
        epoch = self.link.epoch
        self.in_flight[out.message_id] = InFlight(out, self.monotonic(), epoch)
        self.awaiting.add(out.message_id)
        if mid:
            self.mids[(epoch, mid)] = out.message_id
        self.state.count(sent=1)
        return True

    def _start_upload(self, db: Database, message_id: str) -> None:
        if self.uploader is None:
            outbox.record_error(db, message_id, "media waits: no HTTPS URL for uploads is set")
            self.retry_at[message_id] = self.monotonic() + self.config.sync.backoff_max_s
            return
        body = outbox.message_body(db, message_id)
        recording = media.find(db, body["media_id"])
        if recording is None or recording.sha256 is None:
            outbox.record_error(db, message_id, f"media {body['media_id']} is not on the box")
            self._defer(message_id)
            return
        self.uploading.add(message_id)
        self.uploader.submit(Upload(message_id, body["media_id"], Path(recording.path), {
            "bytes": recording.bytes, "sha256": recording.sha256,
            "session_id": recording.session_id,
            "content_type": body.get("content_type", "application/octet-stream")}))

    def _defer(self, message_id: str) -> None:
        """Retry one message later, with its own backoff (central refused it, or the ACL)."""
        backoff = self.retry_backoff.setdefault(
            message_id, Backoff(self.config.sync.backoff_initial_s,
                                self.config.sync.backoff_max_s))
        self.retry_at[message_id] = self.monotonic() + backoff.next_delay()
        self.in_flight.pop(message_id, None)

    # -- events -------------------------------------------------------------------------

    def _handle_events(self, wait_s: float) -> None:
        batch: list[Event] = []
        try:
            batch.append(self.events.get(timeout=wait_s) if wait_s > 0
                         else self.events.get_nowait())
            while len(batch) < 1000:
                batch.append(self.events.get_nowait())
        except queue.Empty:
            pass
        if not batch:
            return
        acked: list[str] = []
        errors: dict[str, str] = {}
        for event in batch:
            if isinstance(event, AckReceived):
                self._take_ack(event, acked, errors)
            elif isinstance(event, Published):
                message_id = self.mids.pop((event.epoch, event.mid), None)
                if message_id is not None and event.failure is not None:
                    errors[message_id] = f"the broker refused it: {event.failure}"
            elif isinstance(event, Disconnected):
                if event.epoch == self.link.epoch:  # not a connection already given up
                    self._lost(event.reason)
            elif isinstance(event, DocumentReceived):
                self._document(event)
            elif isinstance(event, MediaUploaded):
                self.uploading.discard(event.message_id)
                self.uploaded.add(event.message_id)
            elif isinstance(event, MediaFailed):
                self.uploading.discard(event.message_id)
                errors[event.message_id] = event.reason
        self._settle(acked, errors)

    def _take_ack(self, event: AckReceived, acked: list[str], errors: dict[str, str]) -> None:
        """Only what this box sent and still waits for: an ack naming anything else (never
        sent, or already settled) is ignored and logged, so a forged ack can never mark a
        message as delivered."""
        ignored = [m for m in event.ack.acked if m not in self.awaiting]
        acked.extend(m for m in event.ack.acked if m in self.awaiting)
        for rejection in event.ack.rejected:
            if rejection.message_id in self.awaiting:
                errors[rejection.message_id] = f"central refused it: {rejection.reason}"
            else:
                ignored.append(rejection.message_id)
        if ignored:
            log.warning("ignored an ack naming %d message(s) not in flight (e.g. %s)",
                        len(ignored), ignored[0])

    def _settle(self, acked: list[str], errors: dict[str, str]) -> None:
        if not acked and not errors:
            return
        with self.store.transaction() as db:
            done = outbox.mark_acked(db, acked, self.store.now()) if acked else 0
            for message_id, reason in errors.items():
                outbox.record_error(db, message_id, reason)
        self.awaiting.difference_update(acked)
        self.awaiting.difference_update(errors)
        for message_id in acked:
            self.in_flight.pop(message_id, None)
            self.retry_backoff.pop(message_id, None)
            self.uploaded.discard(message_id)
        retry = [m for m in errors if m not in acked]
        if retry:
            with self.store.transaction() as db:
                outbox.release(db, retry)
        for message_id in retry:
            log.warning("message %s not delivered: %s", message_id, errors[message_id])
            self._defer(message_id)
        if retry:
            last = retry[-1]
            self.state.note_error(f"message {last} not delivered: {errors[last]}",
                                  self.store.now())
        if done:
            self.state.note_ack(self.store.now())
        self.state.count(acked=done)

    def _document(self, event: DocumentReceived) -> None:
        if self.on_document is None:
            log.warning("a document from central arrived but this agent cannot apply documents")
            return
        try:
            outcome = self.on_document(event.data, event.via)
        except Exception:  # the delivery loop must outlive one document (it comes again)
            log.exception("applying a document from central (%s) failed", event.via)
            return
        log.info("document from central (%s): %s", event.via, outcome)

    def _periodic(self) -> None:
        now = self.monotonic()
        if self.publish_status is not None and now >= self.next_status:
            self.next_status = now + 60.0
            with self.store.read() as db:
                depth = sum(outbox.depth(db).values())
            try:
                self.publish_status(depth)
            except LinkError as exc:
                self._lost(str(exc))
        if self.poll is not None and now >= self.next_poll:
            self.next_poll = now + self.config.sync.poll_interval_s
            try:
                self.poll()
            except LinkError as exc:
                log.warning("document poll failed: %s", exc)
                self.next_poll = now + min(60.0, self.config.sync.poll_interval_s)

    # -- for tests, benchmarks and ``kiosk sync --until-drained`` ------------------------

    def drained(self) -> bool:
        if self.in_flight or self.uploading:
            return False
        with self.store.read() as db:
            return not outbox.has_undelivered(db)
