"""Figures about the box itself, read from the kernel: memory, disk, uptime, clock sync.

Everything comes from ``/proc``, ``os.statvfs`` and the kernel's clock state (no extra
packages), so it works the same on a Pi, a Jetson and a CI runner.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from device.capture.health import cpu_temperature_c, load
from device.clock import clock_synchronised

PACKAGE = "interview-kiosk"
PROC = Path("/proc")
TIMEDATECTL_TIMEOUT_S = 2.0


def package_version() -> str:
    """The installed product version, or "unknown" when run from an uninstalled tree."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def memory(proc: Path = PROC) -> tuple[int, int]:
    """(total, available) memory in bytes, from ``/proc/meminfo``; (0, 0) when unreadable."""
    found: dict[str, int] = {}
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if key in ("MemTotal", "MemAvailable", "MemFree") and parts:
                found[key] = int(parts[0]) * 1024  # the kernel reports kB
    except (OSError, ValueError):
        return 0, 0
    return found.get("MemTotal", 0), found.get("MemAvailable", found.get("MemFree", 0))


def disk(path: Path) -> tuple[int, int]:
    """(total, free to unprivileged writers) bytes of the filesystem holding ``path``;
    (0, 0) when the path cannot be examined."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0, 0
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def uptime_s(proc: Path = PROC) -> float:
    """Seconds since the box booted (``/proc/uptime``); 0.0 when unreadable."""
    try:
        return float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def system(data_dir: Path) -> dict[str, Any]:
    """The ``system`` object of the staff health view."""
    total, available = memory()
    disk_total, disk_free = disk(data_dir)
    figures = load()
    return {"cpu_temperature_c": cpu_temperature_c(), "load1": round(figures["load1"], 2),
            "cpus": int(figures["cpus"]), "memory_total": total,
            "memory_available": available, "disk_total": disk_total, "disk_free": disk_free,
            "data_dir": str(data_dir)}


@dataclass(frozen=True)
class ClockSync:
    synchronized: bool | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"synchronized": self.synchronized, "detail": self.detail}


def clock_sync() -> ClockSync:
    """Whether the system clock is synchronised: systemd's view when it answers, else the
    kernel's (adjtimex), else unknown with the reason."""
    found = _timedatectl()
    if found is not None:
        return found
    try:
        synced = clock_synchronised()
    except (OSError, AttributeError, ValueError) as exc:
        return ClockSync(None, f"the clock state cannot be read (timedatectl and adjtimex"
                               f" both failed: {exc})")
    if synced:
        return ClockSync(True, "the kernel reports the clock synchronised (adjtimex)")
    return ClockSync(False, "the kernel reports the clock not synchronised (adjtimex): check"
                            " the network time service (chrony or systemd-timesyncd)")


def _timedatectl() -> ClockSync | None:
    tool = shutil.which("timedatectl")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, "show", "-p", "NTPSynchronized", "--value"],
                              capture_output=True, text=True, timeout=TIMEDATECTL_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip().lower()
    if done.returncode != 0 or value not in ("yes", "no"):
        return None  # no systemd (a container): the kernel still knows
    if value == "yes":
        return ClockSync(True, "systemd reports the clock synchronised (timedatectl)")
    return ClockSync(False, "systemd reports the clock not synchronised (timedatectl): check"
                            " the network and the time service")
