"""A box whose clock starts in 1970 and jumps: ids, order and stamps do not depend on it.

The box has no real-time clock. Results are written by processes running under Debian's
``faketime``: one that starts in 1970 and sees its wall clock jump 50 years forward while
it runs (a timestamp file changed at run time), then one started in 1970 again (a reboot
without a clock). ``kiosk sync`` itself starts in 1970, where central's certificate is not
valid yet, and delivers once the clock jumps to the present (the time service synchronised).

Message ids must come from the persisted sequence (contiguous, whatever the clock), every
message reaches central exactly once and in order, and central holds the box's own
``recorded_at`` stamps (utc in 1970 and 2020): the agent never re-stamps.

``faketime`` cannot change what the kernel says about clock synchronisation (``adjtimex``),
so ``synced`` is whatever this machine reports; the test checks it travels unchanged.
``FAKETIME_DONT_FAKE_MONOTONIC=1`` keeps the monotonic clock real, as on a box, where only
the wall clock is wrong. (With it, libfaketime 0.9.10 makes Python's ``time.sleep`` wait
for ever; neither the result writer nor ``kiosk sync`` calls it. Without it, threading
waits return at once and the agent cannot connect.)
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sync_producer
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import (
    Central,
    assert_box_intact,
    assert_central_has_what_the_box_wrote,
    assert_exactly_once_in_order,
    box_env,
    kiosk_sync,
    link_state,
    wait_until,
)

from central.broker import Mosquitto
from device.central_link.outbox import Identity
from device.clock import clock_synchronised
from device.storage.database import Store

pytestmark = pytest.mark.integration

DEVICE = "dev-1"
BOX = Identity(DEVICE, TENANT, SITE)
EPOCH = "@1970-01-01 00:00:00"
FIFTY_YEARS_ON = "@2020-01-01 12:00:00"


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
                   + glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if not found or shutil.which("faketime") is None:
        pytest.fail("faketime is not installed (provisioning/debian-packages.txt lists it)")
    return found[0]


class FakeClock:
    """A wall clock for child processes, steered through a libfaketime timestamp file."""

    def __init__(self, directory: Path, spec: str) -> None:
        self.file = directory / "faketime.spec"
        self.set(spec)
        self.env = {"LD_PRELOAD": libfaketime(), "FAKETIME_TIMESTAMP_FILE": str(self.file),
                    "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}

    def set(self, spec: str) -> None:
        """``@YYYY-MM-DD hh:mm:ss``: the clock jumps there and runs on; ``+0``: real time."""
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(spec + "\n")
        os.replace(tmp, self.file)


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port)
    yield c
    c.close()


def agent_clock_year(db: Path) -> str:
    """The year of the agent's own last link-state stamp (its wall clock)."""
    store = Store(db)
    try:
        found = store.one("SELECT updated FROM sync_link WHERE transport = 'mqtt'")
    finally:
        store.close()
    assert found is not None
    return str(json.loads(found["updated"])["utc"][:4])


def years(reports: list[dict[str, Any]]) -> set[str]:
    return {r["utc"][:4] for r in reports}


def test_a_clock_from_1970_that_jumps_changes_no_id_order_or_stamp(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    env = box_env(tmp_path / "box", pki, DEVICE, broker_port=broker.port,
                  key_file=central.key_file, ack_timeout_s=2)
    db = tmp_path / "box" / "kiosk.db"
    clock = FakeClock(tmp_path, EPOCH)

    # A box that boots in 1970; 50 years later by the clock, the same process writes more.
    first = sync_producer.start(db, BOX, "--stdin", "--prefix", "s", "--tx-per-session", "3",
                                env=clock.env)
    in_1970 = sync_producer.step(first, 4)
    clock.set(FIFTY_YEARS_ON)
    in_2020 = sync_producer.step(first, 4)
    assert first.stdin is not None
    first.stdin.close()
    assert first.wait(timeout=20) == 0
    assert years(in_1970) == {"1970"}, f"faketime did not take effect: {in_1970[0]['utc']}"
    assert years(in_2020) == {"2020"}, f"the clock did not jump: {in_2020[0]['utc']}"
    monos = [r["mono"] for r in in_1970 + in_2020]
    assert monos == sorted(monos), "the monotonic clock went back with the wall clock"

    # A reboot without a real-time clock: 1970 again (the faketime command this time).
    second = sync_producer.start(db, BOX, "--transactions", "4", "--prefix", "s",
                                 wrapper=("faketime", "-f", EPOCH),
                                 env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    after_reboot = [json.loads(line) for line in out.splitlines()]
    assert years(after_reboot) == {"1970"}

    reports = in_1970 + in_2020 + after_reboot
    ids = [i for r in reports for i in r["ids"]]
    assert ids == [f"{DEVICE}:{n:012d}" for n in range(1, len(ids) + 1)], (
        "message ids are not the persisted sequence 1..n")
    assert_box_intact(db)
    synced = clock_synchronised()
    assert {r["synced"] for r in reports} == {synced}

    # The agent starts in 1970 too: central's certificate is not valid yet.
    clock.set(EPOCH)
    log = tmp_path / "agent.log"
    agent = kiosk_sync({**env, **clock.env}, log, "--until-drained", "--timeout", "90")
    try:
        def refused() -> bool:
            found = link_state(db, "mqtt")
            return found is not None and found["state"] == "offline"

        wait_until(refused, 30, "the agent to try central in 1970")
        state = link_state(db, "mqtt")
        assert state is not None and "TLS" in (state["detail"] or ""), state
        # and says what to do about it, from the clock the agent really runs on
        assert (state["detail"] or "").startswith("the clock is 1970-01-01 "), state
        assert agent_clock_year(db) == "1970", "faketime did not take effect in the agent"
        assert central.messages(DEVICE) == [], "something was delivered over a bad clock"
        clock.set("+0")  # the time service set the clock
        assert agent.wait(timeout=90) == 0, log.read_text()[-3000:]
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()

    assert_exactly_once_in_order(db, central, DEVICE)
    got = assert_central_has_what_the_box_wrote(db, central, DEVICE)
    stamps = {m["message_id"]: m["envelope"]["recorded_at"] for m in got}
    for r in reports:
        for message_id in r["ids"]:
            assert stamps[message_id]["utc"] == r["utc"], "the agent re-stamped a message"
            assert stamps[message_id]["synced"] is synced
    assert {s["utc"][:4] for s in stamps.values()} == {"1970", "2020"}
    by_session: dict[str, set[str]] = {}
    for m in got:
        by_session.setdefault(m["session_id"], set()).add(stamps[m["message_id"]]["utc"][:4])
    assert {"1970", "2020"} in by_session.values(), "no session spans the clock's jump"
    assert_box_intact(db)
