"""Power cuts at any moment: the database opens intact and keeps every committed row.

The product's own write paths — roster invites, session transitions, analysis reports
into the outbox, the sync agent's claim and ack, the audit chain — run over an APSW
connection with the product's pragmas, on a VFS that models a drive with a volatile
write cache (``tests/powercut_vfs.py``). The power goes at a random disk operation
(mid-commit, mid-checkpoint, between transactions), dropping or tearing what was not
synced. The files are then opened as the box opens them after a reboot: with
:class:`device.storage.database.Store` (integrity check on).

APSW has no SQLCipher build, so the writer works on a plain copy of the product's database
(SQLCipher encrypts each page inside the same pager: the journal, WAL and sync steps are
SQLite's own). The reboot therefore also runs the upgrade's one-time encryption of a plain
database, on files a power cut left with a hot WAL, and checks the state on the encrypted
result.

The database must then hold exactly the state left by the last transaction whose COMMIT
returned, or by the one whose COMMIT was running when the power went: nothing committed
is lost, no acknowledged message is back to unacknowledged, no transaction shows in part.

The normal run cuts 40 seeds three ways (when idle, "drop" and "torn" at a chosen disk
operation); the slow variant takes 100 more seeds, or 1000 with ``KIOSK_SOAK=1``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import apsw
import pytest
from powercut_vfs import ApswDatabase, CutMode, CutReport, PowerCutVFS, open_writer
from sqlite_utils import Database

from device import audit
from device.audit import SYSTEM
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import ManualClock, Stamp
from device.config import SessionConfig
from device.errors import StoreError
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.sessions.engine import Engine
from device.sessions.roster import Invite, Roster, invite_roster
from device.sessions.session_rows import SessionRow
from device.sessions.transitions import FINAL_STATES, allowed_actions
from device.storage import encrypted_db
from device.storage.database import Store, rows, stamp_json
from shared.canonical_json import dumps

JOB = "assembly-line-operator"
IDENTITY = Identity("box-pc", "tenant-1", "site-1")
STEPS = 40  # transactions and checkpoints per run
SEEDS = range(40)
SOAK_SEEDS = range(1000, 2000 if os.environ.get("KIOSK_SOAK") == "1" else 1100)
_names = itertools.count()

State = dict[str, list[tuple[Any, ...]]]


def dump(execute: Callable[[str], Iterable[Any]]) -> State:
    """Every row of every table, in rowid order."""
    names = [r[0] for r in execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " ORDER BY name")]
    return {n: [tuple(r) for r in execute(f'SELECT * FROM "{n}" ORDER BY rowid')]
            for n in names}


# -- the write patterns -------------------------------------------------------------------

Step = Callable[[Database, Engine, random.Random, Stamp, int], None]


def invite(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """A roster import: candidates, sessions, usage rows and an audit entry."""
    invites = [Invite(candidate_id=f"cand-{n}-{i}", job_id=JOB)
               for i in range(rng.randint(1, 3))]
    invite_roster(db, engine, Roster(format="kiosk-roster/1", invites=invites), "power-cut",
                  SYSTEM, now)


def transition(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """A session state change: session, usage, audit and outbox rows (results when final)."""
    marks = ", ".join("?" * len(FINAL_STATES))
    open_sessions = rows(db, f"SELECT * FROM sessions WHERE state NOT IN ({marks})"
                         " ORDER BY rowid", FINAL_STATES)
    if not open_sessions:
        invite(db, engine, rng, now, n)
        return
    session = rng.choice(open_sessions)
    action = rng.choice([a for a in allowed_actions(session["state"]) if a != "undo_terminate"])
    updates: dict[str, dict[str, Any]] = {
        "consent": {"consent_version": "1", "expression_consent": 0},
        "begin": {"started": stamp_json(now)},
    }
    engine.transition(db, SessionRow.from_row(session), action, SYSTEM, now,
                      reason="power-cut run",
                      updates=updates.get(action))


def report(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """An analysis report: a results row and a large outbox message (overflow pages)."""
    done = rows(db, "SELECT id, drill FROM sessions WHERE state IN ('completed', 'terminated')"
                " ORDER BY rowid")
    if not done:
        transition(db, engine, rng, now, n)
        return
    session = rng.choice(done)
    body = {"revision": n, "notes": "".join(rng.choices(string.ascii_letters,
                                                        k=rng.randint(200, 12000)))}
    db.execute("INSERT INTO results (session_id, kind, body, created) VALUES (?, 'report', ?, ?)"
               " ON CONFLICT (session_id, kind) DO UPDATE SET body = excluded.body,"
               " created = excluded.created", (session["id"], dumps(body), stamp_json(now)))
    outbox.enqueue(db, IDENTITY, now, "session.report", body, session_id=session["id"],
                   drill=bool(session["drill"]))


def claim(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """The sync agent takes a batch to send."""
    batch = outbox.next_batch(db, now, rng.randint(1, 8))
    outbox.claim(db, [r.message_id for r in batch], now)


def ack(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """Central acknowledges some sent messages; the sync agent finishes their rows."""
    sent = [r["message_id"] for r in rows(db, "SELECT message_id FROM outbox"
                                          " WHERE status = 'sent' ORDER BY seq")]
    outbox.mark_acked(db, rng.sample(sent, min(len(sent), rng.randint(1, 6))), now)


def checkpoint(db: Database, engine: Engine, rng: random.Random, now: Stamp, n: int) -> None:
    """Stands for ``PRAGMA wal_checkpoint(TRUNCATE)``, run outside any transaction."""


WEIGHTED_STEPS: list[tuple[Step, int]] = [
    (invite, 2), (transition, 5), (report, 1), (claim, 2), (ack, 2), (checkpoint, 1),
]


@dataclass
class Run:
    """What the writer saw before the power went."""

    states: list[State]  # [0]: before the first transaction; then one per COMMIT returned
    in_flight: State | None = None  # what the transaction being committed would leave
    phase: str = "idle"  # where the power went: statement, commit, checkpoint or idle
    checkpoints: list[range] = field(default_factory=list)  # their disk operations
    commits: list[range] = field(default_factory=list)  # disk operations of each COMMIT


def write(conn: apsw.Connection, vfs: PowerCutVFS, engine: Engine, seed: int) -> Run:
    rng = random.Random(seed)
    clock = ManualClock()
    db = cast(Database, ApswDatabase(conn))
    steps, weights = zip(*WEIGHTED_STEPS, strict=True)
    run = Run([dump(conn.execute)])
    try:
        for n in range(STEPS):
            clock.advance(rng.uniform(1, 90))
            step = rng.choices(steps, weights)[0]
            if step is checkpoint:
                run.phase, first = "checkpoint", vfs.ops + 1
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                run.checkpoints.append(range(first, vfs.ops + 1))
                continue
            run.phase = "statement"
            conn.execute("BEGIN IMMEDIATE")
            step(db, engine, rng, clock.now(), n)
            state = dump(conn.execute)
            run.phase, run.in_flight, first = "commit", state, vfs.ops + 1
            conn.execute("COMMIT")
            run.commits.append(range(first, vfs.ops + 1))
            run.states.append(state)
            run.in_flight = None
        run.phase = "idle"
    except apsw.Error:
        if not vfs.dead:
            raise
    return run


# -- after the reboot ---------------------------------------------------------------------

MESSAGE_ID, STATUS = 1, 8  # outbox columns, as the first migration creates them


def _outbox_losses(expected: State, found: State) -> list[str]:
    def status(state: State) -> dict[str, str]:
        return {r[MESSAGE_ID]: r[STATUS] for r in state.get("outbox", [])}

    want, got = status(expected), status(found)
    out = [f"outbox: committed message {m} is missing" for m in want if m not in got]
    out += [f"outbox: message {m} was acked (its COMMIT returned) but is now {got[m]!r}"
            for m, s in want.items() if s == "acked" and got.get(m, "acked") != "acked"]
    return out


def differences(expected: State, found: State) -> list[str]:
    """How ``found`` differs from ``expected``: outbox losses first, then a line per table."""
    out = _outbox_losses(expected, found)
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table, []), found.get(table, [])
        lost = [r for r in want if r not in got]
        extra = [r for r in got if r not in want]
        if lost:
            out.append(f"{table}: {len(lost)} committed row(s) lost or changed,"
                       f" first {str(lost[0])[:160]}")
        if extra:
            out.append(f"{table}: {len(extra)} row(s) no committed transaction left,"
                       f" first {str(extra[0])[:160]}")
    return out


@dataclass(frozen=True)
class Reboot:
    problems: list[str]
    landed: str | None  # "committed" (the last COMMIT that returned) or "in flight"


def check_reboot(path: Path, run: Run) -> Reboot:
    """Open the files as the box does after a reboot; every way they fall short."""
    try:
        store = Store(path, check_integrity=True)
    except StoreError as exc:
        return Reboot([f"the database does not open after the cut: {exc}"], None)
    try:
        problems = []
        integrity = [r[0] for r in store.conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems.append(f"integrity_check: {integrity[:3]}")
        if store.conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append("foreign_key_check reports orphaned rows")
        chain = audit.verify(store.db)
        if not chain.ok:
            problems.append(f"audit chain broken: {chain.problem}")
        found = dump(store.conn.execute)
    finally:
        store.close()
    if found == run.states[-1]:
        return Reboot(problems, "committed")
    if found == run.in_flight:
        return Reboot(problems, "in flight")
    problems += differences(run.states[-1], found)
    if run.in_flight is not None:
        problems.append("(nor is it the state the transaction in flight would have left)")
    return Reboot(problems, None)


# -- one run, many seeds ------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    path: Path
    engine: Engine


@dataclass(frozen=True)
class Outcome:
    run: Run
    ops: int  # disk operations before the power went
    cut: CutReport
    reboot: Reboot


def power_cut(template: Template, where: Path, seed: int, mode: CutMode,
              cut_after: int | None, *, synchronous: str = "FULL", keep: float | None = None,
              honest_sync: bool = True) -> Outcome:
    """Write, lose power at disk operation ``cut_after`` (None: after the writes), reboot."""
    where.mkdir(parents=True)
    path = where / "kiosk.db"
    shutil.copyfile(template.path, path)
    vfs = PowerCutVFS(f"powercut-{next(_names)}", cut_after=cut_after, mode=mode, seed=seed,
                      keep=keep, honest_sync=honest_sync)
    try:
        conn = open_writer(path, vfs.vfs_name, synchronous)
        run = write(conn, vfs, template.engine, seed)
        cut = vfs.cut(mode)
        with contextlib.suppress(apsw.IOError):  # closing wants a lock; the power is off
            conn.close()
    finally:
        vfs.unregister()
    assert not Path(f"{path}-shm").exists(), "the WAL index outlived the power"
    return Outcome(run, vfs.ops, cut, check_reboot(path, run))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A database the product made (migrations, the example job), closed cleanly."""
    made = tmp_path_factory.mktemp("power-cut") / "encrypted.db"
    store = Store(made, clock=ManualClock())
    import_package(store, example_package_path().read_bytes(), "example", SYSTEM)
    # Engine.transition and invite_roster work on the db they are given; the store the
    # engine holds is not used by them.
    engine = Engine(store, SessionConfig(), IDENTITY, b"power-cut-code-key")
    store.close()
    path = made.with_name("template.db")
    with contextlib.closing(encrypted_db.connect(made)) as conn:  # a plain copy, for APSW
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(path),))
        conn.execute("SELECT sqlcipher_export('plain')").fetchall()
        conn.execute("DETACH DATABASE plain")
    plain = apsw.Connection(str(path))  # in WAL mode, as the product's file is
    assert plain.execute("PRAGMA journal_mode = WAL").fetchall() == [("wal",)]
    plain.close()
    assert path.read_bytes().startswith(encrypted_db.PLAIN_HEADER)
    assert not Path(f"{path}-wal").exists()
    return Template(path, engine)


def cut_point(rng: random.Random, idle: Outcome) -> int:
    """A disk operation of the run: a third of the time inside a checkpoint, a sixth of
    the time a COMMIT's last one (its sync), otherwise any."""
    draw = rng.random()
    checkpoints = [op for ops in idle.run.checkpoints for op in ops]
    syncs = [ops[-1] for ops in idle.run.commits if ops]
    if draw < 1 / 3 and checkpoints:
        return rng.choice(checkpoints)
    if draw < 1 / 2 and syncs:
        return rng.choice(syncs)
    return rng.randint(1, idle.ops)


@dataclass
class Tally:
    """What a batch of power cuts did, for the assertions and their messages."""

    runs: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    landed: Counter[str | None] = field(default_factory=Counter)
    sectors: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, label: str, outcome: Outcome, files: Path) -> None:
        self.runs += 1
        self.phases[outcome.run.phase] += 1
        self.landed[outcome.reboot.landed] += 1
        self.sectors["pending"] += outcome.cut.pending_sectors
        self.sectors["applied"] += outcome.cut.applied_sectors
        if outcome.reboot.problems:
            self.failures.append(f"{label} ({files}): "
                                 + "; ".join(outcome.reboot.problems[:6]))
        else:
            shutil.rmtree(files)


def soak(template: Template, tmp: Path, seeds: Iterable[int]) -> Tally:
    """Per seed: a cut after all the writes, then one at a chosen disk operation per mode.

    Only the files of failed runs are kept.
    """
    tally = Tally()
    for seed in seeds:
        idle = power_cut(template, tmp / f"{seed}-idle", seed, "drop", None)
        tally.add(f"seed {seed}, cut when idle", idle, tmp / f"{seed}-idle")
        cuts = random.Random(f"cut-{seed}")
        for mode in ("drop", "torn"):
            at = cut_point(cuts, idle)
            outcome = power_cut(template, tmp / f"{seed}-{mode}", seed, mode, at)
            tally.add(f"seed {seed}, {mode} at disk operation {at}/{idle.ops}"
                      f" ({outcome.run.phase})", outcome, tmp / f"{seed}-{mode}")
    return tally


def _assert_survives(tally: Tally, seeds: Sequence[int]) -> None:
    assert not tally.failures, (f"{len(tally.failures)} of {tally.runs} power cuts lost or"
                                " broke data:\n" + "\n".join(tally.failures[:20]))
    # The cuts must have landed where it matters, or the run proves little.
    assert tally.phases["commit"] >= len(seeds) // 2, tally.phases
    assert tally.phases["checkpoint"] >= len(seeds) // 4, tally.phases
    assert 0 < tally.sectors["applied"] < tally.sectors["pending"], tally.sectors


def test_a_power_cut_at_any_point_keeps_every_committed_row(
    template: Template, tmp_path: Path
) -> None:
    _assert_survives(soak(template, tmp_path, SEEDS), SEEDS)


@pytest.mark.slow
def test_a_power_cut_at_any_point_keeps_every_committed_row_soak(
    template: Template, tmp_path: Path
) -> None:
    _assert_survives(soak(template, tmp_path, SOAK_SEEDS), SOAK_SEEDS)


def test_a_commit_cut_as_its_sync_completes_survives_whole(
    template: Template, tmp_path: Path
) -> None:
    """Power goes as the COMMIT's sync finishes: the transaction is there, all of it."""
    idle = power_cut(template, tmp_path / "idle", 3, "drop", None)
    for number, ops in enumerate([ops for ops in idle.run.commits if ops][-3:]):
        outcome = power_cut(template, tmp_path / str(number), 3, "torn", ops[-1], keep=1.0)
        assert outcome.run.phase == "commit" and outcome.run.in_flight is not None
        assert outcome.reboot == Reboot([], "in flight")


# -- the harness can fail -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("synchronous", "honest_sync", "checkpoints_sync"),
    [("OFF", True, False), ("FULL", False, False), ("NORMAL", True, True)],
    ids=["synchronous-off", "drive-ignores-flush", "synchronous-normal"],
)
def test_without_durable_commits_the_check_sees_data_lost(
    template: Template, tmp_path: Path, synchronous: str, honest_sync: bool,
    checkpoints_sync: bool,
) -> None:
    """The same runs on a box whose commits do not reach the platter fail the check.

    With ``synchronous=NORMAL`` a WAL commit is synced only at the next checkpoint: the
    file stays sound but the latest commits go — why the box runs ``FULL``.
    """
    lost: list[str] = []
    torn: list[str] = []
    for seed in range(3):
        idle = power_cut(template, tmp_path / f"{seed}-idle", seed, "drop", None,
                         synchronous=synchronous, honest_sync=honest_sync)
        assert len(idle.run.states) > 1, "the run committed nothing to lose"
        lost += idle.reboot.problems
        last_checkpoint = [ops for ops in idle.run.checkpoints if ops][-1]
        mid = power_cut(template, tmp_path / str(seed), seed, "torn", last_checkpoint[-1],
                        synchronous=synchronous, honest_sync=honest_sync, keep=0.5)
        torn += mid.reboot.problems
    assert any(p.startswith("outbox: committed message ") and p.endswith(" is missing")
               for p in lost), lost
    assert any("committed row(s) lost or changed" in p for p in lost), lost
    if checkpoints_sync:
        assert not [p for p in lost + torn if "does not open" in p], lost + torn
    else:
        assert torn, "a checkpoint torn on a box that does not sync went unnoticed"


def test_a_half_applied_transaction_is_reported(template: Template, tmp_path: Path) -> None:
    """The check notices a state no transaction left: an ack undone, one row of a
    transaction gone."""
    outcome = power_cut(template, tmp_path / "run", 7, "drop", None)
    assert outcome.reboot == Reboot([], "committed")
    store = Store(tmp_path / "run" / "kiosk.db")
    with store.transaction() as db:
        db.execute("UPDATE outbox SET status = 'sent' WHERE seq = (SELECT max(seq) FROM outbox"
                   " WHERE status = 'acked')")
        db.execute("DELETE FROM usage WHERE rowid = (SELECT max(rowid) FROM usage)")
    store.close()
    problems = check_reboot(tmp_path / "run" / "kiosk.db", outcome.run).problems
    assert any("was acked (its COMMIT returned) but is now 'sent'" in p for p in problems), \
        problems
    assert any(p.startswith("usage: 1 committed row(s) lost") for p in problems), problems
