"""The results files: ``results.json`` (rows by module, with when and how each was measured)
and ``results.md`` (the same table under a header saying how to read it).

A run of every benchmark replaces both files. A run with ``--only`` merges: the modules it
ran replace their own rows and the other modules' rows stay as they were, each module
keeping the time and mode it was measured in, which the header lists.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE_DIR, COLUMNS, Row, markdown_table, median

FORMAT = "kiosk-bench/2"


@dataclass
class ModuleResult:
    """One benchmark module's rows and how they were measured."""

    name: str
    mode: str  # "full" or "quick"
    measured: str  # UTC, minutes
    seconds: float
    rows: list[Row] = field(default_factory=list)
    error: str | None = None
    rerun: bool = False  # measured by a later --only run than the rest

    def meta(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "measured": self.measured,
                "seconds": round(self.seconds, 2), "rows": len(self.rows),
                "error": self.error, "rerun": self.rerun}


@dataclass
class Results:
    """Everything the two files hold."""

    modules: list[ModuleResult]
    environment: dict[str, Any]
    base_run: dict[str, Any]  # the last run of every benchmark: when, mode, seconds
    generated: str

    def rows(self) -> list[Row]:
        return [r for m in self.modules for r in m.rows]


def rows_from_json(data: Any) -> list[Row]:
    """Rows as written by :func:`dataclasses.asdict` (extra keys such as ``module`` dropped)."""
    if not isinstance(data, list):
        raise ValueError("expected a list of rows")
    names = {f.name for f in fields(Row)}
    out = []
    for item in data:
        if not isinstance(item, dict) or not names <= set(item):
            raise ValueError(f"not a result row: {item!r}")
        out.append(Row(**{k: item[k] for k in names}))
    return out


def load(path: Path) -> Results | None:
    """The results in ``path``; None when there are none in this format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    by_module: dict[str, list[Row]] = {}
    for item in data["rows"]:
        by_module.setdefault(item["module"], []).extend(rows_from_json([item]))
    modules = [
        ModuleResult(name=m["name"], mode=m["mode"], measured=m["measured"],
                     seconds=m["seconds"], rows=by_module.get(m["name"], []),
                     error=m.get("error"), rerun=bool(m.get("rerun")))
        for m in data["modules"]
    ]
    return Results(modules, data["environment"], data["base_run"], data["generated"])


def merge(previous: Results | None, fresh: Sequence[ModuleResult], order: Sequence[str],
          environment: dict[str, Any], generated: str) -> Results:
    """``fresh`` modules in place of their previous results; the others kept as they were.

    A module that failed now but has rows from before keeps those rows, with the error
    noted, rather than dropping out of the table.
    """
    kept = {m.name: m for m in previous.modules} if previous else {}
    for module in fresh:
        old = kept.get(module.name)
        if module.error is not None and not module.rows and old is not None and old.rows:
            old.error = f"re-run {module.measured} failed: {module.error}; rows from {old.measured}"
            continue
        module.rerun = True
        kept[module.name] = module
    modules = [kept[n] for n in order if n in kept]
    modules += [m for n, m in kept.items() if n not in order]
    base = previous.base_run if previous else {}
    return Results(modules, environment, base, generated)


def write(results: Results, md_path: Path, json_path: Path) -> str:
    """Write both files; returns the table."""
    table = markdown_table(results.rows())
    md_path.write_text(_document(results, table), encoding="utf-8")
    json_path.write_text(json.dumps({
        "format": FORMAT,
        "generated": results.generated,
        "base_run": results.base_run,
        "environment": results.environment,
        "columns": list(COLUMNS),
        "modules": [m.meta() for m in results.modules],
        "rows": [{"module": m.name, **asdict(r)} for m in results.modules for r in m.rows],
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return table


def _document(results: Results, table: str) -> str:
    env, base = results.environment, results.base_run
    timings = ", ".join(f"{m.name} {m.seconds:.0f} s" for m in results.modules if not m.rerun)
    runs = [f"Last run of every benchmark: {base['started']}, {base['mode']} mode, "
            f"{base['seconds'] / 60:.1f} min in all ({timings})."] if base else []
    reruns = [f"{m.name} at {m.measured} ({m.mode}, {m.seconds:.0f} s)"
              for m in results.modules if m.rerun]
    if reruns:
        runs.append("Re-run since with `--only`, rows replaced: " + "; ".join(reruns) + ".")
    failed = [f"{m.name}: {m.error}" for m in results.modules if m.error]
    if failed:
        runs.append("Failed: " + "; ".join(failed) + ".")
    return "\n".join([
        "# Benchmark results",
        "",
        "How to read it: each row measures one thing done by the kiosk's code (**ours**) and "
        "by the raw library it builds on (**baseline**), both in the same run on the same "
        "machine, so the machine's load hits both alike. **ratio** = ours / baseline. "
        "**better** says whether lower or higher is better for that row's figures and so "
        "for its ratio (a lower-is-better ratio of 1.20 means ours takes 20% longer). Rows "
        "without a baseline say why in their notes. **peak RSS** is the peak resident memory "
        "of the process measured (the benchmark's own, or the child process the notes name). "
        "Figures are medians of the rounds the notes give.",
        "",
        f"Environment: {env['platform']}, {env['cpu']} × {env['cpus']} CPUs, "
        f"{env['memory_gib']:.0f} GiB RAM, shared with other work (load average "
        f"{env['load_average']} at the end); fsync of a 4 KiB write {env['fsync_us']:.0f} µs "
        "(p50; the store and sync figures rest on it); "
        f"Python {env['python']}, SQLite {env['sqlite']}, "
        f"FastAPI {env['fastapi']}, uvicorn {env['uvicorn']} ({env['event_loop']}, "
        f"{env['http_parser']}), httpx {env['httpx']}, vosk {env['vosk']}, ai-edge-litert "
        f"{env['ai_edge_litert']}, OpenCV {env['opencv']}, paho-mqtt {env['paho_mqtt']}, "
        f"PyAudio {env['pyaudio']}, numpy {env['numpy']}.",
        "",
        *[line + "\n" for line in runs],
        table,
        "",
        "Regenerate with `make bench` (`python -m benchmarks`); `--only NAME` re-runs one "
        "module and merges its rows into these files.",
        "",
    ])


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2**30
    except (OSError, ValueError):
        return 0.0


def _fsync_us(directory: Path, count: int = 100) -> float:
    """Median time of a 4 KiB write's fsync in ``directory``, microseconds."""
    directory.mkdir(parents=True, exist_ok=True)
    times = []
    fd, name = tempfile.mkstemp(prefix="fsync-", dir=directory)
    try:
        for _ in range(count):
            os.write(fd, b"\0" * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(name)
    return median(times) * 1e6


def environment() -> dict[str, Any]:
    try:
        load_average = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load_average = "unknown"
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(_memory_gib(), 1),
        "load_average": load_average,
        "fsync_us": round(_fsync_us(CACHE_DIR), 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "fastapi": _version("fastapi"),
        "starlette": _version("starlette"),
        "uvicorn": _version("uvicorn"),
        "pydantic": _version("pydantic"),
        "httpx": _version("httpx"),
        "vosk": _version("vosk"),
        "ai_edge_litert": _version("ai-edge-litert"),
        "opencv": next((v for v in map(_version, ("opencv-python-headless", "opencv-python"))
                        if v != "absent"), "absent"),
        "paho_mqtt": _version("paho-mqtt"),
        "pyaudio": _version("PyAudio"),
        "numpy": _version("numpy"),
        "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }
