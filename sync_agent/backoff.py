"""Exponential backoff with full jitter and a cap, and an upload bandwidth cap."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class Backoff:
    """Waits of ``uniform(0, min(cap, initial * 2**n))`` after the n-th failure in a row.

    Full jitter spreads a fleet's reconnects after a broker restart, so 200 boxes do not
    knock on the door in the same second.
    """

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.cap_s = max(cap_s, initial_s)
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * (2 ** min(self.failures, 32)))
        self.failures += 1
        return self._rng.uniform(ceiling / 10, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Throttle:
    """A token bucket in bytes: ``take(n)`` sleeps until ``n`` bytes may go.

    ``kbps`` of 0 means no cap. Thread-safe (the message loop and the media uploader share it).
    """

    def __init__(self, kbps: int, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = kbps * 1000 / 8  # bytes per second
        self.capacity = max(self.rate, 16_384.0)
        self._tokens = self.capacity
        self._last = clock()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
