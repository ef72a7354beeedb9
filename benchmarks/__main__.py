"""Run every benchmark and print one table: ``python -m benchmarks [--quick] [--only NAME]``.

Each ``bench_*`` module runs in its own Python process (its own session, so a timeout
stops the servers and helpers it started too), so its peak RSS is its own and no state
carries over from one benchmark to the next. The table goes to stdout and to
``benchmarks/results.md``; ``benchmarks/results.json`` holds the same rows by module, with
the environment they were measured in. ``--only`` re-runs some modules and merges their
rows into the files, keeping the other modules' rows (see :mod:`benchmarks.report`).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import report
from benchmarks.common import Row, check_row, progress
from benchmarks.report import ModuleResult, Results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREFIX = "bench_"
RESULTS_MD = HERE / "results.md"
RESULTS_JSON = HERE / "results.json"
#: A benchmark still running after this long is stopped (the full soak takes the longest).
DEFAULT_TIMEOUT_S = 3600.0


def discover() -> list[str]:
    """Short names (``api`` for ``bench_api``) of the benchmark modules, sorted."""
    return sorted(
        info.name[len(PREFIX):]
        for info in pkgutil.iter_modules([str(HERE)])
        if info.name.startswith(PREFIX) and not info.ispkg
    )


def _short(name: str) -> str:
    name = name.removesuffix(".py")
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- one benchmark, in the child process -----------------------------------------------


def run_module(name: str, quick: bool) -> list[Row]:
    module = importlib.import_module(f"benchmarks.{PREFIX}{name}")
    run = getattr(module, "run", None)
    if not callable(run):
        raise TypeError(f"benchmarks/{PREFIX}{name}.py has no run(quick) function")
    rows = run(quick)
    if not isinstance(rows, list) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"benchmarks/{PREFIX}{name}.py: run() must return a list of Row")
    if not rows:
        raise ValueError(f"benchmarks/{PREFIX}{name}.py returned no rows")
    for row in rows:
        check_row(row)
    return rows


def _worker(name: str, quick: bool, out: Path) -> int:
    rows = run_module(name, quick)
    out.write_text(json.dumps([asdict(r) for r in rows]), encoding="utf-8")
    return 0


# -- the parent: run each in turn, collect, report -------------------------------------


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child's whole session: the child, and the servers and helpers it started."""
    for sig, grace_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace_s)
            break
        except subprocess.TimeoutExpired:
            continue


def _run_isolated(name: str, quick: bool, timeout_s: float) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, "-m", "benchmarks", "--worker", name, "--out", str(out)]
        if quick:
            command.append("--quick")
        # The child's stdout joins our stderr: stdout carries nothing but the table.
        proc = subprocess.Popen(command, cwd=ROOT, stdout=sys.stderr, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout_s)
        except BaseException:  # the timeout, or Ctrl-C (which the new session does not get)
            _stop_group(proc)
            raise
        if returncode != 0:
            raise RuntimeError(f"exited with status {returncode}")
        return report.rows_from_json(json.loads(out.read_text(encoding="utf-8")))


def _measure(name: str, mode: str, timeout_s: float) -> ModuleResult:
    progress(f"== {PREFIX}{name} ({mode})")
    measured = _now()
    started = time.monotonic()
    error = None
    rows: list[Row] = []
    try:
        rows = _run_isolated(name, mode == "quick", timeout_s)
    except subprocess.TimeoutExpired:
        error = f"timed out after {timeout_s:g} s"
    except (RuntimeError, ValueError, OSError) as exc:
        error = str(exc)
    seconds = time.monotonic() - started
    progress(f"== {PREFIX}{name}: {len(rows)} rows in {seconds:.1f} s")
    return ModuleResult(name=name, mode=mode, measured=measured, seconds=seconds, rows=rows,
                        error=error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the kiosk benchmarks and print one markdown table.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small counts: a smoke test that finishes in minutes")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this benchmark (e.g. api or bench_api) and merge its "
                             "rows into the results files; repeatable")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help="give up on a benchmark after S seconds "
                             f"(default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.out is None:
            parser.error("--worker needs --out")
        return _worker(args.worker, args.quick, args.out)

    available = discover()
    selected = available
    if args.only:
        wanted = [_short(n) for n in args.only]
        unknown = [n for n in wanted if n not in available]
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)} "
                         f"(available: {', '.join(available)})")
        selected = [n for n in available if n in wanted]

    mode = "quick" if args.quick else "full"
    started_at = _now()
    started = time.monotonic()
    fresh = [_measure(name, mode, args.timeout) for name in selected]
    total_s = time.monotonic() - started

    env = report.environment()
    if args.only:
        previous = report.load(RESULTS_JSON)
        if previous is None and RESULTS_JSON.exists():
            progress(f"{RESULTS_JSON.relative_to(ROOT)} is not in the current format: "
                     "only the modules run now are kept")
        results = report.merge(previous, fresh, available, env, _now())
    else:
        base = {"started": started_at, "mode": mode, "seconds": round(total_s, 2)}
        results = Results(fresh, env, base, _now())
    print(report.write(results, RESULTS_MD, RESULTS_JSON))
    failures = [m for m in fresh if m.error is not None]
    for module in failures:
        progress(f"FAILED {PREFIX}{module.name}: {module.error}")
    progress(f"done in {total_s:.1f} s; wrote {RESULTS_MD.relative_to(ROOT)} and "
             f"{RESULTS_JSON.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
