"""Central's acks over MQTT: batched per box, published only for stored messages.

Ids are collected per ack topic and flushed when a batch reaches ``max_ids`` or has
waited ``linger_s``; one Ack names at most ``max_ids`` ids. The fault switch may drop
single ids, send a batch twice, or hold it back.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from central.faults import FaultSwitch
from shared.contract import Ack, Rejection

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]


@dataclass
class _Pending:
    device_id: str
    since: float
    acked: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def size(self) -> int:
        return len(self.acked) + len(self.rejected)


class AckPublisher:
    def __init__(self, publish: Publish, faults: FaultSwitch, *, max_ids: int = 100,
                 linger_s: float = 0.02) -> None:
        self._publish = publish
        self._faults = faults
        self.max_ids = max_ids
        self.linger_s = linger_s
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._delayed: list[tuple[float, int, str, bytes]] = []
        self._counter = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="receiver-acks", daemon=True)
        self._thread.start()

    def add(self, topic: str, device_id: str, acked: list[str],
            rejected: list[Rejection]) -> None:
        """Queue acks (ids central has stored) and rejections for one box's ack topic."""
        if not acked and not rejected:
            return
        with self._cond:
            batch = self._pending.setdefault(topic, _Pending(device_id, time.monotonic()))
            batch.acked.extend(acked)
            batch.rejected.extend(rejected)
            self._cond.notify()

    def release(self) -> None:
        """Send what is pending now: the messages of one stored batch need not linger."""
        with self._cond:
            for batch in self._pending.values():
                batch.since = float("-inf")
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping and not self._pending and not self._delayed:
                    return
                due, wait = self._take_due()
                if not due and wait > 0:
                    self._cond.wait(wait)
                    continue
            for topic, payload in due:
                try:
                    self._publish(topic, payload)
                except Exception:  # the box resends when an ack never comes
                    log.exception("publishing an ack to %s failed", topic)

    def _take_due(self) -> tuple[list[tuple[str, bytes]], float]:
        """Batches ready to go now and how long until the next one (lock held)."""
        now = time.monotonic()
        ready: list[tuple[str, bytes]] = []
        for topic in list(self._pending):
            batch = self._pending[topic]
            if batch.size() >= self.max_ids or now - batch.since >= self.linger_s \
                    or self._stopping:
                del self._pending[topic]
                self._schedule(topic, batch, now, ready)
        while self._delayed and (self._delayed[0][0] <= now or self._stopping):
            _, _, topic, payload = heapq.heappop(self._delayed)
            ready.append((topic, payload))
        waits = [b.since + self.linger_s - now for b in self._pending.values()]
        waits += [self._delayed[0][0] - now] if self._delayed else []
        return ready, max(0.001, min(waits)) if waits else 0.5

    def _schedule(self, topic: str, batch: _Pending, now: float,
                  ready: list[tuple[str, bytes]]) -> None:
        faults = self._faults.current
        acked = [m for m in batch.acked if not self._faults.drop()]
        rejected = [r for r in batch.rejected if not self._faults.drop()]
        if not acked and not rejected:
            log.info("fault switch: dropped the ack of %d message(s) to %s", batch.size(), topic)
            return
        copies = 2 if faults.duplicate_acks else 1
        for start in range(0, max(len(acked), len(rejected)), self.max_ids):
            payload = Ack(device_id=batch.device_id, acked=acked[start:start + self.max_ids],
                          rejected=rejected[start:start + self.max_ids]
                          ).model_dump_json().encode()
            for _ in range(copies):
                if faults.delay_acks_s > 0:
                    self._counter += 1
                    heapq.heappush(self._delayed,
                                   (now + faults.delay_acks_s, self._counter, topic, payload))
                else:
                    ready.append((topic, payload))

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is pending (delays cut short) and stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
