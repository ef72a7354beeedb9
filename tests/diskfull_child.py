"""A kiosk on a really full disk: the child process of ``tests/test_disk_full.py``.

Run inside ``unshare -rm`` (its own user and mount namespaces, so no root is needed): it
mounts a small tmpfs, opens the kiosk there and records an interview until the disk is
full, through the same code paths the box uses (session engine, recordings, outbox).
Everything it observes goes to one JSON file for the parent test to judge.

Usage: diskfull_child.py MOUNT_DIR RESULT_JSON TMPFS_SIZE
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from device.audit import SYSTEM
from device.central_link import outbox
from device.clock import ManualClock
from device.composition import Kiosk, open_kiosk
from device.config_loader import load_config
from device.errors import KioskError, StorageFullError
from device.jobs.installed import import_package
from device.jobs.package import example_package_path, load_package
from device.ops.storage_budget import evict
from device.sessions.recordings import attach
from device.sessions.roster import Invite, Roster, import_roster
from device.storage import encrypted_db

CHUNK = 64 * 1024
DAY = 86400.0


def _error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc),
            "kiosk_error": isinstance(exc, KioskError),
            "bases": [c.__name__ for c in type(exc).__mro__],
            "errno": getattr(exc, "errno", None)}


class Run:
    """One kiosk on the small disk, and what it saw."""

    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.clock = ManualClock()
        self.config = load_config(None, {"KIOSK_DATA_DIR": str(mount / "data"),
                                         "KIOSK_STORAGE_QUOTA_MB": "16",
                                         "KIOSK_STORAGE_RESERVE_MB": "1"})
        self.kiosk: Kiosk = open_kiosk(self.config, self.clock)
        self.committed: set[str] = set()
        self.media: list[Path] = []
        #: Recordings written whose registration the full database refused.
        self.unregistered: list[Path] = []
        self.unacked: list[str] = []
        self.out: dict[str, Any] = {}

    def note_committed(self) -> None:
        """Every message visible now has had its transaction committed."""
        self.committed |= {r["message_id"] for r in self.kiosk.store.all(
            "SELECT message_id FROM outbox")}

    def record_chunk(self, answer_id: str) -> None:
        """One closed recording file, registered with its ``media`` message; central acks it."""
        path = self.config.media_dir / f"rec-{len(self.media):04d}.webm"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_bytes(b"\x5a" * CHUNK)
        except OSError:
            path.unlink(missing_ok=True)  # a torn recording is not kept
            raise
        self.media.append(path)
        try:
            self.register(answer_id, path)
        except KioskError:
            if not self.unacked:
                self.unregistered.append(path)  # the recording is kept, to register later
            raise

    def register(self, answer_id: str, path: Path) -> None:
        now = self.kiosk.store.now()
        with self.kiosk.store.transaction() as db:
            media_id = attach(db, answer_id, "video", path, now)
            message = outbox.enqueue(db, self.kiosk.identity, now, "media",
                                     {"media_id": media_id})
        self.note_committed()
        self.unacked.append(message)
        self.ack()

    def ack(self) -> None:
        """Central confirms the recordings (this can fail on a full disk too: it waits)."""
        with self.kiosk.store.transaction() as db:
            outbox.mark_acked(db, self.unacked, self.kiosk.store.now())
        self.unacked.clear()

    def enqueue_padding(self, n: int) -> None:
        with self.kiosk.store.transaction() as db:
            outbox.enqueue(db, self.kiosk.identity, self.kiosk.store.now(), "usage",
                           {"n": n, "padding": "u" * 8192})
        self.note_committed()

    def answer_id(self, sid: str) -> str:
        found = self.kiosk.store.one("SELECT id FROM answers WHERE session_id = ? AND state ="
                                     " 'recording'", (sid,))
        assert found is not None
        return str(found["id"])

    def start_answer(self, sid: str) -> None:
        self.kiosk.interview.present(sid)
        self.clock.advance(5)
        self.kiosk.interview.start_answer(sid)
        self.note_committed()

    def free_bytes(self) -> int:
        return self.kiosk.storage.usage().disk_free_bytes


def fill(run: Run, sid: str, waiting: str) -> None:
    """Record until the disk refuses; check-in is refused first, the session goes on."""
    answer = run.answer_id(sid)
    out = run.out
    for _ in range(2000):
        if "checkin_refused" not in out and run.free_bytes() < run.config.storage.reserve_mb << 20:
            try:
                run.kiosk.engine.check_in(waiting)
                out["checkin_refused"] = None
            except StorageFullError as exc:
                out["checkin_refused"] = _error(exc)
        try:
            run.record_chunk(answer)
        except OSError as exc:
            out["media_full"] = _error(exc)
            break
        except KioskError as exc:
            out["db_full"] = _error(exc)
            break
    out["chunks_written"] = len(run.media)
    if "media_full" not in out:
        try:
            run.record_chunk(answer)
            out["media_full"] = None
        except OSError as exc:
            out["media_full"] = _error(exc)
    for n in range(5000):
        if "db_full" in out:
            break
        try:
            run.enqueue_padding(n)
        except KioskError as exc:
            out["db_full"] = _error(exc)
    seq = run.kiosk.store.one("SELECT value FROM meta WHERE key = 'message_seq'")
    assert seq is not None
    out["seq_after_failure"] = int(seq["value"])
    out["max_seq_row"] = run.kiosk.store.one("SELECT max(seq) AS s FROM outbox")


def engine_at_full_disk(run: Run, sid: str) -> None:
    """A pause on a full disk fails whole: nothing of it is left behind."""
    out = run.out
    try:
        run.kiosk.engine.exit(sid)
        out["exit_at_full"] = None
    except Exception as exc:
        out["exit_at_full"] = _error(exc)
    out["state_after_failed_exit"] = run.kiosk.engine.session(sid).state
    out["answers_interrupted"] = len(run.kiosk.store.all(
        "SELECT id FROM answers WHERE session_id = ? AND state = 'interrupted'", (sid,)))


def check_database(run: Run) -> None:
    out = run.out
    out["integrity_same_connection"] = [
        r[0] for r in run.kiosk.store.conn.execute("PRAGMA integrity_check").fetchall()]
    other = encrypted_db.connect(run.config.db_path, read_only=True)
    try:
        out["integrity_other_connection"] = [
            r[0] for r in other.execute("PRAGMA integrity_check").fetchall()]
        present = {r[0] for r in other.execute("SELECT message_id FROM outbox")}
    finally:
        other.close()
    out["committed"] = len(run.committed)
    out["committed_missing"] = sorted(run.committed - present)
    run.kiosk.close()
    try:  # the box restarts on a full disk: opening only reads
        run.kiosk = open_kiosk(run.config, run.clock)
        out["reopen_at_full"] = None
    except Exception as exc:
        out["reopen_at_full"] = _error(exc)


def after_freeing(run: Run, sid: str, filler: Path) -> None:
    """Staff free space: the same interview goes on to its result."""
    out = run.out
    filler.unlink()
    if out["reopen_at_full"] is not None:
        run.kiosk = open_kiosk(run.config, run.clock)
    try:
        answer = run.answer_id(sid)
        out["registered_late"] = len(run.unregistered)
        out["acked_late"] = len(run.unacked)
        run.ack()
        while run.unregistered:
            run.register(answer, run.unregistered.pop())
        run.record_chunk(answer)
        run.enqueue_padding(-1)
        flow = run.kiosk.interview
        for _ in range(10):
            run.clock.advance(20)
            flow.finish_answer(sid)
            if flow.advance(sid).state == "completed":
                break
            run.start_answer(sid)
        out["after_free"] = None
    except Exception as exc:
        out["after_free"] = _error(exc)
    out["final_state"] = run.kiosk.engine.session(sid).state
    out["result_messages"] = len(run.kiosk.store.all(
        "SELECT seq FROM outbox WHERE session_id = ? AND kind = 'session.result'", (sid,)))


def evict_on_full_disk(run: Run) -> None:
    """Full again; a month after central confirmed the recordings, eviction makes room."""
    out = run.out
    refill = run.mount / "refill"
    with refill.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * CHUNK)
                f.flush()
        except OSError as exc:
            out["refill_full"] = exc.errno == errno.ENOSPC
    run.clock.advance(31 * DAY)
    try:
        out["eviction"] = evict(run.kiosk.store, run.config).to_dict()
    except Exception as exc:
        out["eviction"] = _error(exc)
    out["media_written"] = len(run.media)
    out["media_left"] = sum(1 for p in run.media if p.exists())
    try:
        run.enqueue_padding(-2)
        out["write_after_eviction"] = None
    except Exception as exc:
        out["write_after_eviction"] = _error(exc)


def main(mount: Path, result: Path, size: str) -> None:
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(mount)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        result.write_text(json.dumps({"skip": f"cannot mount a tmpfs: {mounted.stderr.strip()}"}))
        return
    out: dict[str, Any] = {}
    try:
        run = Run(mount)
        out = run.out
        import_package(run.kiosk.store, example_package_path().read_bytes(), "example", SYSTEM)
        invited = import_roster(run.kiosk.engine, Roster(format="kiosk-roster/1", invites=[
            Invite(candidate_id="cand-a", job_id="assembly-line-operator"),
            Invite(candidate_id="cand-b", job_id="assembly-line-operator")]), "test", SYSTEM)
        codes = [i.invite_code or "" for i in invited]
        filler = mount / "filler"
        filler.write_bytes(b"\0" * (512 * 1024))
        sid = run.kiosk.engine.check_in(codes[0]).session_id
        run.kiosk.engine.consent(sid, accept=True,
                                 consent_version=load_package(example_package_path())
                                 .consent.version)
        run.start_answer(sid)
        fill(run, sid, codes[1])
        engine_at_full_disk(run, sid)
        check_database(run)
        after_freeing(run, sid, filler)
        evict_on_full_disk(run)
    except Exception:
        out["crashed"] = traceback.format_exc()
    result.write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
