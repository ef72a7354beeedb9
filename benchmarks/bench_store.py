"""Session transitions per second through the engine, against raw sqlite3 doing the same writes.

Ours: ``Engine.staff_action`` pausing and resuming checked-in sessions, no HTTP. Each
call is one ``BEGIN IMMEDIATE`` transaction that reads the session, updates it and its
usage row, appends a hash-chained audit row, enqueues an outbox message and commits.

Baseline: ``sqlite3`` on its own database file in the same directory, WAL and
``synchronous=FULL`` like the store, one transaction per transition with the minimal
equivalent writes: UPDATE of a session row, INSERT of an audit row and INSERT of an
outbox row, their text sized like the rows the engine wrote in the warm-up. Both sides
sync the WAL once per commit, so the ratio is the engine's own cost per transition.

Rounds alternate which side runs first; the table quotes the median round.

Encryption at rest: the same minimal transactions on a database opened through
:func:`device.storage.encrypted_db.connect` (SQLCipher, raw 256-bit key) against the
standard ``sqlite3`` module on a plain file, same pragmas, same rows; and opening the
database then reading every outbox row on a fresh connection, where every page is read
from the file (and, encrypted, authenticated and decrypted).
"""

from __future__ import annotations

import gc
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    Prepared,
    Row,
    median,
    peak_rss_mib,
    percentile_rows,
    prepare_kiosk,
    progress,
    ratio,
    scratch_dir,
)
from device.staff.policy import Staff
from device.storage import encrypted_db


@dataclass(frozen=True)
class Plan:
    sessions: int
    cycles: int  # pause + resume pairs per session and round
    rounds: int
    warmup_sessions: int

    @property
    def transitions(self) -> int:
        return self.sessions * self.cycles * 2


FULL = Plan(sessions=200, cycles=10, rounds=7, warmup_sessions=20)
QUICK = Plan(sessions=20, cycles=5, rounds=3, warmup_sessions=4)

STAFF = Staff("bench", "admin")
REASON = "benchmark: staff pause and resume"


@dataclass(frozen=True)
class Round:
    per_s: float
    latencies_ms: list[float]


@dataclass(frozen=True)
class RowSizes:
    """Average text bytes per transition of the rows the engine writes."""

    audit: int
    outbox: int


# -- ours ------------------------------------------------------------------------------


def _check_in_all(prepared: Prepared) -> list[str]:
    engine = prepared.kiosk.engine
    return [engine.check_in(code).session_id for code in prepared.codes()]


def _cycle(prepared: Prepared, session_ids: list[str], cycles: int) -> Round:
    engine = prepared.kiosk.engine
    latencies: list[float] = []
    started = time.perf_counter_ns()
    for _ in range(cycles):
        for session_id in session_ids:
            for action in ("pause", "resume"):
                t0 = time.perf_counter_ns()
                result = engine.staff_action(STAFF, action, [session_id], REASON)
                latencies.append((time.perf_counter_ns() - t0) / 1e6)
                if result.failed:
                    raise RuntimeError(f"staff {action} failed: {result.failed!r}")
    wall_s = (time.perf_counter_ns() - started) / 1e9
    return Round(len(latencies) / wall_s, latencies)


def _measured_sizes(prepared: Prepared) -> RowSizes:
    found = prepared.kiosk.store.one(
        "SELECT avg(length(details) + length(coalesce(reason, '')) + length(at)) AS n"
        " FROM audit WHERE action IN ('session.pause', 'session.resume')"
    )
    outbox = prepared.kiosk.store.one(
        "SELECT avg(length(payload)) AS n FROM outbox WHERE kind = 'session.state'"
    )
    if not found or found["n"] is None or not outbox or outbox["n"] is None:
        raise RuntimeError("the warm-up wrote no audit or outbox rows to size the baseline by")
    return RowSizes(audit=round(found["n"]), outbox=round(outbox["n"]))


# -- raw sqlite3 -----------------------------------------------------------------------


class RawStore:
    """The minimal writes of one transition, on a bare sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection, sessions: int, sizes: RowSizes) -> None:
        self.conn = conn
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, state TEXT NOT NULL, previous_state TEXT,
                state_since TEXT NOT NULL, state_reason TEXT, state_actor TEXT, resume_hash TEXT
            );
            CREATE TABLE audit (
                seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
                action TEXT NOT NULL, subject TEXT, details TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL
            );
            CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL, session_id TEXT, payload TEXT NOT NULL, created TEXT NOT NULL
            );
            """
        )
        self.session_ids = [f"raw-{i:06d}" for i in range(sessions)]
        stamp = '{"utc":"2026-01-01T00:00:00Z"}'
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO sessions (id, state, state_since) VALUES (?, 'checked_in', ?)",
            [(sid, stamp) for sid in self.session_ids],
        )
        self.conn.execute("COMMIT")
        self.audit_text = "a" * max(sizes.audit, 1)
        self.payload = "p" * max(sizes.outbox, 1)
        self.hash = "0" * 64
        self.seq = 0

    def transition(self, session_id: str, to: str, previous: str) -> None:
        self.seq += 1
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        c.execute(
            "UPDATE sessions SET state = ?, previous_state = ?, state_since = ?,"
            " state_reason = ?, state_actor = ?, resume_hash = ? WHERE id = ?",
            (to, previous, str(self.seq), REASON, "admin:bench", f"{self.seq:064d}", session_id),
        )
        c.execute(
            "INSERT INTO audit (seq, at, actor, action, subject, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.seq, str(self.seq), "admin:bench", f"session.{to}", session_id,
             self.audit_text, self.hash, f"{self.seq:064x}"),
        )
        c.execute(
            "INSERT INTO outbox (message_id, kind, session_id, payload, created)"
            " VALUES (?, 'session.state', ?, ?, ?)",
            (f"raw:{self.seq:012d}", session_id, self.payload, str(self.seq)),
        )
        c.execute("COMMIT")

    def cycle(self, cycles: int) -> Round:
        latencies: list[float] = []
        started = time.perf_counter_ns()
        for _ in range(cycles):
            for session_id in self.session_ids:
                for to, previous in (("paused", "checked_in"), ("checked_in", "paused")):
                    t0 = time.perf_counter_ns()
                    self.transition(session_id, to, previous)
                    latencies.append((time.perf_counter_ns() - t0) / 1e6)
        wall_s = (time.perf_counter_ns() - started) / 1e9
        return Round(len(latencies) / wall_s, latencies)

    def close(self) -> None:
        self.conn.close()


# -- the benchmark ---------------------------------------------------------------------


def run(quick: bool) -> list[Row]:
    plan = QUICK if quick else FULL
    with scratch_dir("store") as data_dir:
        prepared = prepare_kiosk(data_dir / "kiosk", plan.warmup_sessions + plan.sessions)
        try:
            return _measure(prepared, data_dir, plan)
        finally:
            prepared.kiosk.close()


def _measure(prepared: Prepared, data_dir: Path, plan: Plan) -> list[Row]:
    session_ids = _check_in_all(prepared)
    warm, measured = session_ids[: plan.warmup_sessions], session_ids[plan.warmup_sessions :]
    _cycle(prepared, warm, 2)
    sizes = _measured_sizes(prepared)
    raw = RawStore(plain_connection(data_dir / "raw.db"), plan.sessions, sizes)
    try:
        raw.cycle(1)  # warm-up
        ours_rounds: list[Round] = []
        raw_rounds: list[Round] = []
        for index in range(plan.rounds):
            progress(f"store: round {index + 1}/{plan.rounds}, "
                     f"{plan.transitions} transitions each side")
            gc.collect()
            if index % 2 == 0:
                ours_rounds.append(_cycle(prepared, measured, plan.cycles))
                raw_rounds.append(raw.cycle(plan.cycles))
            else:
                raw_rounds.append(raw.cycle(plan.cycles))
                ours_rounds.append(_cycle(prepared, measured, plan.cycles))
    finally:
        raw.close()

    rss = peak_rss_mib()
    ours_rate = median([r.per_s for r in ours_rounds])
    raw_rate = median([r.per_s for r in raw_rounds])
    ours_lat = [x for r in ours_rounds for x in r.latencies_ms]
    raw_lat = [x for r in raw_rounds for x in r.latencies_ms]
    spread = (f"ours {min(r.per_s for r in ours_rounds):,.0f}–"
              f"{max(r.per_s for r in ours_rounds):,.0f}, raw "
              f"{min(r.per_s for r in raw_rounds):,.0f}–{max(r.per_s for r in raw_rounds):,.0f}")
    shape = (f"{plan.rounds} rounds × {plan.transitions} transitions "
             f"({plan.sessions} sessions × {plan.cycles} pause/resume pairs)")
    sized = f"raw rows sized like ours: audit ≈{sizes.audit} B, outbox ≈{sizes.outbox} B"
    fs = filesystem_of(data_dir) or "unknown filesystem"
    rows = [
        Row(
            benchmark="store: transitions/s (synchronous=FULL)",
            ours=ours_rate,
            baseline=raw_rate,
            ratio=ratio(ours_rate, raw_rate),
            unit="transitions/s",
            better="higher",
            peak_rss_mib=rss,
            notes=f"median round of {shape}; range {spread}; {sized}; one WAL sync per "
                  f"commit on both sides plus periodic checkpoints, data on {fs}; ours on the"
                  " encrypted store (SQLCipher), raw on a plain file",
        )
    ]
    rows += percentile_rows("store: transition latency", ours_lat, raw_lat, "ms",
                            "Engine.staff_action vs raw transaction", rss)
    return rows + _encryption(data_dir, plan, sizes)


# -- encrypted at rest against plain -----------------------------------------------------


def plain_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)


def _encryption(data_dir: Path, plan: Plan, sizes: RowSizes) -> list[Row]:
    plain_path, sealed_path = data_dir / "plain" / "raw.db", data_dir / "sealed" / "raw.db"
    plain_path.parent.mkdir()
    plain = RawStore(plain_connection(plain_path), plan.sessions, sizes)
    sealed = RawStore(encrypted_db.connect(sealed_path, check_same_thread=False),
                      plan.sessions, sizes)
    try:
        plain.cycle(1)
        sealed.cycle(1)
        plain_rounds: list[Round] = []
        sealed_rounds: list[Round] = []
        for index in range(plan.rounds):
            progress(f"store: encrypted vs plain, round {index + 1}/{plan.rounds}")
            gc.collect()
            pair = [(sealed, sealed_rounds), (plain, plain_rounds)]
            for side, rounds in pair if index % 2 == 0 else pair[::-1]:
                rounds.append(side.cycle(plan.cycles))
        for side in (plain, sealed):
            side.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        plain.close()
        sealed.close()
    read_plain: list[float] = []
    read_sealed: list[float] = []
    for _ in range(plan.rounds * 3):
        read_plain.append(_read_all(lambda: sqlite3.connect(str(plain_path))))
        read_sealed.append(_read_all(lambda: encrypted_db.connect(sealed_path)))
    rss = peak_rss_mib()
    sealed_rate = median([r.per_s for r in sealed_rounds])
    plain_rate = median([r.per_s for r in plain_rounds])
    size_mib = sealed_path.stat().st_size / 2**20
    versions = (f"SQLCipher {_one(encrypted_db.connect(sealed_path), 'PRAGMA cipher_version')}"
                f" on SQLite {_one(encrypted_db.connect(sealed_path), 'SELECT sqlite_version()')}"
                f", plain: sqlite3 module's SQLite {sqlite3.sqlite_version}")
    rows = [Row(
        benchmark="store: encrypted at rest, transitions/s",
        ours=sealed_rate, baseline=plain_rate, ratio=ratio(sealed_rate, plain_rate),
        unit="transitions/s", better="higher", peak_rss_mib=rss,
        notes=f"median round of {plan.rounds} rounds × {plan.transitions} minimal transition"
              f" transactions (UPDATE + 2 INSERT, synchronous=FULL, WAL); ours: keyed"
              f" SQLCipher connection (raw key), baseline: the same on a plain file; {versions}",
    )]
    rows += percentile_rows(
        "store: encrypted at rest, transition latency",
        [x for r in sealed_rounds for x in r.latencies_ms],
        [x for r in plain_rounds for x in r.latencies_ms], "ms",
        "keyed SQLCipher vs plain sqlite3, the same transactions", rss)
    rows.append(Row(
        benchmark="store: encrypted at rest, open + read every outbox row",
        ours=median(read_sealed), baseline=median(read_plain),
        ratio=ratio(median(read_sealed), median(read_plain)), unit="ms", better="lower",
        peak_rss_mib=rss,
        notes=f"median of {len(read_sealed)}; fresh connection each time (open, key, read"
              f" {size_mib:.1f} MiB of pages: every page authenticated and decrypted)"
              " vs plain sqlite3 on the same rows",
    ))
    return rows


def _read_all(opener: Callable[[], sqlite3.Connection]) -> float:
    t0 = time.perf_counter_ns()
    conn = opener()
    try:
        conn.execute("SELECT sum(length(payload)) FROM outbox").fetchone()
    finally:
        conn.close()
    return (time.perf_counter_ns() - t0) / 1e6


def _one(conn: sqlite3.Connection, sql: str) -> str:
    try:
        return str(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def filesystem_of(path: Path) -> str:
    """The mount type holding ``path`` (Linux), for the record; empty when unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1]
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, kind = mount, parts[2]
    return kind
