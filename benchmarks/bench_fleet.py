"""Central's MQTT ingest at fleet scale: boxes → Mosquitto → ingest workers → PostgreSQL.

A real Mosquitto (mutual TLS, the per-device ACL written from central's registry), a real
PostgreSQL (durable: ``fsync`` and ``synchronous_commit`` on), and ``kiosk central worker``
processes on one shared subscription. The load is 1,000 simulated boxes × 100 results
(``benchmarks.fleet_load``: each box its own certificate and MQTT connection, QoS 1,
at most :data:`~benchmarks.fleet_run.WINDOW` results awaiting central's ack, resends after
a timeout) plus a few real sync agents with filled outboxes.

- **Ingest, 1, 2 and 4 workers**: messages/s from the first publish to the last of
  central's acks, against the raw baseline in the same run: one bare paho subscriber
  inserting the same messages with psycopg (``INSERT … ON CONFLICT DO NOTHING``, a commit
  per batch, PUBACK and a plain ack after it; :mod:`benchmarks.fleet_raw`). After every
  run central's own view is checked: nothing lost, nothing stored twice, every session's
  ``session_seq`` 1..n in ``delivered_order``, the agents' outboxes drained.
- **Worker kill**: two workers, ``kill -9`` of one when a third of the messages is stored,
  restarted a second later under its client id (as a supervisor would); the same checks.

Each run gets a fresh broker and database. Everything shares one host, so the figures are
a floor for a deployment with the broker, the workers and PostgreSQL on their own machines.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from benchmarks.common import NO_BASELINE, Row, median, progress, ratio, scratch_dir
from benchmarks.fleet_run import RESEND_S, WINDOW, Outcome, Plan, run_once
from benchmarks.fleet_setup import make_pki, postgres, raise_open_files


@dataclass(frozen=True)
class Scale:
    boxes: int
    agents: int
    per_box: int
    sessions: int
    workers: tuple[int, ...]
    rounds: int
    generators: int
    kill_workers: int


FULL = Scale(boxes=1000, agents=4, per_box=100, sessions=10, workers=(1, 2, 4), rounds=1,
             generators=3, kill_workers=2)
QUICK = Scale(boxes=50, agents=2, per_box=20, sessions=4, workers=(1, 2), rounds=1,
              generators=1, kill_workers=2)


def cpu_text(outcome: Outcome) -> str:
    """Where the time went: CPU seconds by process group over the run's wall time."""
    parts = ", ".join(f"{k} {v:.1f}" for k, v in outcome.cpu.items())
    return f"CPU s {parts} in {outcome.seconds:.0f} s x {os.cpu_count()} cores"


def run(quick: bool) -> list[Row]:
    scale = QUICK if quick else FULL
    started = time.monotonic()
    open_files = raise_open_files()
    plan = Plan([f"box-{i:04d}" for i in range(scale.boxes)],
                [f"agent-{i}" for i in range(scale.agents)], scale.per_box, scale.sessions,
                scale.generators)
    sides: list[int] = [0, *scale.workers]  # 0: the raw subscriber
    measured: dict[int, list[Outcome]] = {side: [] for side in sides}
    with scratch_dir("fleet") as root, postgres() as pg:
        progress(f"fleet: issuing {scale.boxes + scale.agents} box certificates")
        pki = make_pki(root / "pki")
        pki.issue_boxes([*plan.boxes, *plan.agents])
        for r in range(scale.rounds):
            for side in (sides if r % 2 == 0 else sides[::-1]):
                label = f"r{r}_{'raw' if side == 0 else f'w{side}'}"
                outcome = run_once(plan, pki, pg, root / label, label, workers=side)
                progress(f"fleet {label}: {outcome.rate:.0f} messages/s"
                         f" ({outcome.seconds:.1f} s, {outcome.resent} resent;"
                         f" {cpu_text(outcome)})")
                measured[side].append(outcome)
        killed = run_once(plan, pki, pg, root / "kill", "kill", workers=scale.kill_workers,
                          kill=True)
        if killed.killed_at is None:
            raise RuntimeError("fleet kill: the run ended before a worker was killed")
        progress(f"fleet kill: {killed.rate:.0f} messages/s ({killed.seconds:.1f} s,"
                 f" {killed.resent} resent)")
    raw = median([o.rate for o in measured[0]])
    raw_cpu = cpu_text(measured[0][0])
    what = (f"{scale.boxes} simulated boxes + {scale.agents} sync agents x {scale.per_box}"
            f" results ({plan.total} messages, ~700 B), QoS 1, mutual TLS, per-device ACL,"
            f" window {WINDOW}, resend after {RESEND_S:g} s")
    rows = []
    for workers in scale.workers:
        runs = measured[workers]
        ours = median([o.rate for o in runs])
        rows.append(Row(
            benchmark=f"fleet ingest, {workers} worker{'s' if workers > 1 else ''}",
            ours=ours, baseline=raw, ratio=ratio(ours, raw), unit="messages/s",
            better="higher", peak_rss_mib=max(o.peak_rss_mib for o in runs),
            notes=f"median of {len(runs)} run(s); {what}; lost 0, duplicates after dedupe 0,"
                  f" every session in order (checked in central's store);"
                  f" {sum(o.resent for o in runs)} resent, copies dropped"
                  f" {sum(o.copies - o.messages for o in runs)}; raw = one paho subscriber"
                  " + psycopg INSERT ON CONFLICT DO NOTHING, commit per batch of <= 500, PUBACK"
                  f" and ack after it; peak RSS = largest worker; {cpu_text(runs[0])};"
                  f" raw {raw_cpu}"))
    rows.append(Row(
        benchmark="fleet ingest, worker kill -9: lost + duplicates", ours=0.0, baseline=None,
        ratio=None, unit="messages", better="lower", peak_rss_mib=killed.peak_rss_mib,
        notes=f"{NO_BASELINE} (the raw subscriber has no second worker): {scale.kill_workers}"
              f" workers, central-ingest-1 killed -9 at {killed.killed_at} of {plan.total}"
              f" stored, restarted after 1 s under its client id; lost 0, duplicates 0,"
              f" order ok; {killed.rate:.0f} messages/s overall, {killed.resent} resent,"
              f" copies dropped {killed.copies - killed.messages}; {what}"))
    progress(f"fleet: done in {time.monotonic() - started:.0f} s (open files {open_files})")
    return rows
