"""The box's own health figures: CPU temperature and load (disk is the storage budget's)."""

from __future__ import annotations

import os
from pathlib import Path

THERMAL = Path("/sys/class/thermal")
#: Thermal zone types that measure the SoC/CPU (Raspberry Pi, Jetson, x86).
CPU_ZONES = ("cpu-thermal", "cpu_thermal", "soc_thermal", "cpu-therm", "CPU-therm",
             "x86_pkg_temp", "k10temp", "coretemp")


def cpu_temperature_c(root: Path = THERMAL) -> float | None:
    """The CPU's temperature in °C, or None where the kernel reports none (a VM)."""
    zones = sorted(root.glob("thermal_zone*"))
    ranked = sorted(zones, key=lambda z: _type(z) not in CPU_ZONES)
    for zone in ranked:
        try:
            return int((zone / "temp").read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return None


def _type(zone: Path) -> str:
    try:
        return (zone / "type").read_text().strip()
    except OSError:
        return ""


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load1": one, "load5": five, "load15": fifteen, "cpus": float(os.cpu_count() or 1)}
