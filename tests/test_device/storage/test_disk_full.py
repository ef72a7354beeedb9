"""A really full disk: a small tmpfs in a private mount namespace, filled by the kiosk itself.

The work runs in ``tests/diskfull_child.py`` under ``unshare -rm`` (user and mount
namespaces: no root needed); it reports what it saw as JSON and these tests judge it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).resolve().parents[2] / "diskfull_child.py"
TMPFS_SIZE = "3m"
CHUNK = 64 * 1024


def _unshare_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True,
                           check=False, timeout=30)
    if probe.returncode != 0:
        return f"unshare -rm is not permitted here: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    problem = _unshare_problem()
    if problem:
        pytest.skip(problem)
    work = tmp_path_factory.mktemp("diskfull")
    mount = work / "mnt"
    mount.mkdir()
    result = work / "result.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(["unshare", "-rm", sys.executable, str(CHILD), str(mount),
                           str(result), TMPFS_SIZE], capture_output=True, text=True,
                          check=False, timeout=180, env=env, cwd=ROOT)
    assert done.returncode == 0 and result.exists(), (
        f"child exited {done.returncode}: {done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(result.read_text())
    if "skip" in out:
        pytest.skip(out["skip"])
    assert "crashed" not in out, out.get("crashed")
    assert not any(mount.iterdir()), "the tmpfs was private to the child"
    return out


def test_new_sessions_are_refused_before_the_disk_fills(seen: dict[str, Any]) -> None:
    refused = seen["checkin_refused"]
    assert refused is not None, "check-in was accepted with less than the reserve free"
    assert refused["type"] == "StorageFullError"
    assert "Storage is full: the disk holding" in refused["message"]
    assert "a new interview needs 1.0 MB kept free" in refused["message"]


def test_the_full_disk_surfaces_as_a_clear_error(seen: dict[str, Any]) -> None:
    media = seen["media_full"]
    assert media is not None and media["errno"] == 28, media
    assert "No space left on device" in media["message"]
    for key in ("db_full", "exit_at_full"):
        failure = seen[key]
        assert failure is not None, f"{key}: the write did not fail on a full disk"
        assert failure["kiosk_error"] and "StoreError" in failure["bases"], failure
        assert "kiosk.db" in failure["message"] and "disk is full" in failure["message"]
    # the failed pause left nothing half done
    assert seen["state_after_failed_exit"] == "in_progress"
    assert seen["answers_interrupted"] == 0


def test_a_full_disk_is_its_own_error(seen: dict[str, Any]) -> None:
    assert seen["db_full"]["type"] == "DiskFullError"


def test_committed_messages_survive_and_the_database_is_intact(seen: dict[str, Any]) -> None:
    assert seen["integrity_same_connection"] == ["ok"]
    assert seen["integrity_other_connection"] == ["ok"]
    assert seen["committed"] >= 10 and seen["committed_missing"] == []
    # the failed transaction took nothing with it, not even its sequence number
    assert seen["seq_after_failure"] == seen["max_seq_row"]["s"]
    assert seen["reopen_at_full"] is None, "the kiosk must start again on a full disk"


def test_writing_works_again_once_space_is_freed(seen: dict[str, Any]) -> None:
    assert seen["after_free"] is None, seen["after_free"]
    assert seen["final_state"] == "completed" and seen["result_messages"] == 1


def test_eviction_makes_room_on_a_full_disk(seen: dict[str, Any]) -> None:
    assert seen["refill_full"] is True
    report = seen["eviction"]
    assert "type" not in report, report
    written = seen["media_written"]
    assert written >= 10
    assert report["media_purged"] == written and report["media_bytes_freed"] == written * CHUNK
    assert report["outbox_pruned"] == written  # the media messages, delivered a month ago
    assert seen["media_left"] == 0
    assert seen["write_after_eviction"] is None, seen["write_after_eviction"]
