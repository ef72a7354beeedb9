"""The fleet benchmark's load: hundreds of simulated boxes in one process, one thread.

Each box is a paho MQTT 5 client with its own certificate (CN = its device id, so the
broker's per-device ACL applies), connected with ``clean_start=False`` and a session expiry
as a real box is, subscribed to its own ack topic. It publishes its results at QoS 1 in
the contract's envelope, at most ``window`` awaiting central's ack at a time, and resends
what central has not acked after ``resend_s``, as the sync agent does. All clients share
one ``poll`` loop driving paho's ``loop_read``/``loop_write``/``loop_misc``.

``python -m benchmarks.fleet_load SPEC.json``: connects every box, prints ``ready``, starts
on a ``go`` line on stdin, and prints one JSON line (published, resent, rejected, unacked)
when central has acked everything or the deadline passed.
"""

from __future__ import annotations

import json
import os
import select
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shared.contract import ack_topic, message_topic

KIND = "session.result"
NOTES = "x" * 300  # with the envelope, about 700 bytes on the wire


@dataclass(frozen=True)
class Spec:
    host: str
    port: int
    ca: str
    certs: str
    devices: list[str]
    tenant: str
    site: str
    per_box: int
    sessions: int
    window: int
    resend_s: float
    deadline_s: float


def envelope(spec: Spec, device_id: str, seq: int) -> dict[str, Any]:
    """Result ``seq`` (1..per_box) of a box: sessions in turn, ``session_seq`` 1, 2, …"""
    per_session = -(-spec.per_box // spec.sessions)
    session, n = divmod(seq - 1, per_session)
    return {
        "message_id": f"{device_id}:{seq:06d}", "schema_version": "kiosk/v1", "kind": KIND,
        "device_id": device_id, "tenant": spec.tenant, "site": spec.site, "seq": seq,
        "session_id": f"{device_id}-s{session}", "session_seq": n + 1, "drill": False,
        "recorded_at": {"utc": "2025-01-01T00:00:00Z", "mono": float(seq), "boot": "b-1",
                        "synced": True},
        "body": {"question": n, "score": 0.5, "notes": NOTES},
    }


@dataclass
class Box:
    device_id: str
    client: paho.Client
    topic: str
    payloads: dict[str, bytes]
    order: list[str]
    next: int = 0
    unacked: dict[str, float] = field(default_factory=dict)
    subscribed: bool = False
    refused: str = ""
    writing: bool = False
    published: int = 0
    resent: int = 0
    rejected: int = 0

    @property
    def done(self) -> bool:
        return self.next == len(self.order) and not self.unacked

    def pump(self, window: int, resend_s: float, now: float) -> None:
        """Send new results up to the window; resend those central has not acked."""
        for message_id, sent in list(self.unacked.items()):
            if now - sent >= resend_s:
                self._publish(message_id, now)
                self.resent += 1
        while len(self.unacked) < window and self.next < len(self.order):
            self._publish(self.order[self.next], now)
            self.next += 1

    def _publish(self, message_id: str, now: float) -> None:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("message_id", message_id)]
        self.client.publish(self.topic, self.payloads[message_id], qos=1, properties=props)
        self.unacked[message_id] = now
        self.published += 1


def make_box(spec: Spec, device_id: str, dirty: set[str]) -> Box:
    payloads = {}
    for seq in range(1, spec.per_box + 1):
        env = envelope(spec, device_id, seq)
        payloads[env["message_id"]] = json.dumps(env).encode()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=device_id,
                         protocol=paho.MQTTv5)
    ctx = ssl.create_default_context(cafile=spec.ca)
    ctx.load_cert_chain(f"{spec.certs}/{device_id}.pem", f"{spec.certs}/{device_id}.key")
    client.tls_set_context(ctx)
    client.max_inflight_messages_set(max(20, spec.window))
    box = Box(device_id, client, message_topic(spec.tenant, spec.site, device_id, KIND),
              payloads, list(payloads))
    mine = ack_topic(spec.tenant, spec.site, device_id)

    def on_connect(c: paho.Client, u: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            box.refused = str(reason)
            return
        c.subscribe(mine, qos=1)

    def on_subscribe(c: paho.Client, u: Any, mid: int, reasons: list[Any], p: Any) -> None:
        if any(r.is_failure for r in reasons):
            box.refused = f"subscription refused: {reasons}"
        else:
            box.subscribed = True

    def on_message(c: paho.Client, u: Any, message: paho.MQTTMessage) -> None:
        ack = json.loads(message.payload)
        for message_id in ack.get("acked", ()):
            box.unacked.pop(message_id, None)
        box.rejected += len(ack.get("rejected", ()))
        dirty.add(device_id)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    return box


class Fleet:
    """Every box of this process on one ``poll`` loop."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.dirty: set[str] = set()
        self.boxes = {d: make_box(spec, d, self.dirty) for d in spec.devices}
        self.poller = select.poll()
        self.by_fd: dict[int, Box] = {}
        self.stdin_lines: list[str] = []
        self._stdin = b""
        self._misc_at = 0.0

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        for box in self.boxes.values():
            box.client.connect(self.spec.host, self.spec.port, keepalive=60,
                               clean_start=False, properties=props)
            sock = box.client.socket()
            assert sock is not None
            self.by_fd[sock.fileno()] = box
            self.poller.register(sock.fileno(), select.POLLIN)
        self.poller.register(0, select.POLLIN)

    def step(self, timeout_s: float) -> None:
        """One round of the loop: read, write, keep alive."""
        for fd, box in self.by_fd.items():
            wants = box.client.want_write()
            if wants != box.writing:
                box.writing = wants
                self.poller.modify(fd, select.POLLIN | (select.POLLOUT if wants else 0))
        for fd, events in self.poller.poll(timeout_s * 1000):
            if fd == 0:
                self._read_stdin()
                continue
            box = self.by_fd[fd]
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                box.client.loop_read(100)
                sock = box.client.socket()
                while isinstance(sock, ssl.SSLSocket) and sock.pending():
                    box.client.loop_read(100)
            if events & select.POLLOUT:
                box.client.loop_write()
        now = time.monotonic()
        if now - self._misc_at >= 1.0:
            self._misc_at = now
            for box in self.boxes.values():
                box.client.loop_misc()

    def _read_stdin(self) -> None:
        chunk = os.read(0, 4096)
        if not chunk:
            self.stdin_lines.append("eof")
            self.poller.unregister(0)
            return
        self._stdin += chunk
        *lines, rest = self._stdin.split(b"\n")
        self._stdin = rest
        self.stdin_lines += [line.decode().strip() for line in lines]

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(b.subscribed for b in self.boxes.values()):
            refused = [f"{b.device_id}: {b.refused}" for b in self.boxes.values() if b.refused]
            if refused:
                raise RuntimeError(f"broker refused {len(refused)} box(es): {refused[:3]}")
            if time.monotonic() > deadline:
                waiting = [b.device_id for b in self.boxes.values() if not b.subscribed]
                raise RuntimeError(f"{len(waiting)} box(es) not subscribed in {timeout_s:g} s")
            self.step(0.05)

    def wait_line(self, wanted: str) -> None:
        while wanted not in self.stdin_lines:
            if "eof" in self.stdin_lines:
                raise RuntimeError(f"stdin closed before {wanted!r}")
            self.step(0.2)

    def run(self) -> dict[str, Any]:
        spec = self.spec
        start = time.monotonic()
        deadline = start + spec.deadline_s
        pending = {d for d, b in self.boxes.items() if not b.done}
        for box in self.boxes.values():
            box.pump(spec.window, spec.resend_s, start)
        last_resend_check = start
        while pending and time.monotonic() < deadline:
            self.step(0.02)
            now = time.monotonic()
            touched = set(self.dirty)
            self.dirty.clear()
            if now - last_resend_check >= 0.5:  # look for timed-out results now and then
                last_resend_check = now
                touched = set(pending)
            for device_id in touched:
                box = self.boxes[device_id]
                box.pump(spec.window, spec.resend_s, now)
                if box.done:
                    pending.discard(device_id)
        boxes = self.boxes.values()
        return {"seconds": time.monotonic() - start,
                "published": sum(b.published for b in boxes),
                "resent": sum(b.resent for b in boxes),
                "rejected": sum(b.rejected for b in boxes),
                "unacked": sum(len(b.unacked) + len(b.order) - b.next for b in boxes)}

    def close(self) -> None:
        for box in self.boxes.values():
            box.client.disconnect()
            box.client.loop_write()


def main(argv: list[str]) -> int:
    spec = Spec(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    fleet = Fleet(spec)
    fleet.connect()
    fleet.wait_ready(120)
    print("ready", flush=True)
    fleet.wait_line("go")
    result = fleet.run()
    print(json.dumps(result), flush=True)
    fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
