"""The kiosk's FastAPI application: candidate UI API, staff API, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from device.api import candidate, ops, problems, provision, reports, selftest, staff, staff_page, ui
from device.api import capture as capture_api
from device.api import sync as sync_api
from device.api.limits import BodyLimit
from device.api.provision import Provisioner
from device.composition import Kiosk

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 2.0


def _sweep(kiosk: Kiosk) -> None:
    kiosk.interview.finish_overdue()
    kiosk.engine.expire_due()
    kiosk.storage.sweep()
    if kiosk.media_announcer is not None:
        kiosk.media_announcer.sweep()
    kiosk.retention.sweep()


def create_app(kiosk: Kiosk, *, sweep: bool = True, analyse: bool = True,
               capture: bool = False, provisioner: Provisioner | None = None) -> FastAPI:
    """Build the app around an opened kiosk; the sweeper closes overdue answers and the
    analysis worker analyses recorded answers while the app runs. With ``capture`` (the
    box's own service) the microphone and camera record answers as the engine says.
    ``provisioner`` serves the enrolment routes (503 without one)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(kiosk)) if sweep else None
        if kiosk.config.analysis.enabled and analyse:
            kiosk.analysis.start()
        if capture and kiosk.capture is not None:
            await run_in_threadpool(kiosk.capture.start)
        yield
        if capture and kiosk.capture is not None:
            await run_in_threadpool(kiosk.capture.stop)
        kiosk.analysis.stop()
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="Interview kiosk local API",
        version="1",
        description="Candidate touchscreen and staff API of one kiosk box. Errors are "
                    "application/problem+json.",
        lifespan=lifespan,
    )
    app.state.kiosk = kiosk
    app.state.provisioner = provisioner
    kiosk.metrics = ops.Metrics(kiosk)
    problems.install(app, on_error=kiosk.metrics.count_error)
    app.include_router(candidate.router)
    app.include_router(staff.router)
    app.include_router(reports.router)
    app.include_router(ops.router)
    app.include_router(capture_api.router)
    app.include_router(sync_api.router)
    app.include_router(selftest.router)
    app.include_router(provision.router)
    ui.install(app)  # the candidate touchscreen at /
    staff_page.install(app, kiosk)  # site HR's and admins' pages at /staff/
    app.add_middleware(BodyLimit, max_bytes=kiosk.config.api.max_body_bytes)
    return app


async def _sweeper(kiosk: Kiosk) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            await run_in_threadpool(_sweep, kiosk)
        except Exception:
            log.exception("session sweep failed; retrying")
