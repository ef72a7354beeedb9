"""The long fault runs at full counts: power cuts, and the sync agent's fault soak.

``make test`` runs these tests with bounded cycle counts; here ``KIOSK_SOAK=1`` raises
them (1000 simulated power cuts; ten times the broker restarts, kills and network cuts).
Each row is one pytest run: its wall time, the number of tests that passed out of those
run, and the peak RSS of pytest and the processes it ran. These are pass/fail soaks with
nothing comparable to run bare, so the rows have no baseline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import NO_BASELINE, Row, progress

ROOT = Path(__file__).resolve().parents[1]

#: (row name in a full run, in a quick run, test files)
RUNS = (
    ("soak: power cuts (1000 seeds, drop and torn)",
     "soak: power cuts (100 seeds, drop and torn)",
     ["tests/test_device/storage/test_power_cut.py"]),
    ("soak: sync faults (10x cycles)", "soak: sync faults (bounded cycles)",
     ["tests/test_sync_agent/test_sync_faults.py", "tests/test_sync_agent/test_sync_clock.py"]),
)


def _pytest(files: list[str], quick: bool) -> tuple[float, int, int, str, float]:
    """Wall time, passed, run, pytest's summary line and its peak RSS (MiB)."""
    env = {**os.environ, "KIOSK_SOAK": "0" if quick else "1"}
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout",
             "3600", *files], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            text=True)
        try:
            # wait4, not wait: its rusage is this child's own (with the processes it waited
            # for), where RUSAGE_CHILDREN would take the largest child of the whole run.
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().strip()
    tail = text.splitlines()[-1] if text else f"pytest exited with {proc.returncode}"
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    return elapsed, passed, passed + failed, tail, usage.ru_maxrss / 1024


def run(quick: bool) -> list[Row]:
    rows = []
    for full_name, quick_name, files in RUNS:
        if not all((ROOT / f).exists() for f in files):
            raise FileNotFoundError(f"soak tests missing: {', '.join(files)}")
        name = quick_name if quick else full_name
        progress(f"{name} ({' '.join(files)})")
        elapsed, passed, total, tail, rss = _pytest(files, quick)
        verdict = "" if total and passed == total else "FAILED: "
        if verdict:
            progress(f"{name}: {tail}")
        rows.append(Row(benchmark=name, ours=elapsed, baseline=None, ratio=None, unit="s",
                        better="lower", peak_rss_mib=rss,
                        notes=f"{NO_BASELINE}: a pass/fail soak, timed; {verdict}{passed}/"
                              f"{total} tests passed ({tail}); peak RSS of pytest and what it ran"))
    return rows
