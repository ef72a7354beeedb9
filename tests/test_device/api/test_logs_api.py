"""Log files of the box's services, and reading them through the staff API."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import assert_problem, staff_headers

from device.composition import Kiosk
from device.ops import logs
from kiosk import cli

LOGS = "/api/v1/staff/logs"


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """``logs.setup`` replaces the process's handlers; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    client = logging.getLogger("httpx")  # the test's own requests would log at INFO
    client_level = client.level
    client.setLevel(logging.WARNING)
    yield
    client.setLevel(client_level)
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def tech(kiosk: Kiosk) -> dict[str, str]:
    return staff_headers(kiosk, "technician")


def get(http: httpx.Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = http.get(LOGS, headers=headers, params={"service": "kiosk-device", **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def messages(page: dict[str, Any]) -> list[str]:
    return [line["message"] for line in page["lines"]]


def test_lines_of_a_real_logger_appear_with_their_fields(
        http: httpx.Client, kiosk: Kiosk, tech: dict[str, str], keep_logging: None) -> None:
    data_dir = kiosk.config.data_dir
    logs.setup("INFO", "json", "kiosk-device", data_dir)
    log = logging.getLogger("device.test")
    log.info("hello %s", "box")
    log.debug("not at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    page = get(http, tech)
    assert page["service"] == "kiosk-device"
    hello, failed = page["lines"][-2:]
    assert hello["message"] == "hello box" and hello["level"] == "info"
    assert hello["logger"] == "device.test" and hello["at"].endswith("+00:00")
    assert failed["level"] == "error" and "ValueError: boom" in failed["message"]
    assert "not at INFO" not in messages(page)
    path = data_dir / "logs" / "kiosk-device.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # stderr keeps its handler too (journald reads it)
    streams = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert len(streams) == 1


def test_following_the_cursor_returns_only_new_lines(
        http: httpx.Client, kiosk: Kiosk, tech: dict[str, str], keep_logging: None) -> None:
    logs.setup("INFO", "json", "kiosk-device", kiosk.config.data_dir)
    log = logging.getLogger("device.follow")
    log.info("before")
    cursor = get(http, tech)["next"]
    assert get(http, tech, after=cursor)["lines"] == []
    for n in range(5):
        log.info("line %d", n)
    first = get(http, tech, after=cursor, limit=2)
    assert messages(first) == ["line 0", "line 1"]
    second = get(http, tech, after=first["next"], limit=2)
    assert messages(second) == ["line 2", "line 3"]
    third = get(http, tech, after=second["next"], limit=2)
    assert messages(third) == ["line 4"]
    assert get(http, tech, after=third["next"])["lines"] == []
    assert messages(get(http, tech, limit=3)) == ["line 2", "line 3", "line 4"]


def test_rotation_loses_and_repeats_nothing(
        http: httpx.Client, kiosk: Kiosk, tech: dict[str, str], keep_logging: None) -> None:
    logs.setup("INFO", "json", "kiosk-device", kiosk.config.data_dir, max_bytes=2000,
               backups=3)
    log = logging.getLogger("device.rotation")
    cursor = get(http, tech)["next"]
    seen: list[str] = []
    written: list[str] = []
    for batch in range(12):
        for n in range(7):  # about 1000 bytes: a rotation every other batch
            written.append(f"batch {batch} line {n} " + "x" * 80)
            log.info("%s", written[-1])
        page = get(http, tech, after=cursor, limit=5 if batch % 3 else 200)
        seen += messages(page)
        cursor = page["next"]
        while page["lines"]:
            page = get(http, tech, after=cursor, limit=5)
            seen += messages(page)
            cursor = page["next"]
    files = sorted(p.name for p in (kiosk.config.data_dir / "logs").iterdir())
    assert files == ["kiosk-device.log", "kiosk-device.log.1", "kiosk-device.log.2",
                     "kiosk-device.log.3"]
    assert seen == written
    assert {stat.S_IMODE(p.stat().st_mode) for p in (kiosk.config.data_dir / "logs").iterdir()
            } == {0o640}
    tail = messages(get(http, tech, limit=10))
    assert tail == written[-10:]


def test_a_cursor_from_before_the_first_line_reads_it(
        http: httpx.Client, kiosk: Kiosk, tech: dict[str, str], keep_logging: None) -> None:
    empty = get(http, tech)  # never logged: no file at all
    assert empty["lines"] == []
    logs.setup("INFO", "json", "kiosk-device", kiosk.config.data_dir)
    assert get(http, tech, after=empty["next"])["lines"] == []  # the file exists, empty
    logging.getLogger("device.first").warning("first words")
    page = get(http, tech, after=empty["next"])
    assert messages(page) == ["first words"] and page["lines"][0]["level"] == "warning"
    other = http.get(LOGS, headers=tech, params={"service": "kiosk-sync"})
    assert other.status_code == 200 and other.json()["lines"] == []


def test_unknown_service_bad_cursor_and_roles_are_refused(
        http: httpx.Client, kiosk: Kiosk, tech: dict[str, str]) -> None:
    body = assert_problem(http.get(LOGS, headers=tech, params={"service": "sshd"}), 400,
                          "invalid-log-request")
    assert "kiosk-device" in body["detail"] and "kiosk-sync" in body["detail"]
    body = assert_problem(http.get(LOGS, headers=tech, params={
        "service": "kiosk-device", "after": "not a cursor!"}), 400, "invalid-log-request")
    assert "omit 'after'" in body["detail"]
    assert_problem(http.get(LOGS, headers=tech), 422, "invalid-request")
    hr = staff_headers(kiosk, "site_hr", jobs=["assembly-line-operator"])
    body = assert_problem(http.get(LOGS, headers=hr, params={"service": "kiosk-device"}),
                          403, "forbidden")
    assert "technician or admin" in body["detail"]
    admin = staff_headers(kiosk, "admin")
    assert http.get(LOGS, headers=admin, params={"service": "kiosk-sync"}).status_code == 200


def test_kiosk_sync_logs_to_its_own_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_logging: None) -> None:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_SYNC_ENABLED", "false")
    assert cli.main(["sync"]) == 0
    logging.getLogger("sync_agent.test").info("from the agent")
    page = logs.read(tmp_path / "data" / "logs", "kiosk-sync")
    assert [line["message"] for line in page.lines] == ["from the agent"]


def test_an_unwritable_log_directory_leaves_stderr_logging(
        tmp_path: Path, keep_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").write_text("a file where the directory should be")
    logs.setup("INFO", "text", "kiosk-device", tmp_path)
    assert [type(h) for h in logging.getLogger().handlers] == [logging.StreamHandler]
