"""Sending events to webhook endpoints: signed, in order per candidate, retried, dead-lettered.

Each round takes the due deliveries (``next_attempt`` passed) that have no earlier
undelivered event of the same box and session for the same endpoint, so one candidate's
events reach an endpoint in sequence order while other candidates' go on. A delivery is
leased before it is sent (several central processes may deliver from one database); the
lease runs out if a process dies mid-send, and the delivery is sent again: consumers
deduplicate by ``event_id``.

An endpoint that fails is not tried again in the same round. A 2xx answer delivers
it, and makes the endpoint's other waiting deliveries due at once: an endpoint that was
down gets its backlog as soon as one retry reaches it, not each event's own backoff
later. Anything else (an error status, no answer within the timeout, a refused
connection) is retried after ``base_s``, doubling up to ``cap_s``; once the event
is older than ``give_up_after_s`` a failure makes it a dead letter, listed with its last
error and replayable. A dead letter no longer holds back the candidate's later events;
each event carries its ``sequence``, so a consumer can tell a replayed one is older.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from central.errors import NotFoundError
from central.store import ReceiverStore, rows
from central.webhooks import events, signing

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 10.0
    cap_s: float = 600.0
    give_up_after_s: float = 72 * 3600.0
    timeout_s: float = 10.0
    lease_s: float = 60.0
    batch: int = 50

    def delay_s(self, attempts: int) -> float:
        """Wait after the ``attempts``-th failure: base, 2 × base, 4 × base … up to cap."""
        return float(min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1)))


_DUE = f"""
SELECT d.endpoint_id, d.event_seq, d.attempts, w.url, w.secret, {', '.join(
    'e.' + c.strip() for c in events.COLUMNS.split(','))}
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.active = 1
JOIN events e ON e.seq = d.event_seq
WHERE d.state = 'pending' AND d.next_attempt <= ?
  AND (d.leased_until IS NULL OR d.leased_until <= ?)
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id
                  AND p.subject = d.subject AND p.state = 'pending'
                  AND p.event_seq < d.event_seq)
ORDER BY d.event_seq LIMIT ?
"""  # noqa: S608 - column names only


class Deliverer:
    """Delivers due webhook events; :meth:`run_once` for one round, :meth:`start` for a
    background thread."""

    def __init__(self, store: ReceiverStore, *, policy: RetryPolicy | None = None,
                 client: httpx.Client | None = None, clock: Clock = utc) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()
        self.client = client or httpx.Client(timeout=self.policy.timeout_s)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Send what is due now; returns how many deliveries were attempted."""
        now = self.clock()
        with self.store.read() as conn:
            due = rows(conn, _DUE, (iso(now), iso(now), self.policy.batch))
        leased = self._lease(due, now) if due else []
        failing: set[str] = set()
        sent = 0
        for row in leased:
            if row["endpoint_id"] in failing:  # down just now: try it again next time
                self._release(row)
                continue
            sent += 1
            if not self._send(row):
                failing.add(row["endpoint_id"])
        return sent

    def _lease(self, due: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        """The due deliveries this process now holds (one transaction for the round)."""
        # long enough to send every one of them at the timeout, so no lease runs out mid-round
        until = iso(now + timedelta(seconds=self.policy.lease_s
                                    + self.policy.timeout_s * len(due)))
        with self.store.transaction() as conn:
            return [row for row in due if conn.execute(
                "UPDATE webhook_deliveries SET leased_until = ? WHERE endpoint_id = ?"
                " AND event_seq = ? AND state = 'pending'"
                " AND (leased_until IS NULL OR leased_until <= ?)",
                (until, row["endpoint_id"], row["event_seq"], iso(now))).rowcount == 1]

    def _release(self, row: dict[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE webhook_deliveries SET leased_until = NULL WHERE endpoint_id"
                         " = ? AND event_seq = ?", (row["endpoint_id"], row["event_seq"]))

    def _send(self, row: dict[str, Any]) -> bool:
        """Send one delivery and record the outcome; True when it was accepted."""
        event = events.to_json(row)
        body = json.dumps(event, ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json",
                   "Kiosk-Event-Id": event["event_id"], "Kiosk-Event-Type": event["type"],
                   signing.HEADER: signing.sign(row["secret"], int(time.time()), body)}
        status: int | None = None
        try:
            answer = self.client.post(row["url"], content=body, headers=headers)
            status = answer.status_code
            error = None if answer.is_success else f"HTTP {status}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        self._settle(row, event, status, error)
        return error is None

    def _settle(self, row: dict[str, Any], event: dict[str, Any], status: int | None,
                error: str | None) -> None:
        now = self.clock()
        key = (row["endpoint_id"], row["event_seq"])
        with self.store.transaction() as conn:
            if error is None:
                conn.execute("UPDATE webhook_deliveries SET state = 'delivered', attempts ="
                             " attempts + 1, leased_until = NULL, last_status = ?,"
                             " last_error = NULL, delivered_at = ? WHERE endpoint_id = ?"
                             " AND event_seq = ?", (status, iso(now), *key))
                # the endpoint answers again: what waited out its backoff goes now
                conn.execute("UPDATE webhook_deliveries SET next_attempt = ? WHERE"
                             " endpoint_id = ? AND state = 'pending' AND next_attempt > ?",
                             (iso(now), row["endpoint_id"], iso(now)))
                return
            attempts = int(row["attempts"]) + 1
            age = (now - datetime.fromisoformat(event["created_at"])).total_seconds()
            dead = age >= self.policy.give_up_after_s
            conn.execute(
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, leased_until = NULL,"
                " last_status = ?, last_error = ?, next_attempt = ? WHERE endpoint_id = ?"
                " AND event_seq = ?",
                ("dead" if dead else "pending", attempts, status, error,
                 iso(now + timedelta(seconds=self.policy.delay_s(attempts))), *key))
        level = logging.ERROR if dead else logging.WARNING if attempts == 1 else logging.INFO
        log.log(level,
            "webhook %s of event %s (%s) to %s failed (attempt %d): %s%s", row["endpoint_id"],
            event["event_id"], event["type"], row["url"], attempts, error,
            "; dead-lettered" if dead else "")

    # -- background ------------------------------------------------------------------------

    def start(self, idle_s: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:  # the database away for a moment: try again later
                    log.exception("webhook delivery round failed")
                    busy = 0
                if not busy:
                    self._stop.wait(idle_s)

        self._thread = threading.Thread(target=loop, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout_s + 5)
        self.client.close()


def deliveries(store: ReceiverStore, state: str | None = None, limit: int = 500
               ) -> list[dict[str, Any]]:
    """Deliveries with their event's type and session, newest first (dead letters with
    ``state='dead'``)."""
    return store.all(
        "SELECT d.endpoint_id, d.event_seq, d.state, d.attempts, d.next_attempt,"
        " d.last_status, d.last_error, d.delivered_at, e.event_id, e.type, e.device_id,"
        " e.session_id FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq"
        " WHERE (CAST(? AS TEXT) IS NULL OR d.state = ?) ORDER BY d.event_seq DESC LIMIT ?",
        (state, state, limit))


def replay(store: ReceiverStore, endpoint_id: str, event_seq: int, at: datetime) -> None:
    """Send a dead (or already delivered) event again, as soon as possible."""
    with store.transaction() as conn:
        changed = conn.execute(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, leased_until = NULL,"
            " last_error = NULL, next_attempt = ? WHERE endpoint_id = ? AND event_seq = ?"
            " AND state <> 'pending'", (iso(at), endpoint_id, event_seq)).rowcount
    if changed != 1:
        raise NotFoundError(f"no dead or delivered event {event_seq} for endpoint"
                            f" {endpoint_id!r}")
