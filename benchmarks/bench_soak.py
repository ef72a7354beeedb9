"""The long fault runs at full counts: power cuts, and the sync agent's fault soak.

``make test`` runs these tests with bounded cycle counts; here ``KIOSK_SOAK=1`` raises
them (1000 simulated power cuts; more broker restarts, kills and network cuts). Each row
is one pytest run: its wall time, and the number of tests that passed out of those run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Row, peak_rss_mib, progress

ROOT = Path(__file__).resolve().parents[1]

RUNS = (
    ("power cuts (1000 seeds, drop and torn)", ["tests/test_power_cut.py"]),
    ("sync fault soak", ["tests/test_sync_faults.py", "tests/test_sync_clock.py"]),
)


def _pytest(files: list[str], quick: bool) -> tuple[float, int, int, str]:
    env = {**os.environ, "KIOSK_SOAK": "0" if quick else "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3600",
         *files], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    return elapsed, passed, passed + failed, tail


def run(quick: bool) -> list[Row]:
    rows = []
    for name, files in RUNS:
        if not all((ROOT / f).exists() for f in files):
            continue
        progress(f"soak: {name}")
        elapsed, passed, total, tail = _pytest(files, quick)
        rows.append(Row(name, elapsed, None, None, "s", peak_rss_mib(),
                        f"{passed}/{total} tests passed ({tail})"))
    return rows
