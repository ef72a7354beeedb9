"""Timestamps that stay meaningful on a box without a real-time clock.

Every recorded time carries wall-clock UTC, a monotonic reading, the boot id and
whether the system clock was synchronised, so that central can order events from a
box that booted in 1970 and the box itself can measure durations across clock jumps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_TIME_ERROR = 5  # adjtimex(2): clock not synchronised


@dataclass(frozen=True)
class Stamp:
    """One moment, as recorded on the box."""

    utc: str
    mono: float
    boot: str
    synced: bool

    def to_dict(self) -> dict[str, Any]:
        # written out: dataclasses.asdict deep-copies, and a stamp is made per transition
        return {"utc": self.utc, "mono": self.mono, "boot": self.boot, "synced": self.synced}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stamp:
        return cls(
            utc=str(data["utc"]),
            mono=float(data["mono"]),
            boot=str(data["boot"]),
            synced=bool(data["synced"]),
        )

    @property
    def wall(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.utc)


def elapsed_s(start: Stamp, now: Stamp) -> float | None:
    """Seconds from ``start`` to ``now``, or None when no trustworthy figure exists.

    Within one boot the monotonic clock is exact whatever the wall clock did. Across a
    reboot only two synchronised wall-clock readings can be compared.
    """
    if start.boot == now.boot:
        return now.mono - start.mono
    if start.synced and now.synced:
        return (now.wall - start.wall).total_seconds()
    return None


class Clock(Protocol):
    def now(self) -> Stamp: ...


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: only the return value of adjtimex matters here,
    # the struct just has to be large enough (the kernel's is under 256 bytes).
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def clock_synchronised() -> bool:
    """Whether the kernel considers the system clock synchronised (NTP/chrony/GPS)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return False
    timex = _Timex()
    timex.modes = 0  # read only
    state = int(libc.adjtimex(ctypes.byref(timex)))
    return state not in (-1, _TIME_ERROR)


@lru_cache(maxsize=1)
def boot_id() -> str:
    """The kernel's id of this boot; a random one when the kernel offers none."""
    try:
        return _BOOT_ID_PATH.read_text().strip()
    except OSError:
        return f"noboot-{uuid.uuid4()}"


class SystemClock:
    """The real clock of the box. Synchronisation is re-read at most once a minute."""

    def __init__(self) -> None:
        self._synced = False
        self._synced_checked = -1e9

    def now(self) -> Stamp:
        mono = time.monotonic()
        if mono - self._synced_checked > 60:
            self._synced = clock_synchronised()
            self._synced_checked = mono
        wall = dt.datetime.now(dt.timezone.utc)
        return Stamp(
            utc=wall.isoformat(timespec="microseconds"),
            mono=mono,
            boot=boot_id(),
            synced=self._synced,
        )


class ManualClock:
    """A clock that moves only when told to: for drills, replays and tests."""

    def __init__(
        self,
        start: dt.datetime | None = None,
        *,
        synced: bool = True,
        boot: str = "boot-0",
    ) -> None:
        self._wall = start or dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)
        self._mono = 1000.0
        self.synced = synced
        self.boot = boot

    def now(self) -> Stamp:
        return Stamp(
            utc=self._wall.isoformat(timespec="microseconds"),
            mono=self._mono,
            boot=self.boot,
            synced=self.synced,
        )

    def advance(self, seconds: float) -> None:
        self._wall += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def reboot(self, *, wall: dt.datetime | None = None, synced: bool | None = None) -> None:
        """A new boot: the monotonic clock restarts, the wall clock may be anywhere."""
        self.boot = f"{self.boot}+"
        self._mono = 10.0
        if wall is not None:
            self._wall = wall
        if synced is not None:
            self.synced = synced
