"""``kiosk serve`` believes no forwarded header unless ``[api] forwarded_allow_ips`` names
the proxy: the address it logs for a request, and wrong codes sent under 60 forged
addresses, show it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port

KIOSK = [sys.executable, "-m", "kiosk"]
FORGED = "203.0.113.7"

Serve = Callable[..., tuple[str, subprocess.Popen[bytes]]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        proc = subprocess.Popen(
            [*KIOSK, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "KIOSK_DATA_DIR": str(tmp_path / f"data-{port}"),
                 "KIOSK_ANALYSIS_ENABLED": "false", **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                return url, proc
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def access_log(proc: subprocess.Popen[bytes]) -> list[str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    return [str(line["msg"]) for line in lines if "/api/v1/checkin" in str(line["msg"])]


def test_forged_forwarded_addresses_are_not_believed(serve: Serve) -> None:
    url, proc = serve()
    statuses = [
        httpx.post(url + "/api/v1/checkin", json={"code": "WRONG234"},
                   headers={"X-Forwarded-For": f"10.0.0.{n + 1}"}).status_code
        for n in range(60)]
    assert statuses[:5] == [404] * 5 and set(statuses[5:]) == {429}, statuses
    logged = access_log(proc)
    assert logged and all("127.0.0.1" in m and "10.0.0." not in m for m in logged), logged


def test_a_named_proxy_is_believed(serve: Serve) -> None:
    url, proc = serve(KIOSK_API_FORWARDED_ALLOW_IPS="127.0.0.1")
    httpx.post(url + "/api/v1/checkin", json={"code": "WRONG234"},
               headers={"X-Forwarded-For": FORGED})
    logged = access_log(proc)
    assert logged and FORGED in logged[0], logged
