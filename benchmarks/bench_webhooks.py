"""Webhook delivery into an HR system: rate against bare HTTP posts, and a receiver outage.

The receiver is the documented example consumer (docs/examples/webhook_consumer.py) in its
own process, verifying each signature and storing each event once in its SQLite inbox;
central's store is PostgreSQL. Interviews are ingested as their ``session.state``
(completed) and ``session.report`` messages, two events each.

Rate. Ours: the events delivered by :class:`central.webhooks.delivery.Deliverer` rounds
(pick the due deliveries in order per candidate, lease, sign, POST, record the outcome),
per second. Baseline: httpx posting the same events (with fresh ids, so the receiver
stores each) signed the same way to the same receiver, one after another, nothing
recorded. Each round uses a fresh database; the table quotes the medians.

Outage. The receiver is stopped while interviews keep arriving, for ten minutes (thirty
seconds with ``--quick``), under the default retry policy (10 s doubling up to ten minutes);
then it is started again on the same port and the deliverer runs until the queue is
empty. Reported: events lost, events out of order per candidate, and how long after the
receiver came back everything was delivered.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.common import NO_BASELINE, Row, median, peak_rss_mib, progress, ratio
from benchmarks.fleet_setup import postgres
from central.broker import free_port
from central.messages import ingest
from central.store import ReceiverStore
from central.webhooks import endpoints, events, signing
from central.webhooks.delivery import Deliverer, RetryPolicy
from shared.contract import Envelope

ROOT = Path(__file__).resolve().parents[1]
CONSUMER = ROOT / "docs" / "examples" / "webhook_consumer.py"
ROUNDS = {False: 5, True: 3}
INTERVIEWS = {False: 200, True: 50}
OUTAGE_S = {False: 600.0, True: 30.0}


def _envelope(n: int, kind: str, session_seq: int, body: dict[str, object]) -> Envelope:
    return Envelope.model_validate({
        "message_id": f"bench-1:{n:012d}", "schema_version": "kiosk/v1", "kind": kind,
        "device_id": "bench-1", "tenant": "bench", "site": "hall", "seq": n,
        "session_id": f"s-{n // 2}", "drill": False, "session_seq": session_seq,
        "recorded_at": {"utc": "2026-12-05T08:00:00Z", "mono": float(n), "boot": "b",
                        "synced": True},
        "body": body})


def interview(store: ReceiverStore, k: int) -> None:
    """One finished interview's two messages (so two events), ingested."""
    done = {"from": "in_progress", "to": "completed", "action": "finish",
            "job_id": "assembly-line-operator", "job_version": 3, "candidate_id": f"c-{k}"}
    card = {"job_id": "assembly-line-operator", "package_version": 3, "complete": True,
            "pending": [], "overall": 7.0, "min_score": 0, "max_score": 10,
            "competencies": [{"id": "communication", "score": 7.0, "status": "scored"}]}
    with store.transaction() as conn:
        ingest(conn, _envelope(2 * k, "session.state", 1, done), "https")
        ingest(conn, _envelope(2 * k + 1, "session.report", 2,
                               {"revision": 1, "scorecard": card, "report": {}}), "https")


class Receiver:
    def __init__(self, secret: str, inbox: Path, port: int) -> None:
        self.secret, self.inbox, self.port = secret, inbox, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CONSUMER), "--port", str(self.port), "--inbox",
             str(self.inbox)], env={**os.environ, "WEBHOOK_SECRET": self.secret},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the example consumer did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def stored(self) -> list[tuple[str, int, str]]:
        with sqlite3.connect(self.inbox) as db:
            found = db.execute("SELECT event_id, sequence, body FROM inbox").fetchall()
        return [(e, int(s), json.loads(b)["session_id"]) for e, s, b in found]


def drain(deliverer: Deliverer) -> None:
    while deliverer.run_once():
        pass


def rate_round(url: str, k0: int, n: int, receiver: Receiver) -> tuple[float, float]:
    """(ours, bare) events per second for ``n`` interviews on a fresh database."""
    store = ReceiverStore(url)
    endpoints.add(store, f"http://127.0.0.1:{receiver.port}/kiosk", [])
    with store.transaction() as conn:  # this round's endpoint signs with the receiver's secret
        conn.execute("UPDATE webhook_endpoints SET secret = ?", (receiver.secret,))
    for k in range(k0, k0 + n):
        interview(store, k)
    deliverer = Deliverer(store)
    started = time.perf_counter()
    drain(deliverer)
    ours = 2 * n / (time.perf_counter() - started)
    with store.read() as conn:
        # fresh event ids, so the receiver stores each one as it did ours
        bodies = [json.dumps({**e, "event_id": str(uuid.uuid4())}, ensure_ascii=False,
                             sort_keys=True).encode() for e in events.after(conn, 0, 10 * n)]
    deliverer.stop()
    store.close()
    with httpx.Client(timeout=10) as client:
        started = time.perf_counter()
        for body in bodies:
            answer = client.post(f"http://127.0.0.1:{receiver.port}/kiosk", content=body,
                                 headers={signing.HEADER: signing.sign(
                                     receiver.secret, int(time.time()), body),
                                     "Content-Type": "application/json"})
            answer.raise_for_status()
        bare = len(bodies) / (time.perf_counter() - started)
    return ours, bare


def outage(url: str, quick: bool, receiver: Receiver) -> dict[str, float]:
    store = ReceiverStore(url)
    _, secret = endpoints.add(store, f"http://127.0.0.1:{receiver.port}/kiosk", [])
    receiver.secret = secret
    receiver.inbox.unlink(missing_ok=True)
    deliverer = Deliverer(store, policy=RetryPolicy())
    deliverer.start(idle_s=0.5)
    k, down_s = 10_000_000, OUTAGE_S[quick]
    ends = time.monotonic() + down_s
    while time.monotonic() < ends:  # interviews keep coming while the receiver is away
        progress(f"webhooks: receiver down, {ends - time.monotonic():.0f} s to go")
        interview(store, k)
        k += 1
        time.sleep(min(5.0, down_s / 20))
    made = 2 * (k - 10_000_000)
    receiver.start()
    back = time.monotonic()
    while len(receiver.stored()) < made:
        if time.monotonic() - back > 3900:
            break
        time.sleep(0.5)
    caught_up = time.monotonic() - back
    deliverer.stop()
    store.close()
    got = receiver.stored()
    arrived: dict[str, list[int]] = {}
    with sqlite3.connect(receiver.inbox) as db:
        for seq, body in db.execute("SELECT sequence, body FROM inbox ORDER BY received"):
            arrived.setdefault(json.loads(body)["session_id"], []).append(int(seq))
    out_of_order = sum(1 for seqs in arrived.values() if seqs != sorted(seqs))
    return {"made": made, "lost": made - len({g[0] for g in got}),
            "out_of_order": out_of_order, "caught_up_s": caught_up, "down_s": down_s}


def run(quick: bool) -> list[Row]:
    rows = []
    with postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        receiver = Receiver(signing.new_secret(), Path(tmp) / "inbox.db", free_port())
        receiver.start()
        ours: list[float] = []
        bare: list[float] = []
        n = INTERVIEWS[quick]
        for index in range(ROUNDS[quick]):
            progress(f"webhooks: rate, round {index + 1}/{ROUNDS[quick]}")
            mine, theirs = rate_round(pg.create_database(f"webhooks_{index}"), index * n, n,
                                      receiver)
            ours.append(mine)
            bare.append(theirs)
        receiver.stop()
        mine_m, bare_m = round(median(ours), 1), round(median(bare), 1)
        rows.append(Row(
            benchmark="webhooks: events delivered/s", ours=mine_m, baseline=bare_m,
            ratio=ratio(mine_m, bare_m), unit="events/s", better="higher",
            peak_rss_mib=peak_rss_mib(),
            notes=f"Deliverer rounds on PostgreSQL vs bare httpx posts of the same signed"
                  f" bodies, to the example consumer (its own process); {2 * n} events"))
        result = outage(pg.create_database("webhooks_outage"), quick, receiver)
        receiver.stop()
        rows.append(Row(
            benchmark="webhooks: receiver down, caught up after", ours=round(
                result["caught_up_s"], 1), baseline=None, ratio=None, unit="s",
            better="lower", peak_rss_mib=peak_rss_mib(),
            notes=f"{NO_BASELINE}: no library retries webhooks this way; receiver down"
                  f" {result['down_s']:.0f} s with interviews arriving, {result['made']:.0f}"
                  f" events: {result['lost']:.0f} lost, {result['out_of_order']:.0f}"
                  " candidates out of order; default retry policy (10 s doubling up to 10 min)"))
    return rows
