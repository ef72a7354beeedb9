"""What every benchmark shares: the result row, statistics, a real server, a prepared kiosk."""

from __future__ import annotations

import contextlib
import math
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import uvicorn
from fastapi import FastAPI

from device.audit import SYSTEM
from device.composition import Kiosk, open_kiosk
from device.config_loader import load_config
from device.jobs.installed import import_package
from device.jobs.package import example_package_path, load_package
from device.sessions.roster import Invite, Invited, Roster, import_roster
from device.staff.tokens import create as create_token
from kiosk.rigs import samples

#: Scratch data lives here: the same filesystem as the checkout, never a tmpfs.
CACHE_DIR = Path(__file__).resolve().parent / ".cache"


def model_files() -> samples.ModelPaths:
    """The default models, installed (once) into the benchmarks' cache and verified."""
    return samples.default_models(CACHE_DIR)


def crema_clips() -> dict[str, Path]:
    """CREMA-D clips of actor 1001 by emotion code, fetched once into the cache."""
    return samples.crema_clips(CACHE_DIR)


#: Column headings of the results table, in the order of :class:`Row`'s fields.
COLUMNS = (
    "benchmark",
    "ours",
    "baseline (raw library, same run)",
    "ratio",
    "unit",
    "better",
    "peak RSS (MiB)",
    "notes",
)

#: Which way a figure is better; the ratio reads the same way.
Better = Literal["lower", "higher"]

#: The words a row without a baseline starts its notes with.
NO_BASELINE = "no baseline"


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    ``ratio`` is ``ours / baseline`` (None without a baseline, and then ``notes`` says
    why, starting with :data:`NO_BASELINE`); ``better`` says which way both figures and
    the ratio are better; ``peak_rss_mib`` is the peak RSS of the process measured.
    """

    benchmark: str
    ours: float
    baseline: float | None
    ratio: float | None
    unit: str
    better: Better
    peak_rss_mib: float
    notes: str = ""


def check_row(row: Row) -> None:
    """Raise ValueError unless ``row`` keeps the table's promises (see :class:`Row`)."""
    where = f"row {row.benchmark!r}"
    if row.better not in ("lower", "higher"):
        raise ValueError(f"{where}: better must be 'lower' or 'higher', not {row.better!r}")
    if not (math.isfinite(row.ours) and math.isfinite(row.peak_rss_mib)
            and row.peak_rss_mib > 0):
        raise ValueError(f"{where}: needs a finite figure and a positive peak RSS")
    if row.baseline is None:
        if row.ratio is not None:
            raise ValueError(f"{where}: a ratio without a baseline")
        if not row.notes.startswith(NO_BASELINE):
            raise ValueError(f"{where}: without a baseline, notes must say why, starting"
                             f" with {NO_BASELINE!r}")
        return
    expected = ratio(row.ours, row.baseline)
    if expected is None or row.ratio is None or not math.isclose(row.ratio, expected,
                                                                 rel_tol=1e-9):
        raise ValueError(f"{where}: ratio {row.ratio!r} is not ours / baseline ({expected!r})")


def ratio(ours: float, baseline: float | None) -> float | None:
    """``ours / baseline``, or None when there is no usable baseline."""
    if baseline is None or baseline == 0 or math.isnan(baseline):
        return None
    return ours / baseline


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100), linearly interpolated between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI, *, startup_timeout_s: float = 15.0,
          tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback in a background thread; yield its base URL.

    With ``tls`` (certificate, key) it serves HTTPS.
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                       ssl_certfile=str(tls[0]) if tls else None,
                       ssl_keyfile=str(tls[1]) if tls else None)
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn on port {port} exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn on port {port} did not start in {startup_timeout_s} s")
            time.sleep(0.01)
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def scratch_dir(label: str) -> Iterator[Path]:
    """A fresh directory under ``benchmarks/.cache``, removed afterwards."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=CACHE_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):  # still in use by another benchmark
            CACHE_DIR.rmdir()


@dataclass(frozen=True)
class Prepared:
    """A kiosk with the example job imported, candidates invited and an admin token."""

    kiosk: Kiosk
    invited: list[Invited]
    admin_token: str
    consent_version: str
    job_id: str

    def codes(self) -> list[str]:
        out = []
        for invite in self.invited:
            if invite.invite_code is None:
                raise RuntimeError(f"candidate {invite.candidate_id} got no invite code")
            out.append(invite.invite_code)
        return out


def prepare_kiosk(data_dir: Path, candidates: int) -> Prepared:
    """Open a kiosk in ``data_dir``, import the example job and invite ``candidates``."""
    config = load_config(environ={"KIOSK_DATA_DIR": str(data_dir)})
    kiosk = open_kiosk(config)
    try:
        package_path = example_package_path()
        package = load_package(package_path)
        import_package(kiosk.store, package_path.read_bytes(), "bench", SYSTEM)
        roster = Roster(
            format="kiosk-roster/1",
            invites=[
                Invite(candidate_id=f"bench-{i:05d}", job_id=package.job.id)
                for i in range(candidates)
            ],
        )
        invited = import_roster(kiosk.engine, roster, "bench", SYSTEM)
        token = create_token(kiosk.store, "bench-admin", "admin", [], SYSTEM).token
    except BaseException:
        kiosk.close()
        raise
    return Prepared(kiosk, invited, token, package.consent.version, package.job.id)


def percentile_rows(name: str, ours: Sequence[float], baseline: Sequence[float], unit: str,
                    notes: str, rss: float) -> list[Row]:
    """p50 and p99 rows for one latency measurement, ours against the raw baseline."""
    rows = []
    for p in (50, 99):
        mine, raw = percentile(ours, p), percentile(baseline, p)
        rows.append(Row(benchmark=f"{name} p{p}", ours=mine, baseline=raw,
                        ratio=ratio(mine, raw), unit=unit, better="lower", peak_rss_mib=rss,
                        notes=f"{notes}; n={len(ours)}"))
    return rows


def fmt(value: float | None) -> str:
    """A number for the table: about four significant digits, thousands separated."""
    if value is None or math.isnan(value):
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def markdown_table(rows: Sequence[Row]) -> str:
    """The results as one GitHub-flavoured markdown table."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:", "---", "---", "---:", "---"]) + "|",
    ]
    for r in rows:
        cells = [
            cell(r.benchmark),
            fmt(r.ours),
            fmt(r.baseline),
            "–" if r.ratio is None else f"{r.ratio:.2f}",
            cell(r.unit),
            r.better,
            f"{r.peak_rss_mib:.1f}",
            cell(r.notes),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the results table)."""
    print(message, file=sys.stderr, flush=True)


__all__ = [
    "CACHE_DIR",
    "COLUMNS",
    "NO_BASELINE",
    "Better",
    "Prepared",
    "Row",
    "check_row",
    "crema_clips",
    "fmt",
    "free_port",
    "markdown_table",
    "median",
    "model_files",
    "peak_rss_mib",
    "percentile",
    "percentile_rows",
    "prepare_kiosk",
    "progress",
    "ratio",
    "scratch_dir",
    "serve",
]

