"""The fleet benchmark's baseline: a bare paho MQTT 5 subscriber storing into PostgreSQL.

One process, one connection (persistent session, manual PUBACKs) on a plain
``$share/raw/…`` subscription to the boxes' message topics. Messages are taken in
batches of up to 500, as central's worker does: one ``INSERT … ON CONFLICT DO NOTHING``
per message (psycopg ``executemany``), one commit, then the PUBACKs and one plain JSON ack
per box naming its stored ids (so the same boxes, which wait for an ack, can finish). No
envelope validation, no registry check, no per-session order, no counters.

``python -m benchmarks.fleet_raw --database URL --port P --ca CA --cert C --key K``
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import ssl
import sys
import threading
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

BATCH = 500
TABLE = """CREATE TABLE IF NOT EXISTS raw_messages (
    message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, session_id TEXT,
    session_seq BIGINT, envelope TEXT NOT NULL)"""
INSERT = ("INSERT INTO raw_messages (message_id, device_id, session_id, session_seq, envelope)"
          " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_raw")
    parser.add_argument("--database", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)

    db = psycopg.connect(args.database)
    db.execute(TABLE)
    db.commit()
    inbound: queue.Queue[paho.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw-ingest",
                         protocol=paho.MQTTv5, manual_ack=True)
    client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key,
                   cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)

    def on_connect(c: paho.Client, *_: Any) -> None:
        c.subscribe("$share/raw/kiosk/v1/+/+/+/msg/#", qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, message: inbound.put(message)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(args.host, args.port, keepalive=30, clean_start=False, properties=props)
    client.loop_start()
    if not subscribed.wait(15):
        print("raw subscriber: no subscription granted", file=sys.stderr)
        return 1
    print("raw subscriber ingesting", file=sys.stderr, flush=True)
    try:
        while not stopping.is_set():
            try:
                batch = [inbound.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < BATCH:
                try:
                    batch.append(inbound.get_nowait())
                except queue.Empty:
                    break
            _store(db, client, batch)
    finally:
        client.disconnect()
        client.loop_stop()
        db.close()
    return 0


def _store(db: psycopg.Connection[Any], client: paho.Client,
           batch: list[paho.MQTTMessage]) -> None:
    rows: list[tuple[Any, ...]] = []
    acks: dict[tuple[str, str], list[str]] = {}
    for message in batch:
        data = json.loads(message.payload)
        rows.append((data["message_id"], data["device_id"], data.get("session_id"),
                     data.get("session_seq"), message.payload.decode()))
        topic = message.topic.rsplit("/msg/", 1)[0] + "/ack"
        acks.setdefault((topic, data["device_id"]), []).append(data["message_id"])
    with db.cursor() as cur:
        cur.executemany(INSERT, rows)
    db.commit()
    for message in batch:
        client.ack(message.mid, message.qos)
    for (topic, device_id), ids in acks.items():
        body = {"schema_version": "kiosk/v1", "device_id": device_id, "acked": ids,
                "rejected": []}
        client.publish(topic, json.dumps(body), qos=1)


if __name__ == "__main__":
    sys.exit(main())
