"""The limiter for wrong invite and resume codes.

Candidates share the kiosk's one address, so the limiter never looks at who asks. It
looks at what was typed:

- **Per prefix.** Wrong codes are counted by their first :data:`PREFIX_LEN` characters.
  One candidate's typos share a prefix, so after ``max_failures`` of them that prefix
  is locked for ``lockout_s``; the next candidate's code starts differently and is not
  held up.
- **Globally.** Every wrong code also counts towards the whole kiosk. Past
  ``global_free`` of them, each further wrong code starts a pause for everyone that
  doubles from 1 s up to ``backoff_max_s``, so codes cannot be enumerated at any
  speed. The count starts again once ``lockout_s`` passes without a wrong code.

A right code is only ever held up by its own prefix's lockout or by the short global
pause. Times are monotonic readings, so a wall-clock jump neither lifts nor extends a
wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from device.errors import RateLimitedError
from device.sessions.codes import normalise

#: Characters of a typed code that identify whose tries they are.
PREFIX_LEN = 4
#: The first global pause (seconds); each further wrong code doubles it.
BACKOFF_BASE_S = 1.0
#: Prefixes remembered at most; the oldest are forgotten first.
MAX_PREFIXES = 10_000

Limit = Literal["code", "kiosk"]


class CodeLockedError(RateLimitedError):
    """Wrong codes made this wait; ``limit`` says whether for one prefix or the kiosk."""

    def __init__(self, message: str, retry_after_s: float, limit: Limit) -> None:
        super().__init__(message, retry_after_s)
        self.limit = limit


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class CodeLimiter:
    max_failures: int
    lockout_s: float
    global_free: int
    backoff_max_s: float
    _prefixes: dict[str, _Failures] = field(default_factory=dict)
    _global_count: int = 0
    _global_last: float = 0.0
    _global_until: float = 0.0

    @staticmethod
    def prefix(code: str) -> str:
        return normalise(code)[:PREFIX_LEN]

    def check(self, code: str, mono: float) -> None:
        """Raise :class:`CodeLockedError` when ``code`` may not be tried yet."""
        if self._global_until > mono:
            wait = self._global_until - mono
            raise CodeLockedError(
                f"many wrong codes were typed here; check-in pauses for {_seconds(wait)} s",
                wait, "kiosk")
        state = self._prefixes.get(self.prefix(code))
        if state is not None and state.locked_until > mono:
            wait = state.locked_until - mono
            raise CodeLockedError(
                f"too many wrong codes; try again in {_seconds(wait)} s or ask staff for help",
                wait, "code")

    def failed(self, code: str, mono: float) -> None:
        self._fail_prefix(self.prefix(code), mono)
        if self._global_count and mono - self._global_last > self.lockout_s:
            self._global_count = 0
        self._global_count += 1
        self._global_last = mono
        over = self._global_count - self.global_free
        if over > 0:
            pause = min(BACKOFF_BASE_S * 2 ** min(over - 1, 30), self.backoff_max_s)
            self._global_until = mono + pause

    def _fail_prefix(self, key: str, mono: float) -> None:
        state = self._prefixes.pop(key, None) or _Failures()
        if state.locked_until and state.locked_until <= mono:
            state = _Failures()
        state.count += 1
        if state.count >= self.max_failures:
            state.locked_until = mono + self.lockout_s
        self._prefixes[key] = state  # re-inserted: the dict's order is oldest first
        while len(self._prefixes) > MAX_PREFIXES:
            del self._prefixes[next(iter(self._prefixes))]

    def succeeded(self, code: str) -> None:
        self._prefixes.pop(self.prefix(code), None)


def _seconds(wait: float) -> int:
    return int(wait) + 1
