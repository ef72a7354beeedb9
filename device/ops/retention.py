"""The retention purge: what the consent promises is what the box does.

The candidate is told that recordings, transcripts and reports are kept
``consent.retention_days`` days (of the package version the session ran with) and then
deleted. Once a session has ended that long ago (measured from its end; from its start or
creation when it has no end), its personal data is purged on the box whether or not
central ever received it: recordings (files and rows), live transcripts and analyses,
follow-up questions, checklist scores, results and reports, the session's codes and
consent flags, and every outbox message about it, sent or not. A message still waiting
for central carries personal data promised to be deleted, so it is dropped too, and the
receipt counts it (``messages_withdrawn``). When none of the candidate's sessions holds
personal data any more, the candidate's name, language and accommodation are forgotten
and rosters stored on the box are redacted. A session that has not ended (in progress,
paused, waiting for its candidate) is never purged.

What stays is an anonymous tombstone: the session row (id, job, states, times, usage
counters, answer timings) stamped ``purged``, and the audit log's entry
``session.retention_purged``. Central gets one ``retention.receipt`` message per session.

Ages are measured like every duration on the box (:func:`device.clock.elapsed_s`): within
one boot on the monotonic clock, across boots only between synchronised wall clocks. An
age that cannot be measured purges nothing; the report and the log say which sessions wait
for a synchronised clock.

Like erasure, a purge is two steps: the rows change in one transaction that also leaves a
pending receipt in ``meta``; after the commit the files are deleted and the receipt is
queued. A crash in between is finished by the next sweep.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from device import audit
from device.central_link import erasure, outbox
from device.central_link.outbox import Identity
from device.clock import Stamp, elapsed_s
from device.config import KioskConfig
from device.errors import NotFoundError
from device.jobs.installed import jobs, package
from device.sessions import candidate_rows, session_rows
from device.sessions.session_rows import SessionRow
from device.sessions.transitions import FINAL_STATES
from device.storage import meta
from device.storage.database import Store
from shared.canonical_json import dumps

log = logging.getLogger(__name__)

DAY_S = 86400.0
#: How often the API's periodic sweep runs the purge (seconds on the store's clock).
PURGE_INTERVAL_S = 600.0
#: Sessions looked at per query.
BATCH = 200
PENDING = "retention:"
RETRY = "retention-retry:"
REASON = "purged at retention"


@dataclass(frozen=True)
class PurgeReceipt:
    """What the purge of one session did; :meth:`body` is the ``retention.receipt``."""

    session_id: str
    job_id: str
    job_version: int
    drill: bool
    retention_days: int
    age_days: float
    #: Which time the age counts from: ``ended``, ``started`` or ``created``.
    age_from: str
    counts: dict[str, int]
    candidate_forgotten: bool
    purged_at: str
    files: tuple[str, ...] = ()
    pending_key: str = ""
    files_deleted: int = 0
    files_failed: tuple[str, ...] = ()
    message_id: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "job_id": self.job_id,
            "job_version": self.job_version,
            "reason": "retention",
            "retention_days": self.retention_days,
            "age_days": round(self.age_days, 3),
            "age_from": self.age_from,
            "counts": dict(self.counts),
            "candidate_forgotten": self.candidate_forgotten,
            "files_deleted": self.files_deleted,
            "files_failed": list(self.files_failed),
            "purged_at": self.purged_at,
        }

    def to_json(self) -> str:
        return dumps({**self.body(), "drill": self.drill, "files": list(self.files)})

    @classmethod
    def from_json(cls, text: str, pending_key: str) -> PurgeReceipt:
        d = json.loads(text)
        return cls(session_id=d["session_id"], job_id=d["job_id"],
                   job_version=d["job_version"], drill=d["drill"],
                   retention_days=d["retention_days"], age_days=d["age_days"],
                   age_from=d["age_from"], counts=d["counts"],
                   candidate_forgotten=d["candidate_forgotten"], purged_at=d["purged_at"],
                   files=tuple(d["files"]), pending_key=pending_key)


@dataclass
class PurgeReport:
    """What one purge pass did, and what it kept and why."""

    purged: list[str] = field(default_factory=list)
    kept_young: int = 0
    #: Sessions whose age cannot be measured (another boot, clock not synchronised).
    kept_unmeasurable: list[str] = field(default_factory=list)
    files_deleted: int = 0
    files_failed: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    #: Sessions whose job package cannot be read back, so their retention is unknown.
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def age_anchor(session: SessionRow) -> tuple[str, Stamp]:
    """The time a session's retention counts from: its end, else its start, else creation."""
    if session.ended is not None:
        return "ended", session.ended
    if session.started is not None:
        return "started", session.started
    return "created", session.created


def retention_days(db: Database, session: SessionRow) -> int:
    """Days the consent of the session's package version promised to keep its data."""
    return package(db, session.job_id, session.job_version).consent.retention_days


def purge_session(db: Database, now: Stamp, session: SessionRow, days: int, age_s: float
                  ) -> PurgeReceipt:
    """Purge one ended session inside the caller's transaction; the receipt is pending in
    ``meta`` until :func:`finish_purge` deletes the files and queues it."""
    counts, files = erasure.erase_session_data(db, [session.id], now)
    session_rows.mark_purged(db, session.id, now)
    forgotten = session_rows.count_unpurged_of_candidate(db, session.candidate_id) == 0
    counts["documents_redacted"] = 0
    if forgotten:
        candidate_rows.forget(db, session.candidate_id, now)
        counts["documents_redacted"] = erasure.redact_documents(
            db, session.candidate_id, note=REASON)
    age_from, _ = age_anchor(session)
    receipt = PurgeReceipt(
        session_id=session.id, job_id=session.job_id, job_version=session.job_version,
        drill=session.drill, retention_days=days, age_days=age_s / DAY_S, age_from=age_from,
        counts=counts, candidate_forgotten=forgotten, purged_at=now.utc, files=tuple(files),
        pending_key=PENDING + uuid.uuid4().hex)
    audit.append(db, now, audit.SYSTEM, "session.retention_purged", subject=session.id,
                 reason=f"{REASON}: kept {days} days as the consent promised",
                 details={"job_id": session.job_id, "job_version": session.job_version,
                          "retention_days": days, "age_days": round(age_s / DAY_S, 3),
                          "age_from": age_from, "counts": counts, "files": len(files),
                          "candidate_forgotten": forgotten})
    meta.add(db, receipt.pending_key, receipt.to_json())
    return receipt


def _session_folder(media_dir: Path, session_id: str) -> Path | None:
    """The session's own folder of recordings (partial files too), if it is one."""
    folder = media_dir / session_id
    try:
        folder.resolve().relative_to(media_dir.resolve())
    except ValueError:
        return None
    return folder if folder.is_dir() and folder.resolve() != media_dir.resolve() else None


def finish_purge(store: Store, identity: Identity, receipt: PurgeReceipt,
                 media_dir: Path | None = None) -> PurgeReceipt:
    """Delete the recordings, then queue the ``retention.receipt`` message (once)."""
    deleted, failed = erasure.delete_files(receipt.files)
    folder = None if media_dir is None else _session_folder(media_dir, receipt.session_id)
    if folder is not None:  # what capture left beside the recordings (partial files)
        left = sorted(str(p) for p in folder.rglob("*") if not p.is_dir())
        deleted_left, failed_left = erasure.delete_files(left)
        deleted += deleted_left
        failed.update(failed_left)
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
    done = replace(receipt, files_deleted=deleted, files_failed=tuple(sorted(failed)))
    now = store.now()
    with store.transaction() as db:
        if not meta.take(db, receipt.pending_key):
            return receipt
        message_id = outbox.enqueue(db, identity, now, "retention.receipt", done.body(),
                                    drill=receipt.drill)
        if failed:
            meta.add(db, RETRY + uuid.uuid4().hex, dumps(sorted(failed)))
            audit.append(db, now, audit.SYSTEM, "session.retention_files_left",
                         subject=receipt.session_id, details={"files": len(failed)})
    for path, problem in failed.items():
        log.warning("retention purge of %s: cannot delete %s (%s); will retry",
                    receipt.session_id, path, problem)
    return replace(done, message_id=message_id)


def finish_pending(store: Store, identity: Identity, media_dir: Path | None = None
                   ) -> list[PurgeReceipt]:
    """Finish purges a crash interrupted, and retry files that could not be deleted."""
    with store.read() as db:
        found = meta.with_prefix(db, "retention")
    finished: list[PurgeReceipt] = []
    for entry in found:
        if entry.key.startswith(PENDING):
            receipt = PurgeReceipt.from_json(entry.value, entry.key)
            finished.append(finish_purge(store, identity, receipt, media_dir))
        elif entry.key.startswith(RETRY):
            _, failed = erasure.delete_files(json.loads(entry.value))
            with store.transaction() as db:
                if failed:
                    meta.replace(db, entry.key, dumps(sorted(failed)))
                else:
                    meta.delete(db, entry.key)
                    audit.append(db, store.now(), audit.SYSTEM,
                                 "session.retention_files_deleted",
                                 details={"files": len(json.loads(entry.value))})
    return finished


def _due(db: Database, session: SessionRow, now: Stamp, report: PurgeReport
         ) -> tuple[int, float] | None:
    """(retention days, age) of a session to purge now; None when it is kept (why is
    counted in ``report``)."""
    try:
        days = retention_days(db, session)
    except (NotFoundError, ValidationError) as exc:
        report.errors.append(f"{session.id}: {exc}")
        return None
    _, anchor = age_anchor(session)
    age = elapsed_s(anchor, now)
    if age is None:
        report.kept_unmeasurable.append(session.id)
        return None
    if age < days * DAY_S:
        report.kept_young += 1
        return None
    return days, age


def purge(store: Store, identity: Identity, media_dir: Path | None = None) -> PurgeReport:
    """Purge every ended session past its job's retention; see the module's description."""
    report = PurgeReport()
    for done in finish_pending(store, identity, media_dir):
        if done.message_id is not None:
            report.receipts.append(done.message_id)
    now = store.now()
    after = 0
    while True:
        with store.read() as db:  # decided on a read: young sessions cost no write lock
            batch = session_rows.ended_unpurged(db, after, BATCH, FINAL_STATES)
            due = [(s, d) for _, s in batch if (d := _due(db, s, now, report)) is not None]
        if not batch:
            break
        after = batch[-1][0]
        for seen, (days, age) in due:
            with store.transaction() as db:
                session = session_rows.get(db, seen.id)
                if session is None or session != seen:
                    continue  # changed since it was read (undone, purged): the next pass
                receipt = purge_session(db, now, session, days, age)
            done = finish_purge(store, identity, receipt, media_dir)
            report.purged.append(session.id)
            report.files_deleted += done.files_deleted
            report.files_failed.extend(done.files_failed)
            if done.message_id is not None:
                report.receipts.append(done.message_id)
    if report.purged:
        log.info("retention purge: %d sessions purged at their job's retention age (%s)",
                 len(report.purged), ", ".join(report.purged))
    if report.errors:
        log.error("retention purge: %d ended sessions kept, their job package cannot be read"
                  " back: %s", len(report.errors), "; ".join(report.errors))
    if report.kept_unmeasurable:
        log.warning("retention purge: the age of %d ended sessions cannot be measured (the"
                    " clock was not synchronised across a restart); they are kept until it"
                    " can be: %s", len(report.kept_unmeasurable),
                    ", ".join(report.kept_unmeasurable))
    return report


def shorter_settings(store: Store, config: KioskConfig) -> list[str]:
    """Warnings for box settings that would keep data longer than a job's consent promises.

    ``[storage] media_retention_days`` and ``acked_retention_days`` can only shorten what the
    consent promises: the retention purge deletes at the job's ``retention_days`` anyway.
    """
    warnings = []
    settings = (("media_retention_days", config.storage.media_retention_days),
                ("acked_retention_days", config.storage.acked_retention_days))
    with store.read() as db:
        for job in jobs(db):
            try:
                days = package(db, job.id, job.active_version).consent.retention_days
            except (NotFoundError, ValidationError):
                continue  # named by the purge, which keeps that job's sessions
            for name, value in settings:
                if value > days:
                    warnings.append(
                        f"[storage] {name} = {value:g} is longer than job {job.id}'s"
                        f" consent.retention_days = {days}: its sessions are purged at"
                        f" {days} days, as the consent promises")
    return warnings


class RetentionPurge:
    """The retention purge of one kiosk process, run by the API's periodic sweep."""

    def __init__(self, store: Store, config: KioskConfig, identity: Identity,
                 interval_s: float = PURGE_INTERVAL_S) -> None:
        self.store = store
        self.config = config
        self.identity = identity
        self.interval_s = interval_s
        self.last_purge: PurgeReport | None = None
        self._last_run: Stamp | None = None
        self._warned: set[str] = set()

    def run(self) -> PurgeReport:
        for warning in shorter_settings(self.store, self.config):
            if warning not in self._warned:
                self._warned.add(warning)
                log.warning("%s", warning)
        self.last_purge = purge(self.store, self.identity, self.config.media_dir)
        return self.last_purge

    def sweep(self) -> PurgeReport | None:
        """Purge when the last pass is ``interval_s`` old (or unmeasurably old); else None."""
        now = self.store.now()
        if self._last_run is not None:
            since = elapsed_s(self._last_run, now)
            if since is not None and 0 <= since < self.interval_s:
                return None
        self._last_run = now
        return self.run()
