"""Run every benchmark and print one table: ``python -m benchmarks [--quick] [--only NAME]``.

Each ``bench_*`` module runs in its own Python process, so its peak RSS is its own and
no state carries over from one benchmark to the next. The table goes to stdout and to
``benchmarks/results.md``; ``benchmarks/results.json`` holds the same rows with the
environment they were measured in. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pkgutil
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import COLUMNS, Row, markdown_table, progress

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREFIX = "bench_"
RESULTS_MD = HERE / "results.md"
RESULTS_JSON = HERE / "results.json"
DEFAULT_TIMEOUT_S = 900.0


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


def _rows_from_json(data: Any) -> list[Row]:
    if not isinstance(data, list):
        raise ValueError("expected a list of rows")
    names = {f.name for f in fields(Row)}
    out = []
    for item in data:
        if not isinstance(item, dict) or set(item) != names:
            raise ValueError(f"not a result row: {item!r}")
        out.append(Row(**item))
    return out


# -- one benchmark, in the child process -----------------------------------------------


def run_module(name: str, quick: bool) -> list[Row]:
    module = importlib.import_module(f"benchmarks.{PREFIX}{name}")
    run = getattr(module, "run", None)
    if not callable(run):
        raise TypeError(f"benchmarks/{PREFIX}{name}.py has no run(quick) function")
    rows = run(quick)
    if not isinstance(rows, list) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"benchmarks/{PREFIX}{name}.py: run() must return a list of Row")
    return rows


def _worker(name: str, quick: bool, out: Path) -> int:
    rows = run_module(name, quick)
    out.write_text(json.dumps([asdict(r) for r in rows]), encoding="utf-8")
    return 0


# -- the parent: run each in turn, collect, report -------------------------------------


def _run_isolated(name: str, quick: bool, timeout_s: float) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, "-m", "benchmarks", "--worker", name, "--out", str(out)]
        if quick:
            command.append("--quick")
        # The child's stdout joins our stderr: stdout carries nothing but the table.
        done = subprocess.run(command, cwd=ROOT, stdout=sys.stderr, timeout=timeout_s,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"exited with status {done.returncode}")
        return _rows_from_json(json.loads(out.read_text(encoding="utf-8")))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def environment() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "fastapi": _version("fastapi"),
        "starlette": _version("starlette"),
        "uvicorn": _version("uvicorn"),
        "pydantic": _version("pydantic"),
        "httpx": _version("httpx"),
        "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def _markdown_document(table: str, env: dict[str, Any], mode: str, when: str) -> str:
    return "\n".join([
        "# Benchmark results",
        "",
        f"{when}, {mode} run. {env['platform']}, {env['cpus']} CPUs, Python {env['python']}, "
        f"SQLite {env['sqlite']}, FastAPI {env['fastapi']}, uvicorn {env['uvicorn']} "
        f"({env['event_loop']}, {env['http_parser']}), httpx {env['httpx']}.",
        "",
        table,
        "",
        "Ratio is ours / baseline, both measured in the same run: for latencies (ms) lower is "
        "better, for throughput higher is better. Latencies are client-side wall times on "
        "loopback; throughput is the median of several rounds. Regenerate with `make bench`.",
        "",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the kiosk benchmarks and print one markdown table.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small counts: a smoke test that finishes in seconds")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this benchmark (e.g. api or bench_api); repeatable")
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
    rows: list[Row] = []
    modules: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    started_all = time.monotonic()
    for name in selected:
        progress(f"== {PREFIX}{name} ({mode})")
        started = time.monotonic()
        try:
            found = _run_isolated(name, args.quick, args.timeout)
        except subprocess.TimeoutExpired:
            failures.append({"benchmark": name, "error": f"timed out after {args.timeout:g} s"})
            found = []
        except (RuntimeError, ValueError, OSError) as exc:
            failures.append({"benchmark": name, "error": str(exc)})
            found = []
        seconds = time.monotonic() - started
        modules.append({"name": name, "seconds": round(seconds, 2), "rows": len(found)})
        progress(f"== {PREFIX}{name}: {len(found)} rows in {seconds:.1f} s")
        rows.extend(found)
    total_s = time.monotonic() - started_all

    env = environment()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = markdown_table(rows)
    print(table)
    RESULTS_MD.write_text(_markdown_document(table, env, mode, when), encoding="utf-8")
    RESULTS_JSON.write_text(json.dumps({
        "generated": when,
        "mode": mode,
        "only": args.only,
        "total_seconds": round(total_s, 2),
        "environment": env,
        "columns": list(COLUMNS),
        "rows": [asdict(r) for r in rows],
        "modules": modules,
        "failures": failures,
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for failure in failures:
        progress(f"FAILED {PREFIX}{failure['benchmark']}: {failure['error']}")
    progress(f"done in {total_s:.1f} s; wrote {RESULTS_MD.relative_to(ROOT)} and "
             f"{RESULTS_JSON.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
