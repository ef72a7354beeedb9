"""Shared fixtures: a real SQLite store per test, a real uvicorn server on loopback."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from device.audit import SYSTEM
from device.clock import ManualClock
from device.composition import Kiosk, open_kiosk
from device.config import KioskConfig
from device.config_loader import load_config
from device.jobs.installed import import_package
from device.jobs.package import example_package_path, load_package
from device.sessions.roster import Invite, Invited, Roster, import_roster
from device.staff.policy import Staff
from kiosk.rigs import samples, speech_samples

pytest_plugins = [
    "sync_fixtures", "pg_fixtures", "pulse_fixture", "ui_fixtures", "tui_fixtures",
]

JOB = "assembly-line-operator"
#: Models and sample media fetched from PyPI once and kept across runs (never committed).
TEST_CACHE = Path(os.environ.get("KIOSK_TEST_CACHE", Path(__file__).resolve().parent.parent
                                 / ".cache" / "test-data"))
ADMIN = Staff("test-admin", "admin")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Commands run in-process (``kiosk serve``, ``kiosk sync``) set up the root logger for
    a service; put pytest's handlers back so no later test logs into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def make_config(data_dir: Path, **env: str) -> KioskConfig:
    return load_config(None, {"KIOSK_DATA_DIR": str(data_dir), **env})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data")


@pytest.fixture
def kiosk(config: KioskConfig, clock: ManualClock) -> Iterator[Kiosk]:
    k = open_kiosk(config, clock)
    import_package(k.store, example_package_path().read_bytes(), "example", SYSTEM)
    yield k
    k.close()


@pytest.fixture
def consent_version() -> str:
    return load_package(example_package_path()).consent.version


InviteFn = Callable[..., Invited]


@pytest.fixture
def invite(kiosk: Kiosk) -> InviteFn:
    counter = iter(range(1, 10_000))

    def make(**fields: Any) -> Invited:
        fields.setdefault("candidate_id", f"cand-{next(counter)}")
        fields.setdefault("job_id", JOB)
        roster = Roster(format="kiosk-roster/1", invites=[Invite(**fields)])
        return import_roster(kiosk.engine, roster, "test", SYSTEM)[0]

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, kiosk: Kiosk, *, capture: bool = False, sweep: bool = False) -> None:
        from device.api.app import create_app
        from device.api.serving import server_options
        from provisioning.for_api import BoxProvisioner

        self.kiosk = kiosk
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(kiosk, sweep=sweep, analyse=False, capture=capture,
                         provisioner=BoxProvisioner())
        # served as `kiosk serve` serves it, forwarded headers included
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    **server_options(kiosk.config.api)))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(kiosk: Kiosk) -> Iterator[LiveServer]:
    with LiveServer(kiosk) as server:
        yield server


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


Served = Callable[..., tuple[Kiosk, httpx.Client]]


@pytest.fixture
def served() -> Iterator[Served]:
    """``served(config, capture=False)``: open a kiosk on this configuration behind a live
    server, with a client for it; everything is closed after the test."""
    opened: list[tuple[Kiosk, LiveServer, httpx.Client]] = []

    def make(config: KioskConfig, capture: bool = False) -> tuple[Kiosk, httpx.Client]:
        k = open_kiosk(config)
        server = LiveServer(k, capture=capture).__enter__()
        client = httpx.Client(base_url=server.url, timeout=30)
        opened.append((k, server, client))
        return k, client

    yield make
    for k, server, client in opened:
        client.close()
        server.__exit__(None, None, None)
        k.close()


@pytest.fixture(scope="session")
def model_files() -> samples.ModelPaths:
    """The default models, installed through the real installer and verified."""
    return samples.default_models(TEST_CACHE)


@pytest.fixture(scope="session")
def crema_clips() -> dict[str, Path]:
    """CREMA-D clips of actor 1001 by emotion code (ANG, DIS, FEA, HAP, NEU, SAD)."""
    return samples.crema_clips(TEST_CACHE)


@pytest.fixture(scope="session")
def human_speech() -> list[speech_samples.Clip]:
    """Real people speaking, with their reference text (Mandarin and English)."""
    return speech_samples.human_speech(TEST_CACHE)


@pytest.fixture(scope="session")
def astronaut() -> Path:
    return samples.astronaut(TEST_CACHE)


@pytest.fixture(scope="session")
def hand_photo() -> Path:
    """A photograph of a real open hand on a table (Debian's opencv-doc)."""
    return samples.hand_photo(TEST_CACHE)
