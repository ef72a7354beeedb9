"""The systemd units pass ``systemd-analyze verify``; ``kiosk serve`` speaks sd_notify for real."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_fixtures import provisioned
from sync_fixtures import Pki

from central.broker import free_port
from device.storage.database import Store
from kiosk.cli import main
from provisioning import notify
from provisioning.systemd import UNITS

VENV = Path(sys.executable).parent.parent


def units(tmp_path: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, str]:
    cage = tmp_path / "bin" / "cage"
    if not cage.exists():
        cage.parent.mkdir(parents=True)
        cage.write_text("#!/bin/sh\nexec \"$@\"\n")
        cage.chmod(0o755)
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "/bin/true"
    (tmp_path / "units").mkdir(exist_ok=True)
    code = main(["provision", "systemd", "--dir", str(tmp_path / "units"), "--venv", str(VENV),
                 "--data-dir", str(tmp_path / "data"), "--config", "/etc/kiosk/kiosk.toml",
                 "--cage", str(cage), "--browser", browser, *more])
    return code, capsys.readouterr().out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out = units(tmp_path, capsys)
    assert code == 0
    assert out.count("wrote ") == 3
    assert "systemctl daemon-reload && systemctl enable --now kiosk-device.service" in out
    paths = [tmp_path / "units" / name for name in UNITS]
    result = subprocess.run(["systemd-analyze", "verify", *map(str, paths)],
                            capture_output=True, text=True, timeout=60,
                            cwd=tmp_path / "units")
    complaints = [line for line in result.stderr.splitlines() if "kiosk-" in line]
    assert result.returncode == 0 and complaints == [], result.stderr

    device = (tmp_path / "units" / "kiosk-device.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30", f"ExecStart={VENV}/bin/kiosk serve",
                 "SupplementaryGroups=video audio render", "User=kiosk",
                 "NoNewPrivileges=true", "ProtectSystem=strict", "ProtectHome=true",
                 "PrivateTmp=true", f"ReadWritePaths={tmp_path / 'data'}", "Restart=always",
                 "StandardOutput=journal", "SyslogIdentifier=kiosk-device"):
        assert f"\n{line}\n" in device, line
    sync = (tmp_path / "units" / "kiosk-sync.service").read_text()
    assert f"ExecStart={VENV}/bin/kiosk sync" in sync and "SyslogIdentifier=kiosk-sync" in sync
    ui = (tmp_path / "units" / "kiosk-ui.service").read_text()
    assert "After=kiosk-device.service" in ui and "--kiosk" in ui
    assert "http://127.0.0.1:8470/" in ui and "ReadWritePaths=" not in ui.replace("# No R", "")


def test_re_running_rewrites_only_what_changed(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert units(tmp_path, capsys)[0] == 0
    before = (tmp_path / "units" / "kiosk-sync.service").stat().st_mtime_ns
    code, out = units(tmp_path, capsys)
    assert code == 0 and out.count("unchanged ") == 3 and "wrote" not in out
    code, out = units(tmp_path, capsys, "--url-of-ui", "http://127.0.0.1:9000/")
    assert code == 0
    assert f"wrote {tmp_path / 'units' / 'kiosk-ui.service'}" in out
    assert out.count("unchanged ") == 2
    assert (tmp_path / "units" / "kiosk-sync.service").stat().st_mtime_ns == before


def test_bad_unit_settings_are_refused(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["provision", "systemd", "--dir", str(tmp_path / "missing")])
    assert code == 1 and "no such directory" in capsys.readouterr().err
    (tmp_path / "u").mkdir()
    code = main(["provision", "systemd", "--dir", str(tmp_path / "u"), "--user", "Bad User"])
    assert code == 1 and "not a system user name" in capsys.readouterr().err
    assert list((tmp_path / "u").iterdir()) == []


# -- sd_notify --------------------------------------------------------------------------------

@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def datagrams(sock: socket.socket, seconds: float) -> list[str]:
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return got


def wait_for(sock: socket.socket, wanted: str, seconds: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while wanted not in got:
        assert time.monotonic() < deadline, f"no {wanted} within {seconds} s (got {got})"
        with contextlib.suppress(TimeoutError):
            got.append(sock.recv(4096).decode())
    return got


def test_kiosk_serve_notifies_ready_pings_the_watchdog_and_says_stopping(
        tmp_path: Path, notify_socket: socket.socket) -> None:
    port = free_port()
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"),
           "KIOSK_ANALYSIS_ENABLED": "false", "KIOSK_CAPTURE_ENABLED": "false",
           "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    env.pop("KIOSK_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = wait_for(notify_socket, "READY=1", 30)
        assert "WATCHDOG=1" not in got  # nothing is pinged before the API listens
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # READY=1 means listening
        pings = datagrams(notify_socket, 1.0)
        assert pings.count("WATCHDOG=1") >= 4, pings  # every 0.1 s
        proc.send_signal(signal.SIGTERM)
        wait_for(notify_socket, "STOPPING=1", 15)
        # uvicorn re-raises the SIGTERM once shut down: systemd counts that as a clean stop
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_abstract_socket_is_reached_and_no_socket_is_a_no_op() -> None:
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert notify.notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"READY=1"
    assert notify.notify("READY=1", {}) is False
    assert notify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert notify.watchdog_interval({"WATCHDOG_USEC": "1", "WATCHDOG_PID": "1"}) is None


def test_a_hung_store_stops_the_watchdog_pings(
        tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    store = Store(tmp_path / "kiosk.db")
    held, release = threading.Event(), threading.Event()

    def hang() -> None:  # a writer that never finishes holds the store
        with store.transaction():
            held.set()
            release.wait(10)

    dog = notify.Watchdog(notify.store_answers(store), 0.05).start()
    try:
        assert datagrams(notify_socket, 0.4).count("WATCHDOG=1") >= 3
        hanger = threading.Thread(target=hang)
        hanger.start()
        held.wait(5)
        datagrams(notify_socket, 0.15)  # a ping already under way
        assert datagrams(notify_socket, 0.6) == []
        release.set()
        hanger.join()
        assert "WATCHDOG=1" in datagrams(notify_socket, 0.4)
    finally:
        release.set()
        dog.stop()
        store.close()


def test_kiosk_sync_notifies_ready_pings_the_watchdog_and_says_stopping(
        tmp_path: Path, notify_socket: socket.socket, pki: Pki) -> None:
    # an enrolled box whose central does not answer: the agent runs, and says so to systemd
    data = provisioned(tmp_path / "data", pki)
    env = {**os.environ, "KIOSK_DATA_DIR": str(data), "KIOSK_SYNC_TRANSPORT": "https",
           "KIOSK_SYNC_HTTPS_URL": f"https://127.0.0.1:{free_port()}",
           "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    env.pop("KIOSK_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "sync"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(notify_socket, "READY=1", 30)
        pings = datagrams(notify_socket, 1.0)
        assert pings.count("WATCHDOG=1") >= 4, pings
        proc.send_signal(signal.SIGTERM)
        wait_for(notify_socket, "STOPPING=1", 15)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
