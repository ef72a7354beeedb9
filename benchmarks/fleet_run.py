"""One run of the fleet benchmark: a fresh broker and database, the consumers (central's
workers or the raw subscriber), the load generators and a few real sync agents; then what
central holds, checked (see :func:`check_central`)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import progress
from benchmarks.fleet_load import Spec
from benchmarks.fleet_setup import (
    ROOT,
    SITE,
    TENANT,
    PgServer,
    Pki,
    broker,
    cpu_s,
    peak_rss_of,
    postgres_cpu_s,
    raw_subscriber,
    register_all,
    stop,
    worker,
)
from central.messages import stats
from central.registry import Device
from central.store import open_store
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.config_loader import load_config
from device.storage.database import Store
from sync_agent.assembly import AgentProcess, build

#: Results central may leave unacked before a box sends them again (the agent's default
#: is 60 s; the kill run wants them back sooner).
RESEND_S = 30.0
#: Results a simulated box has awaiting central's ack at once.
WINDOW = 5
#: A run that has not finished after this long fails.
DEADLINE_S = 1200.0
#: How long the "supervisor" waits before it restarts a killed worker.
RESTART_AFTER_S = 1.0


@dataclass(frozen=True)
class Plan:
    """What one run sends, and to whom."""

    boxes: list[str]
    agents: list[str]
    per_box: int
    sessions: int
    generators: int

    @property
    def total(self) -> int:
        return (len(self.boxes) + len(self.agents)) * self.per_box

    def devices(self) -> list[Device]:
        return [Device(d, TENANT, SITE) for d in (*self.boxes, *self.agents)]


@dataclass
class Outcome:
    seconds: float
    messages: int
    published: int = 0
    resent: int = 0
    copies: int = 0
    peak_rss_mib: float = 0.0
    killed_at: int | None = None
    #: CPU seconds used during the run, by who: workers (or raw), postgres, broker, load,
    #: agents (this process).
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


class Generator:
    """A ``benchmarks.fleet_load`` process and the lines it prints, with when."""

    def __init__(self, spec: Spec, path: Path, log: Path) -> None:
        path.write_text(json.dumps(asdict(spec)), encoding="utf-8")
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fleet_load", str(path)], cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.log = log
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.decode().strip()))
        self.lines.put((time.monotonic(), ""))

    def next_line(self, timeout_s: float) -> tuple[float, str]:
        try:
            at, line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"load generator silent for {timeout_s:g} s") from None
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"load generator exited ({self.proc.wait()}):\n{tail}")
        return at, line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Agents:
    """Real sync agents (``sync_agent.assembly.build``), each with its outbox filled."""

    def __init__(self, plan: Plan, pki: Pki, root: Path, port: int) -> None:
        self.services: list[AgentProcess] = []
        self.stores: list[Store] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        for device_id in plan.agents:
            cred = pki.box(device_id)
            config = load_config(None, {
                "KIOSK_DATA_DIR": str(root / device_id), "KIOSK_DEVICE_ID": device_id,
                "KIOSK_DEVICE_TENANT": TENANT, "KIOSK_DEVICE_SITE": SITE,
                "KIOSK_SYNC_MQTT_HOST": "127.0.0.1", "KIOSK_SYNC_MQTT_PORT": str(port),
                "KIOSK_SYNC_CA_FILE": str(pki.ca.cert), "KIOSK_SYNC_CERT_FILE": str(cred.cert),
                "KIOSK_SYNC_KEY_FILE": str(cred.key),
                "KIOSK_SYNC_SIGNING_KEY_FILE": str(pki.signing_pub),
                "KIOSK_SYNC_ACK_TIMEOUT_S": str(RESEND_S), "KIOSK_SYNC_POLL_INTERVAL_S": "86400",
                "KIOSK_LOGGING_LEVEL": "WARNING"})
            store = Store(config.db_path)
            self.stores.append(store)
            identity = Identity(device_id, TENANT, SITE)
            with store.transaction() as db:
                for n in range(plan.per_box):
                    outbox.enqueue(db, identity, store.now(), "session.result",
                                   {"n": n, "notes": "x" * 300},
                                   session_id=f"{device_id}-s{n % plan.sessions}")
            self.services.append(build(config, store))

    def start(self) -> None:
        for service in self.services:
            thread = threading.Thread(target=service.run, args=(self.stop,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def drained(self) -> bool:
        return all(s.agent.drained() for s in self.services)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        for store in self.stores:
            store.close()


def run_once(plan: Plan, pki: Pki, pg: PgServer, root: Path, label: str, *,
             workers: int = 0, kill: bool = False) -> Outcome:
    """Deliver the plan's results into ``workers`` central workers (0: the raw
    subscriber); ``kill``: ``kill -9`` worker 1 when a third is stored, then restart it."""
    root.mkdir(parents=True)
    url = pg.create_database(f"fleet_{label}")
    if workers:
        register_all(url, plan.devices())
    mqtt = broker(pki, root / "broker", plan.devices())
    consumers: dict[int, subprocess.Popen[bytes]] = {}
    generators: list[Generator] = []
    agents: Agents | None = None
    try:
        mqtt.start()
        if workers:
            for n in range(1, workers + 1):
                consumers[n] = worker(pki, mqtt, url, n, root / f"worker-{n}.log")
        else:
            consumers[0] = raw_subscriber(pki, mqtt, url, root / "raw.log")
        agents = Agents(plan, pki, root / "agents", mqtt.port)
        chunks = [plan.boxes[g::plan.generators] for g in range(plan.generators)]
        for g, chunk in enumerate(chunks):
            spec = Spec("127.0.0.1", mqtt.port, str(pki.ca.cert), str(pki.boxes), chunk,
                        TENANT, SITE, plan.per_box, plan.sessions, WINDOW, RESEND_S,
                        DEADLINE_S)
            generators.append(Generator(spec, root / f"load-{g}.json", root / f"load-{g}.log"))
        for generator in generators:
            generator.next_line(180)  # "ready": every box connected and subscribed
        progress(f"fleet {label}: {plan.total} messages from {len(plan.boxes)} boxes and"
                 f" {len(plan.agents)} sync agents into "
                 f"{f'{workers} worker(s)' if workers else 'the raw subscriber'}")
        def cpu() -> dict[str, float]:
            return {"ingest": sum(cpu_s(p.pid) for p in consumers.values()),
                    "postgres": postgres_cpu_s(pg), "broker": cpu_s(mqtt.pid or 0),
                    "load": sum(cpu_s(g.proc.pid) for g in generators),
                    "agents": time.process_time()}

        before = cpu()
        start = time.monotonic()
        for generator in generators:
            generator.send("go")
        agents.start()
        outcome = Outcome(0.0, plan.total)
        def restart(n: int) -> subprocess.Popen[bytes]:
            return worker(pki, mqtt, url, n, root / f"worker-{n}.log")

        results = _wait(plan, generators, agents, url, consumers, start, outcome,
                        restart if kill else None)
        for result in results:
            outcome.published += result["published"]
            outcome.resent += result["resent"]
            if result["rejected"] or result["unacked"]:
                raise RuntimeError(f"fleet {label}: boxes not done: {result}")
        outcome.cpu = {k: v - before[k] for k, v in cpu().items()}
        outcome.peak_rss_mib = max([peak_rss_of(p.pid) for p in consumers.values()] or [0.0])
        if workers:
            _, outcome.copies = check_central(plan, url, label)
        else:
            check_raw(plan, url, label)
        return outcome
    finally:
        for generator in generators:
            generator.kill()
        if agents is not None:
            agents.close()
        for proc in consumers.values():
            stop(proc)
        mqtt.stop()


def _wait(plan: Plan, generators: list[Generator], agents: Agents, url: str,
          consumers: dict[int, subprocess.Popen[bytes]], start: float, outcome: Outcome,
          restart: Callable[[int], subprocess.Popen[bytes]] | None) -> list[dict[str, Any]]:
    """Until every box and agent is done; kill and restart worker 1 on the way when
    ``restart`` is given. Sets ``outcome.seconds``."""
    results: list[dict[str, Any]] = []
    ends: list[float] = []
    agents_done: float | None = None
    waiting = list(generators)
    deadline = start + DEADLINE_S
    while waiting or agents_done is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fleet run not done in {DEADLINE_S:g} s")
        for generator in list(waiting):
            if not generator.lines.empty():
                at, line = generator.next_line(1)
                results.append(json.loads(line))
                ends.append(at)
                waiting.remove(generator)
        if agents_done is None and agents.drained():
            agents_done = time.monotonic()
        if restart is not None and outcome.killed_at is None:
            stored = _count(url, "messages")
            if stored >= plan.total // 3:
                os.kill(consumers[1].pid, signal.SIGKILL)
                consumers[1].wait(10)
                outcome.killed_at = stored
                progress(f"fleet: killed worker 1 (-9) at {stored} stored; restarting it")
                time.sleep(RESTART_AFTER_S)
                consumers[1] = restart(1)
        time.sleep(0.1)
    outcome.seconds = max([*ends, agents_done]) - start
    return results


def _count(url: str, table: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(found[0]) if found else 0


def per_device(url: str, table: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {str(d): int(n) for d, n in conn.execute(
            f"SELECT device_id, count(*) FROM {table} GROUP BY device_id")}  # noqa: S608


def lost_and_duplicated(plan: Plan, counts: dict[str, int]) -> tuple[int, int]:
    """Messages missing, and stored more than once, against ``per_box`` per device."""
    expected = {d.device_id: plan.per_box for d in plan.devices()}
    lost = sum(max(0, n - counts.get(d, 0)) for d, n in expected.items())
    dup = sum(max(0, n - expected.get(d, 0)) for d, n in counts.items())
    return lost, dup


def check_central(plan: Plan, url: str, label: str) -> tuple[int, int]:
    """Central's own view: every message stored once, counted once per device, every
    session delivered ``session_seq`` 1..n in ``delivered_order``. Raises otherwise;
    returns (stored, copies) for the notes."""
    lost, dup = lost_and_duplicated(plan, per_device(url, "messages"))
    store = open_store(url)
    try:
        totals = stats(store)
        counted = {d: int(v["messages"]) for d, v in totals["devices"].items()}
        out_of_order = store.all(
            "SELECT count(*) AS n FROM (SELECT session_seq, row_number() OVER (PARTITION BY"
            " device_id, session_id ORDER BY delivered_order) AS rn FROM messages) AS t"
            " WHERE session_seq <> rn")[0]["n"]
    finally:
        store.close()
    problems = []
    if lost or dup:
        problems.append(f"lost {lost}, duplicates after dedupe {dup}")
    if totals["stored"] != plan.total or totals["held_back"]:
        problems.append(f"stored {totals['stored']} of {plan.total},"
                        f" held back {totals['held_back']}")
    if lost_and_duplicated(plan, counted) != (0, 0):
        problems.append("the devices' counters disagree with the messages stored")
    if out_of_order:
        problems.append(f"{out_of_order} message(s) delivered out of session order")
    if problems:
        raise RuntimeError(f"fleet {label}: " + "; ".join(problems))
    return int(totals["stored"]), int(totals["copies"])


def check_raw(plan: Plan, url: str, label: str) -> None:
    lost, dup = lost_and_duplicated(plan, per_device(url, "raw_messages"))
    if lost or dup:
        raise RuntimeError(f"fleet {label} (raw): lost {lost}, duplicates {dup}")
