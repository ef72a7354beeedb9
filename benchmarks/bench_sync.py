"""Delivery to central: outbox drain rate, a fleet of boxes, media upload throughput.

All against a real Mosquitto (mutual TLS) and the reference receiver on loopback.

- **Drain**: N results of 2 KB in the outbox (synchronous=FULL store), delivered by the
  sync agent until central has acked every one, against raw paho publishing the same
  number of 2 KB QoS 1 messages to the same broker and waiting for the PUBACKs. Ours does
  more per message (a durable claim, central's own durable commit and ack, the ack's
  durable commit on the box); the target is at least half the raw rate.
- **Fleet**: 100 boxes in one process, each with its own store and MQTT connection,
  draining 50 results each into one receiver: messages/s, lost and duplicated after
  dedupe (from the receiver's per-box counts), memory per box and an idle agent's CPU.
  No baseline: raw paho boxes would neither wait for central's ack nor dedupe, so there
  is nothing like it.
- **Media**: one file through the agent's resumable chunked upload (a SHA-256 per chunk
  and for the file, fsync per chunk at central) against one plain streaming HTTPS PUT of
  the same file to a bare endpoint that writes and fsyncs it.

Rounds alternate which side runs first; the table quotes medians.
"""

from __future__ import annotations

import hashlib
import os
import queue
import resource
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from fastapi import FastAPI, Request
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.common import (
    NO_BASELINE,
    Row,
    median,
    peak_rss_mib,
    progress,
    ratio,
    scratch_dir,
    serve,
)
from benchmarks.sync_setup import SITE, TENANT, LocalCentral, local_central
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.storage.database import Store
from shared.contract import message_topic
from sync_agent.assembly import build
from sync_agent.events import Event
from sync_agent.https_link import HttpsLink
from sync_agent.tls import TlsFiles

BODY = "x" * 1900  # with the envelope, about 2 KB on the wire
#: Boxes in the full fleet run. They all live in this one process, and every idle agent
#: polls its outbox 20 times a second: at 200 on two cores the process starves its own
#: network threads and CONNACKs miss the 15 s connect timeout, which measures the harness.
FLEET_BOXES = 100
FLEET_DEADLINE_S = 300.0
IDLE_S = 5.0


def _fill(store: Store, identity: Identity, count: int, sessions: int) -> None:
    with store.transaction() as db:
        for n in range(count):
            outbox.enqueue(db, identity, store.now(), "session.result", {"n": n, "f": BODY},
                           session_id=f"{identity.device_id}-s{n % sessions}")


def _drain_ours(central: LocalCentral, root: Path, device_id: str, count: int) -> float:
    config = central.box_config(root / device_id, device_id)
    store = Store(config.db_path)
    _fill(store, Identity(device_id, TENANT, SITE), count, sessions=max(count // 20, 1))
    service = build(config, store)
    stop = threading.Event()
    start = time.perf_counter()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    while not service.agent.drained():
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join(timeout=10)
    store.close()
    return count / elapsed


def _drain_raw(central: LocalCentral, device_id: str, count: int, window: int) -> float:
    cred = central.device(device_id)
    acked: queue.Queue[int] = queue.Queue()
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id,
                         protocol=mqtt.MQTTv5)
    client.tls_set_context(central.client_context(cred))
    client.max_inflight_messages_set(window)
    client.on_connect = lambda *a: connected.set()
    client.on_publish = lambda c, u, mid, rc, p: acked.put(mid)
    client.connect("127.0.0.1", central.broker.port, keepalive=30)
    client.loop_start()
    connected.wait(10)
    topic = message_topic(TENANT, SITE, device_id, "session.result")
    identity = Identity(device_id, TENANT, SITE)
    scratch = Store(central.root / f"{device_id}-payloads.db")
    _fill(scratch, identity, count, sessions=max(count // 20, 1))
    payloads = [r["payload"].encode() for r in scratch.all("SELECT payload FROM outbox")]
    scratch.close()
    start = time.perf_counter()
    for payload in payloads:
        client.publish(topic, payload, qos=1)
    for _ in payloads:
        acked.get(timeout=60)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return count / elapsed


def drain_rows(central: LocalCentral, root: Path, quick: bool) -> list[Row]:
    count, rounds = (500, 1) if quick else (3000, 3)
    ours, raw = [], []
    window = central.box_config(root / "probe", "probe").sync.window
    for r in range(rounds):
        order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
        for name in order:
            progress(f"sync drain round {r + 1}/{rounds}: {name}")
            if name == "ours":
                ours.append(_drain_ours(central, root, f"box-{r}", count))
            else:
                raw.append(_drain_raw(central, f"raw-{r}", count, window))
    o, b = median(ours), median(raw)
    return [Row(benchmark="sync: outbox drain, 2 KB results, QoS 1 + central ack", ours=o,
                baseline=b, ratio=ratio(o, b), unit="messages/s", better="higher",
                peak_rss_mib=peak_rss_mib(),
                notes=f"median of {rounds} rounds × {count} messages, window {window}; raw ="
                      " paho QoS 1 PUBACKs only (no durable claim, no central commit and ack);"
                      " target ratio >= 0.5")]


def fleet_rows(central: LocalCentral, root: Path, quick: bool) -> list[Row]:
    boxes, per_box = (20, 50) if quick else (FLEET_BOXES, 50)
    progress(f"sync fleet: {boxes} boxes x {per_box} results")
    before = _rss_now_mib()
    counted = _settled(central)  # the raw side's messages may still be arriving
    services, stops, stores = [], [], []
    device_ids = [f"fleet-{b:03d}" for b in range(boxes)]
    for device_id in device_ids:
        config = central.box_config(root / "fleet" / device_id, device_id,
                                    POLL_INTERVAL_S="86400")
        store = Store(config.db_path)
        _fill(store, Identity(device_id, TENANT, SITE), per_box, sessions=5)
        stores.append(store)
        services.append(build(config, store))
    start = time.perf_counter()
    threads = []
    for service in services:
        stop = threading.Event()
        stops.append(stop)
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + FLEET_DEADLINE_S
    drained = True
    while not all(s.agent.drained() for s in services):
        if time.monotonic() > deadline:
            drained = False
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    per_box_mib = (_rss_now_mib() - before) / boxes
    cpu = time.process_time()  # the agents with nothing left to send
    time.sleep(IDLE_S)
    idle_share = (time.process_time() - cpu) / IDLE_S / boxes
    for stop in stops:
        stop.set()
    for thread in threads:
        thread.join(timeout=10)
    for store in stores:
        store.close()
    after = central.stats()
    stored = after["stored"] - counted["stored"]
    copies = after["copies"] - counted["copies"]
    expected = boxes * per_box
    per_device = [int(after["devices"].get(d, {}).get("messages", 0)) for d in device_ids]
    missing = sum(max(0, per_box - n) for n in per_device)
    extra = sum(max(0, n - per_box) for n in per_device)
    outcome = (f"lost {missing}" if drained else
               f"NOT DRAINED in {FLEET_DEADLINE_S:g} s: {missing} undelivered")
    return [Row(benchmark=f"sync: fleet of {boxes} boxes x {per_box} results",
                ours=(expected - missing) / elapsed, baseline=None, ratio=None,
                unit="messages/s", better="higher", peak_rss_mib=peak_rss_mib(),
                notes=f"{NO_BASELINE}: raw paho has no central ack or dedupe to compare;"
                      f" {outcome}, duplicates after dedupe {extra} (stored {stored} of"
                      f" {expected}; {copies - stored} resent copies dropped);"
                      f" {per_box_mib:.2f} MiB per box; an idle agent uses"
                      f" {100 * idle_share:.2f}% of a core (all boxes in one process)")]


def media_rows(central: LocalCentral, root: Path, quick: bool) -> list[Row]:
    size_mib, rounds = (16, 1) if quick else (64, 3)
    path = root / "media.bin"
    with path.open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    digest = _sha256(path)
    sink = root / "raw-sink"
    sink.mkdir()
    raw_app = FastAPI()

    @raw_app.put("/raw/{name}")
    async def raw_put(name: str, request: Request) -> dict[str, int]:
        target = sink / name
        total = 0
        with target.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
                total += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return {"bytes": total}

    cred = central.device("media-box")
    ctx = central.client_context(cred)
    config = central.box_config(root / "media-box", "media-box")
    tls = TlsFiles.from_config(config).context()
    identity = Identity("media-box", TENANT, SITE)
    ours, raw = [], []
    with serve(raw_app, tls=(central.https_cred.cert, central.https_cred.key)) as raw_url:
        for r in range(rounds):
            def run_ours(r: int = r) -> None:
                events: queue.Queue[Event] = queue.Queue()
                link = HttpsLink(identity, central.url, tls, events=events, timeout_s=120)
                start = time.perf_counter()
                link.upload(f"bench-{r}", path, {"bytes": path.stat().st_size,
                                                 "sha256": digest, "session_id": "s"},
                            1 << 20)
                ours.append(size_mib / (time.perf_counter() - start))
                link.shutdown()

            def run_raw(r: int = r) -> None:
                with httpx.Client(verify=ctx, timeout=120) as client, path.open("rb") as f:
                    start = time.perf_counter()
                    client.put(f"{raw_url}/raw/{r}", content=f).raise_for_status()
                    raw.append(size_mib / (time.perf_counter() - start))

            sides = [("ours", run_ours), ("raw", run_raw)]
            for name, run in (sides if r % 2 == 0 else sides[::-1]):
                progress(f"sync media round {r + 1}/{rounds}: {name}")
                run()
    o, b = median(ours), median(raw)
    return [Row(benchmark=f"sync: media upload {size_mib} MiB, 1 MiB chunks, resumable",
                ours=o, baseline=b, ratio=ratio(o, b), unit="MiB/s", better="higher",
                peak_rss_mib=peak_rss_mib(),
                notes=f"median of {rounds} rounds; ours: SHA-256 per chunk and file, fsync per"
                      " chunk at central; raw = one streaming HTTPS PUT, fsync at the end")]


def _sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB pieces (not held whole: peak RSS is reported)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def _settled(central: LocalCentral) -> dict[str, Any]:
    """The receiver's counts once they stop changing."""
    last = central.stats()
    while True:
        time.sleep(1.0)
        now = central.stats()
        if now["copies"] == last["copies"]:
            return now
        last = now


def _rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1048576


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    with scratch_dir("sync") as root:
        with local_central(root / "central") as central:
            rows += drain_rows(central, root, quick)
            rows += fleet_rows(central, root, quick)
            rows += media_rows(central, root, quick)
        shutil.rmtree(root / "fleet", ignore_errors=True)
    return rows

