"""Local API latency on loopback: the kiosk app against a bare FastAPI app, same server.

Both apps run under uvicorn on 127.0.0.1 in this process, each with its own keep-alive
``httpx.Client``. Requests to the two servers are interleaved one for one, so drift in
machine load hits both alike. The baseline app has one POST endpoint per measured body
shape: it parses the same JSON into a pydantic model (a sync handler, run in the thread
pool like ours) and returns a small JSON document, without touching any store. The
ratio ours/baseline is therefore the cost of the kiosk's own work per request: auth,
the state machine, and a ``synchronous=FULL`` commit of session, usage, audit and
outbox rows.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from benchmarks.common import (
    Prepared,
    Row,
    peak_rss_mib,
    percentile_rows,
    prepare_kiosk,
    progress,
    scratch_dir,
    serve,
)
from device.api.app import create_app

FULL_CANDIDATES = 300
QUICK_CANDIDATES = 30
FULL_WARMUP = 20
QUICK_WARMUP = 5


# -- the baseline app: same request shapes, no kiosk behind it ---------------------------


class _CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=40)
    language: Literal["zh-CN", "en", "ko"] | None = None


class _ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool
    consent_version: str = Field(min_length=1, max_length=32)
    expression_analysis: bool = False


class _ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["pause", "resume", "terminate", "revoke", "undo_terminate"]
    session_ids: list[str] = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=500)


def baseline_app() -> FastAPI:
    app = FastAPI(title="baseline")

    @app.post("/api/v1/checkin")
    def checkin(body: _CodeIn) -> dict[str, str]:
        return {"session_id": "s-" + body.code, "token": "t-" + body.code, "state": "checked_in"}

    @app.post("/api/v1/session/consent")
    def consent(body: _ConsentIn) -> dict[str, str]:
        return {"state": "consented" if body.accept else "declined"}

    @app.post("/api/v1/staff/sessions/actions")
    def actions(body: _ActionIn) -> dict[str, Any]:
        return {"action": body.action,
                "ok": [{"session_id": s, "state": "paused"} for s in body.session_ids],
                "failed": []}

    return app


# -- measuring -------------------------------------------------------------------------

Call = Callable[[], tuple[float, httpx.Response]]


def _timed_post(
    client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    """One request; its wall time in milliseconds and the response (status checked)."""
    start = time.perf_counter_ns()
    response = client.post(path, json=body, headers=headers)
    elapsed_ms = (time.perf_counter_ns() - start) / 1e6
    if response.status_code != 200:
        raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed_ms, response


class _Pair:
    """Latency samples of ours and the baseline for one operation."""

    def __init__(self) -> None:
        self.ours: list[float] = []
        self.base: list[float] = []

    def measure(self, index: int, ours: Call, base: Call, *, record: bool = True
                ) -> httpx.Response:
        """Call both, alternating which goes first; keep the samples; return ours."""
        if index % 2 == 0:
            mine, theirs = ours(), base()
        else:
            theirs, mine = base(), ours()
        if record:
            self.ours.append(mine[0])
            self.base.append(theirs[0])
        return mine[1]


def _rows(name: str, pair: _Pair, detail: str) -> list[Row]:
    return percentile_rows(f"api: {name}", pair.ours, pair.base, "ms", detail, peak_rss_mib())


def run(quick: bool) -> list[Row]:
    candidates = QUICK_CANDIDATES if quick else FULL_CANDIDATES
    warmup = QUICK_WARMUP if quick else FULL_WARMUP
    with scratch_dir("api") as data_dir:
        prepared = prepare_kiosk(data_dir, warmup + candidates)
        try:
            return _measure(prepared, warmup)
        finally:
            prepared.kiosk.close()


def _measure(prepared: Prepared, warmup: int) -> list[Row]:
    codes = prepared.codes()
    staff_headers = {"Authorization": f"Bearer {prepared.admin_token}"}
    reason = "benchmark: staff pause and resume"
    actions_path = "/api/v1/staff/sessions/actions"
    checkin, staff, consent = _Pair(), _Pair(), _Pair()

    with (
        serve(create_app(prepared.kiosk)) as ours_url,
        serve(baseline_app()) as base_url,
        httpx.Client(base_url=ours_url, timeout=30) as ours,
        httpx.Client(base_url=base_url, timeout=30) as base,
    ):
        gc.collect()
        progress(f"api: check-in of {len(codes) - warmup} candidates (+{warmup} warm-up)")
        opened: list[tuple[str, str]] = []
        for i, code in enumerate(codes):
            body = {"code": code}
            response = checkin.measure(
                i,
                partial(_timed_post, ours, "/api/v1/checkin", body),
                partial(_timed_post, base, "/api/v1/checkin", body),
                record=i >= warmup,
            )
            out = response.json()
            if out.get("state") != "checked_in":
                raise RuntimeError(f"check-in gave {out!r}")
            opened.append((str(out["session_id"]), str(out["token"])))

        progress("api: staff pause, then staff resume, of every session")
        for action in ("pause", "resume"):
            for i, (session_id, _token) in enumerate(opened):
                action_body: dict[str, Any] = {
                    "action": action, "session_ids": [session_id], "reason": reason}
                response = staff.measure(
                    i,
                    partial(_timed_post, ours, actions_path, action_body, staff_headers),
                    partial(_timed_post, base, actions_path, action_body, staff_headers),
                    record=i >= warmup,
                )
                out = response.json()
                if out["failed"] or len(out["ok"]) != 1:
                    raise RuntimeError(f"staff {action} failed: {out!r}")

        progress("api: candidate consent on every session")
        consent_body = {"accept": True, "consent_version": prepared.consent_version}
        for i, (_session_id, token) in enumerate(opened):
            headers = {"X-Session-Token": token}
            response = consent.measure(
                i,
                partial(_timed_post, ours, "/api/v1/session/consent", consent_body, headers),
                partial(_timed_post, base, "/api/v1/session/consent", consent_body, headers),
                record=i >= warmup,
            )
            if response.json().get("state") != "consented":
                raise RuntimeError(f"consent gave {response.text[:300]}")

    return [
        *_rows("check-in", checkin, "POST /checkin, invite code → session token"),
        *_rows("staff pause/resume", staff,
               "POST /staff/sessions/actions, one session, one transition per call"),
        *_rows("consent", consent, "POST /session/consent with X-Session-Token"),
    ]
