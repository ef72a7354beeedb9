"""What the general manager sees (aggregates with no candidate in them), the fleet page's
rows and a job's CSV export."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

from central.console.queries import Candidate, Job
from central.store import ReceiverStore

#: Fewer candidates than this in a job and its score figures are withheld: a distribution
#: over one or two people tells who they are.
MIN_GROUP = 3


@dataclass(frozen=True)
class CompetencyStats:
    competency: str
    assessed: int
    not_assessed: int
    mean: float | None
    bins: tuple[int, ...]  # counts per equal-width band of the job's score scale


@dataclass(frozen=True)
class JobStats:
    job_id: str
    candidates: int
    states: dict[str, int]
    competencies: tuple[CompetencyStats, ...]
    withheld: bool


def _bins(values: list[float], low: float, high: float, n: int = 5) -> tuple[int, ...]:
    counts = [0] * n
    width = (high - low) / n if high > low else 1.0
    for v in values:
        counts[min(n - 1, max(0, math.floor((v - low) / width)))] += 1
    return tuple(counts)


def job_stats(job: Job, found: list[Candidate]) -> JobStats:
    states: dict[str, int] = {}
    for c in found:
        states[c.state or "unknown"] = states.get(c.state or "unknown", 0) + 1
    withheld = len(found) < MIN_GROUP
    comps = []
    for comp in job.competencies:
        values = [float(s) for c in found if (s := c.scores.get(comp.id)) is not None]
        unscored = sum(1 for c in found if c.revision is not None
                       and c.scores.get(comp.id) is None)
        low = job.min_score if job.min_score is not None else 0.0
        high = job.max_score if job.max_score is not None else 10.0
        comps.append(CompetencyStats(
            comp.id, len(values), unscored,
            None if withheld or not values else round(sum(values) / len(values), 2),
            (0,) * 5 if withheld else _bins(values, float(low), float(high))))
    return JobStats(job.job_id, len(found), states, tuple(comps), withheld)


def fleet(store: ReceiverStore) -> list[dict[str, Any]]:
    """Each box: where it is, when central last heard from it, its link status and outbox
    depth as it last reported them, and how many of its messages central holds back
    (received, waiting for an earlier one of the same session)."""
    devices = store.all("SELECT device_id, tenant, site, last_seen, messages, status, status_at"
                        " FROM devices ORDER BY tenant, site, device_id")
    held = {r["device_id"]: int(r["n"]) for r in store.all(
        "SELECT device_id, COUNT(*) AS n FROM messages WHERE delivered_order IS NULL"
        " GROUP BY device_id")}
    out = []
    for d in devices:
        status = json.loads(d["status"]) if d["status"] else {}
        d.pop("status")
        out.append({**d, "held_back": held.get(d["device_id"], 0),
                    "link": status.get("state"), "outbox_depth": status.get("outbox_depth"),
                    "version": status.get("version")})
    return out


def csv_export(job: Job, found: list[Candidate]) -> str:
    """A job's candidates and scores; a competency not assessed is an empty cell, never 0."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    comp_ids = [c.id for c in job.competencies]
    writer.writerow(["candidate_id", "name", "state", "site", "date", "device_id",
                     "session_id", "overall", *comp_ids])
    for c in found:
        writer.writerow([_cell(c.candidate_id), _cell(c.name), _cell(c.state), _cell(c.site),
                         _cell(c.date), c.device_id, c.session_id,
                         "" if c.overall is None else c.overall,
                         *("" if c.scores.get(i) is None else c.scores[i] for i in comp_ids)])
    return out.getvalue()


def _cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (names come from outside)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
