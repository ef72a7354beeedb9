"""The storage budget: what the box keeps on its disk, and when it stops taking interviews.

Counted against ``[storage] quota_mb``: the recordings not yet purged and the database
file with its write-ahead log (which holds the outbox). When less than ``reserve_mb`` is
left of the quota or of the free disk, no new session checks in, so the sessions in
progress can finish; nothing in progress is stopped and no result is ever dropped.

Eviction only deletes what central already holds: a recording whose ``media`` message
central acknowledged, once ``media_retention_days`` have passed since that ack, and a
delivered outbox row after ``acked_retention_days``. Ages are measured like every
duration on the box (:func:`device.clock.elapsed_s`); an age that cannot be measured
(another boot, clock not synchronised) keeps the file or the row.

Eviction can only delete earlier than the consent promises, never later: whatever these
settings say, :mod:`device.ops.retention` purges a session's recordings, results and
messages at its job's ``consent.retention_days``, sent to central or not.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device import audit
from device.central_link import outbox
from device.clock import Stamp, elapsed_s
from device.config import KioskConfig
from device.errors import StorageFullError
from device.storage import media
from device.storage.database import Store

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DAY_S = 86400.0
#: Rows looked at per query and changed per transaction while evicting: short
#: transactions, so the API and the sync agent never wait long on eviction.
EVICT_BATCH = 500
#: How often the API's periodic sweep runs eviction (seconds on the store's clock).
EVICT_INTERVAL_S = 600.0


@dataclass(frozen=True)
class Usage:
    """Bytes on the box, as counted against the storage quota."""

    media_bytes: int
    """Recordings on disk (not yet purged)."""
    media_unconfirmed_bytes: int
    """Of those, recordings central has not confirmed."""
    outbox_bytes: int
    """Messages central has not acknowledged (stored inside the database)."""
    database_bytes: int
    """The database file and its write-ahead log."""
    disk_free_bytes: int
    """Free space of the filesystem holding the data directory."""
    quota_bytes: int
    reserve_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.media_bytes + self.database_bytes

    @property
    def remaining_bytes(self) -> int:
        return max(self.quota_bytes - self.used_bytes, 0)

    @property
    def unconfirmed_bytes(self) -> int:
        """Results and recordings that stay until central confirms them."""
        return self.outbox_bytes + self.media_unconfirmed_bytes

    @property
    def quota_short(self) -> bool:
        return self.remaining_bytes < self.reserve_bytes

    @property
    def disk_short(self) -> bool:
        return self.disk_free_bytes < self.reserve_bytes

    @property
    def accepting_sessions(self) -> bool:
        return not (self.quota_short or self.disk_short)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "used_bytes": self.used_bytes,
                "remaining_bytes": self.remaining_bytes,
                "unconfirmed_bytes": self.unconfirmed_bytes,
                "accepting_sessions": self.accepting_sessions}


def _files_bytes(*paths: Path) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def usage(store: Store, config: KioskConfig) -> Usage:
    """What the box holds now: a few sums over the database, two stats and a statfs."""
    with store.read() as db:
        recordings = media.totals(db)
        queued = outbox.unacked_bytes(db)
    wal = store.path.with_name(store.path.name + "-wal")
    return Usage(
        media_bytes=recordings.bytes,
        media_unconfirmed_bytes=recordings.unconfirmed_bytes,
        outbox_bytes=queued,
        database_bytes=_files_bytes(store.path, wal),
        disk_free_bytes=shutil.disk_usage(config.data_dir).free,
        quota_bytes=config.storage.quota_mb * MIB,
        reserve_bytes=config.storage.reserve_mb * MIB,
    )


def _mb(n: int) -> str:
    if n < MIB // 10:
        return "less than 0.1 MB"
    return f"{n / MIB:,.1f} MB" if n < 100 * MIB else f"{n / MIB:,.0f} MB"


def refusal(u: Usage, config: KioskConfig) -> str | None:
    """Why a new session cannot start, for staff (what is full, what to do); None if it can."""
    if u.accepting_sessions:
        return None
    full = []
    if u.quota_short:
        full.append(f"{_mb(u.used_bytes)} of the box's {_mb(u.quota_bytes)} storage quota is"
                    " in use")
    if u.disk_short:
        full.append(f"the disk holding {config.data_dir} has only {_mb(u.disk_free_bytes)}"
                    " free")
    parts = [f"Storage is full: {' and '.join(full)}; a new interview needs"
             f" {_mb(u.reserve_bytes)} kept free. Interviews in progress go on and keep their"
             " results."]
    raise_quota = "ask central to raise the box's storage quota (storage.quota_mb)"
    if u.unconfirmed_bytes:
        asks = ["connect the box to the network so they can be delivered"]
        asks += [raise_quota] if u.quota_short else []
        parts.append(f"The box keeps {_mb(u.unconfirmed_bytes)} of results and recordings"
                     f" central has not confirmed yet; {', or '.join(asks)}.")
    elif u.quota_short:
        parts.append(raise_quota[0].upper() + raise_quota[1:] + ".")
    if u.media_unconfirmed_bytes and not config.sync.upload_media:
        parts.append("Recordings are not sent to central on this box (sync.upload_media is"
                     " off): they stay until their job's retention period ends, or until"
                     " central asks for their deletion.")
    confirmed = u.media_bytes - u.media_unconfirmed_bytes
    if confirmed:
        days = config.storage.media_retention_days
        parts.append(f"{_mb(confirmed)} of recordings central already has are deleted"
                     f" {days:g} days after central confirmed them.")
    if u.disk_short:
        parts.append(f"Free space on the disk holding {config.data_dir}.")
    return " ".join(parts)


def can_start_session(store: Store, config: KioskConfig) -> Usage:
    """Usage now, or :class:`StorageFullError` when a new session must not start."""
    u = usage(store, config)
    reason = refusal(u, config)
    if reason is not None:
        raise StorageFullError(reason, u.to_dict())
    return u


# -- eviction ---------------------------------------------------------------------------

@dataclass
class EvictionReport:
    """What one eviction pass did, and what it kept and why."""

    media_purged: int = 0
    media_bytes_freed: int = 0
    media_kept_young: int = 0
    media_kept_unmeasurable: int = 0
    media_kept_foreign: int = 0
    """Recordings outside the data directory's media folder: never deleted by the box."""
    media_errors: list[str] = field(default_factory=list)
    outbox_pruned: int = 0
    outbox_bytes_pruned: int = 0
    outbox_kept_young: int = 0
    outbox_kept_unmeasurable: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.media_purged or self.outbox_pruned)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age_due(stamp: Stamp | None, now: Stamp, retention_s: float) -> bool | None:
    """True when past retention, False when younger, None when the age cannot be measured."""
    age = elapsed_s(stamp, now) if stamp else None
    if age is None:
        return None
    return age >= retention_s


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _delete(path: Path) -> int:
    """Delete a recording; return the bytes freed (0 when it was already gone)."""
    try:
        size = path.lstat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def _evict_media(store: Store, config: KioskConfig, now: Stamp, report: EvictionReport) -> None:
    retention_s = config.storage.media_retention_days * DAY_S
    after = 0
    while True:
        with store.read() as db:
            batch = media.confirmed_batch(db, after, EVICT_BATCH)
        if not batch:
            return
        after = batch[-1][0]
        gone: list[str] = []
        for _, recording in batch:
            due = _age_due(recording.acked, now, retention_s)
            if due is None:
                report.media_kept_unmeasurable += 1
                continue
            if not due:
                report.media_kept_young += 1
                continue
            path = Path(recording.path)
            if not _inside(path, config.media_dir):
                report.media_kept_foreign += 1
                continue
            # The file goes first: a crash before the row is marked leaves a row whose
            # file is already gone, which the next pass marks. This order also lets
            # eviction run on a full disk: the update below needs the space just freed.
            try:
                report.media_bytes_freed += _delete(path)
            except OSError as exc:
                report.media_errors.append(f"{path}: {exc.strerror or exc}")
                log.warning("cannot delete recording %s: %s", path, exc)
                continue
            gone.append(recording.id)
        if gone:
            with store.transaction() as db:
                for media_id in gone:
                    media.mark_purged(db, media_id, now)
                audit.append(db, now, audit.SYSTEM, "storage.media_purged", details={
                    "media_ids": gone,
                    "reason": f"central has them; kept {config.storage.media_retention_days:g}"
                              " days after its confirmation"})
            report.media_purged += len(gone)


def _prune_outbox(store: Store, config: KioskConfig, now: Stamp, report: EvictionReport) -> None:
    retention_s = config.storage.acked_retention_days * DAY_S
    after = 0
    while True:
        with store.read() as db:
            batch = outbox.acked_after(db, after, EVICT_BATCH)
        if not batch:
            return
        after = batch[-1].seq
        old: list[int] = []
        for message in batch:
            due = _age_due(message.acked, now, retention_s)
            if due is None:
                report.outbox_kept_unmeasurable += 1
            elif not due:
                report.outbox_kept_young += 1
            else:
                old.append(message.seq)
                report.outbox_bytes_pruned += message.bytes
        if old:
            with store.transaction() as db:
                report.outbox_pruned += outbox.delete_acked(db, old)


def evict(store: Store, config: KioskConfig) -> EvictionReport:
    """Delete recordings central holds past their retention; prune old delivered messages.

    Unacknowledged messages and recordings central has not confirmed are never touched.
    """
    now = store.now()
    report = EvictionReport()
    _evict_media(store, config, now, report)
    _prune_outbox(store, config, now, report)
    if report.changed or report.media_errors:
        log.info("storage eviction: %s", report.to_dict())
    return report


class StorageBudget:
    """The storage rules of one kiosk process: admitting new sessions, periodic eviction."""

    def __init__(self, store: Store, config: KioskConfig,
                 interval_s: float = EVICT_INTERVAL_S) -> None:
        self.store = store
        self.config = config
        self.interval_s = interval_s
        self.last_eviction: EvictionReport | None = None
        self._last_run: Stamp | None = None

    def usage(self) -> Usage:
        return usage(self.store, self.config)

    def admit(self) -> None:
        """Refuse a new session with :class:`StorageFullError` when the budget is spent."""
        can_start_session(self.store, self.config)

    def sweep(self) -> EvictionReport | None:
        """Evict when the last pass is ``interval_s`` old (or unmeasurably old); else None."""
        now = self.store.now()
        if self._last_run is not None:
            since = elapsed_s(self._last_run, now)
            if since is not None and 0 <= since < self.interval_s:
                return None
        self._last_run = now
        self.last_eviction = evict(self.store, self.config)
        return self.last_eviction
