"""The ``kiosk`` command: each subcommand, its errors, and its documentation."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from device.jobs.package import example_package_path
from kiosk.cli import build_parser, main
from kiosk.rigs.samples import ModelPaths

ROOT = Path(__file__).resolve().parents[2]
KIOSK = [sys.executable, "-m", "kiosk"]


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    return {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_jobs_roster_tokens_and_drill(
    data_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "jobs", "import", str(example_package_path()))
    assert code == 0 and "imported job assembly-line-operator version 1" in out
    code, out, _ = run(capsys, "jobs", "list")
    assert "assembly-line-operator" in out and "CC-4100-ASSEMBLY" in out
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps({"format": "kiosk-roster/1", "invites": [
        {"candidate_id": "HR-1001", "job_id": "assembly-line-operator"}]}))
    code, out, _ = run(capsys, "roster", "import", str(roster))
    assert code == 0 and re.search(r"HR-1001\s+invited\s+invite code: [A-Z2-9]{8}", out)
    code, out, _ = run(capsys, "token", "create", "--role", "admin", "--name", "ops-lead")
    assert code == 0 and len(out.strip().splitlines()[-1]) >= 40
    code, _, err = run(capsys, "token", "create", "--role", "site_hr", "--name", "hr")
    assert code == 1 and "needs --jobs" in err
    code, out, _ = run(capsys, "token", "list")
    assert "ops-lead" in out and "active" in out
    assert run(capsys, "token", "revoke", "ops-lead")[0] == 0
    assert "revoked" in run(capsys, "token", "list")[1]
    code, out, _ = run(capsys, "drill", "--job", "assembly-line-operator")
    assert code == 0 and "check in with code" in out
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out


def test_bad_inputs_are_one_line_errors(
    data_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "kiosk-job-package/1", "package_version": 1}')
    code, _, err = run(capsys, "jobs", "import", str(bad))
    assert code == 1 and err.startswith("kiosk: ") and str(bad) in err
    assert err.strip().count("\n") == 0
    code, _, err = run(capsys, "jobs", "import", str(tmp_path / "missing.json"))
    assert code == 1 and "missing.json" in err
    code, _, err = run(capsys, "token", "revoke", "nobody")
    assert code == 1 and "no token named 'nobody'" in err


def test_corrupt_database_is_refused_by_name(
    data_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "kiosk.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00garbage" * 1000)
    code, _, err = run(capsys, "jobs", "list")
    assert code == 1 and str(db) in err and "refusing to start" in err


@pytest.mark.integration
def test_serve_listens_where_told(data_env: dict[str, str]) -> None:
    """Without on-device analysis the box needs no models."""
    port = free_port()
    env = {**data_env, "KIOSK_ANALYSIS_ENABLED": "false"}
    proc = subprocess.Popen([*KIOSK, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert health["status"] == "ok" and health["device_id"] == "kiosk-dev"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit shows the signal
    assert proc.returncode in (0, -signal.SIGTERM)
    last = json.loads(err.decode().strip().splitlines()[-1])  # JSON-lines logs on stderr
    assert last["msg"].startswith("Finished server process")


def _subcommands() -> list[str]:
    names: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            names.append(prefix)
            return
        seen: set[int] = set()
        for name, child in subs[0].choices.items():
            if id(child) in seen:  # an alias (kiosk hr-receiver): documented with its command
                continue
            seen.add(id(child))
            walk(child, f"{prefix} {name}".strip())

    walk(build_parser(), "")
    return names


def test_every_command_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    missing = [c for c in _subcommands() if f"kiosk {c}" not in doc]
    assert missing == [], f"docs/cli.md does not document: {missing}"


@pytest.mark.integration
def test_serve_on_a_unix_socket(data_env: dict[str, str], tmp_path: Path,
                                model_files: ModelPaths) -> None:
    sock = tmp_path / "kiosk.sock"
    env = {**data_env, "KIOSK_ANALYSIS_MODELS_DIR": str(model_files.store.root)}
    proc = subprocess.Popen([*KIOSK, "serve", "--unix-socket", str(sock)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as client:
            assert client.get("http://kiosk/healthz").json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
