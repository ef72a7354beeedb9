"""The MQTT worker: validate what boxes publish, store it, then ack it.

Messages that arrive together are stored in one transaction; only after its commit are
central's acks queued and the broker's PUBACKs sent. A message that is not a valid
envelope, or does not match the topic it came on, is acked as ``rejected`` with the
reason (the box keeps it and audits why). A message or status under a tenant and site
other than its device's enrolled ones is refused and logged, and never stored.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from central.acks import AckPublisher
from central.messages import Ingested, ingest_batch, record_status
from central.mqtt import Inbound, MqttLink
from central.registry import Device, lookup
from central.store import ReceiverStore
from shared.contract import Envelope, Rejection, Status, ack_topic

log = logging.getLogger(__name__)

NewDevice = Callable[[str, str, str], None]
BATCH = 500


@dataclass(frozen=True)
class _Parsed:
    inbound: Inbound
    tenant: str
    site: str
    device_id: str
    envelope: Envelope | None = None
    message_id: str | None = None
    problem: str = ""


def describe(exc: ValidationError) -> str:
    """The first few validation errors as one readable line."""
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_message(inbound: Inbound, tenant: str, site: str, device_id: str,
                  kind: str) -> _Parsed:
    hinted = inbound.user_properties.get("message_id")
    try:
        data = json.loads(inbound.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _Parsed(inbound, tenant, site, device_id, message_id=hinted,
                       problem=f"payload is not JSON: {exc}")
    if isinstance(data, dict) and isinstance(data.get("message_id"), str):
        hinted = data["message_id"]
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        return _Parsed(inbound, tenant, site, device_id, message_id=hinted,
                       problem=f"not a valid envelope: {describe(exc)}")
    mismatch = [f"{name} {value!r} (topic says {expected!r})" for name, value, expected in (
        ("tenant", envelope.tenant, tenant), ("site", envelope.site, site),
        ("device_id", envelope.device_id, device_id), ("kind", envelope.kind, kind))
        if value != expected]
    if mismatch:
        return _Parsed(inbound, tenant, site, device_id, message_id=envelope.message_id,
                       problem="envelope does not match its topic: " + ", ".join(mismatch))
    return _Parsed(inbound, tenant, site, device_id, envelope, envelope.message_id)


class MqttIngest:
    def __init__(self, store: ReceiverStore, link: MqttLink, acks: AckPublisher,
                 on_new_device: NewDevice) -> None:
        self.store = store
        self.link = link
        self.acks = acks
        self.on_new_device = on_new_device
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="receiver-mqtt-ingest",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.link.inbound.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self.link.inbound.get_nowait())
                except queue.Empty:
                    break
            try:
                self.handle(batch)
            except Exception:  # not PUBACKed: the broker and the box will send it again
                log.exception("storing %d MQTT message(s) failed", len(batch))

    def handle(self, batch: list[Inbound]) -> None:
        parsed: list[_Parsed] = []
        known: dict[str, Device | None] = {}
        for inbound in batch:
            parts = inbound.topic.split("/")
            if len(parts) in (6, 7) and not self._enrolled_path(inbound, parts, known):
                self.link.puback(inbound)  # refused for good: not to be delivered again
            elif len(parts) == 7 and parts[5] == "msg":
                parsed.append(parse_message(inbound, parts[2], parts[3], parts[4], parts[6]))
            elif len(parts) == 6 and parts[5] == "status":
                self._status(inbound, parts[2], parts[3], parts[4])
                self.link.puback(inbound)
            else:
                log.warning("ignoring a message on unexpected topic %s", inbound.topic)
                self.link.puback(inbound)
        valid = [(p, p.envelope) for p in parsed if p.envelope is not None]
        results: list[Ingested] = []
        if valid:
            envelopes = [envelope for _, envelope in valid]
            # acks and PUBACKs only after this commit (retried on a deadlock)
            results = self.store.retrying(lambda conn: ingest_batch(conn, envelopes, "mqtt"))
        for (p, _), outcome in zip(valid, results, strict=True):
            topic = ack_topic(p.tenant, p.site, p.device_id)
            if outcome.acked:
                self.acks.add(topic, p.device_id, [outcome.message_id], [])
            else:
                log.warning("rejected %s: %s", outcome.message_id, outcome.reason)
                self.acks.add(topic, p.device_id, [],
                              [Rejection(message_id=outcome.message_id, reason=outcome.reason)])
            if outcome.new_device:
                self.on_new_device(p.tenant, p.site, p.device_id)
        for p in parsed:
            if p.envelope is None:
                self._reject(p)
            self.link.puback(p.inbound)
        self.acks.release()  # one stored batch, one ack per box, sent at once

    def _enrolled_path(self, inbound: Inbound, parts: list[str],
                       known: dict[str, Device | None]) -> bool:
        """Whether the topic's tenant and site are those its device is enrolled with.

        The broker lets a box publish only under its own name; central still takes the
        tenant and site from the registry, never from the topic, and refuses (and logs)
        the rest, unstored and unacked.
        """
        tenant, site, device_id = parts[2], parts[3], parts[4]
        if device_id not in known:
            known[device_id] = lookup(self.store, device_id)
        device = known[device_id]
        if device is None:
            log.warning("refused a message on %s: device %s is not enrolled", inbound.topic,
                        device_id)
            return False
        if (tenant, site) != (device.tenant, device.site):
            log.warning("refused a message on %s: %s is enrolled for %s/%s", inbound.topic,
                        device_id, device.tenant, device.site)
            return False
        return True

    def _reject(self, p: _Parsed) -> None:
        log.warning("rejected a message on %s: %s", p.inbound.topic, p.problem)
        if p.message_id is None:
            return  # nothing to name in an ack; the box's own timeout resends it
        self.acks.add(ack_topic(p.tenant, p.site, p.device_id), p.device_id, [],
                      [Rejection(message_id=p.message_id, reason=p.problem[:500])])

    def _status(self, inbound: Inbound, tenant: str, site: str, device_id: str) -> None:
        if not inbound.payload:
            return  # a cleared retained status
        try:
            status = Status.model_validate_json(inbound.payload)
        except ValidationError as exc:
            log.warning("ignoring a bad status on %s: %s", inbound.topic, describe(exc))
            return
        if status.device_id != device_id:
            log.warning("ignoring a status for %s on %s", status.device_id, inbound.topic)
            return
        if record_status(self.store, tenant, site, status):
            self.on_new_device(tenant, site, device_id)
