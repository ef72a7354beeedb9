"""Which outbox rows go next, in what order, and how central's acks finish them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import ManualClock, Stamp
from device.storage.database import Store
from shared.contract import Envelope
from sync_agent.backoff import Backoff, Throttle

ME = Identity("dev-1", "acme", "plant-7")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "k.db", clock=ManualClock())
    yield s
    s.close()


def put(store: Store, kind: str, session: str | None, hold: Stamp | None = None) -> str:
    with store.transaction() as db:
        return outbox.enqueue(db, ME, store.now(), kind, {"n": 1},  # type: ignore[arg-type]
                              session_id=session, hold_until=hold)


def batch(store: Store, limit: int = 100, *, in_flight: frozenset[str] | set[str] = frozenset(),
          metered: bool = False, held: frozenset[str] | set[str] = frozenset()) -> list[str]:
    with store.read() as db:
        return [r.message_id for r in outbox.next_batch(db, store.now(), limit, in_flight,
                                                           metered=metered, held=held)]


def test_priority_first_but_a_session_keeps_its_own_order(store: Store) -> None:
    a_report = put(store, "session.report", "A")
    a_usage = put(store, "usage", "A")
    b_state = put(store, "session.state", "B")
    b_media = put(store, "media", "B")
    order = batch(store)
    # B's state (priority 0) goes first; A's usage (priority 1) waits behind A's report.
    assert order == [b_state, a_report, a_usage, b_media]
    assert batch(store, metered=True) == [b_state, a_report, a_usage]


def test_a_held_message_holds_back_what_follows_in_its_session(store: Store) -> None:
    now = store.now()
    later = Stamp(utc=now.utc, mono=now.mono + 600, boot=now.boot, synced=now.synced)
    held = put(store, "session.state", "A", hold=later)
    report = put(store, "session.report", "A")
    other = put(store, "session.state", "B")
    assert batch(store) == [other]
    assert held and report
    clock = store.clock
    assert isinstance(clock, ManualClock)
    clock.advance(601)
    assert batch(store) == [held, report, other] or batch(store) == [held, other, report]


def test_in_flight_rows_let_their_followers_go_and_retry_waits_hold_them(store: Store) -> None:
    first = put(store, "session.state", "A")
    second = put(store, "session.state", "A")
    assert batch(store, limit=1) == [first]
    assert batch(store, in_flight={first}) == [second]
    assert batch(store, held={first}) == []


def test_claim_numbers_a_session_once_and_keeps_the_number_for_resends(store: Store) -> None:
    ids = [put(store, "session.state", "A") for _ in range(3)] + [put(store, "usage", None)]
    with store.transaction() as db:
        first = outbox.claim(db, ids, store.now())
    assert [o.session_seq for o in first] == [1, 2, 3, None]
    with store.transaction() as db:
        again = outbox.claim(db, ids[:2], store.now())
    assert [o.session_seq for o in again] == [1, 2]
    wire = Envelope.model_validate_json(again[1].payload)
    assert wire.session_seq == 2 and wire.message_id == ids[1]
    attempts = store.all("SELECT attempts FROM outbox ORDER BY seq")
    assert [r["attempts"] for r in attempts] == [2, 2, 1, 1]


def test_acks_finish_rows_once_and_ignore_unknown_and_repeated_ids(store: Store) -> None:
    ids = [put(store, "session.result", "A") for _ in range(2)]
    with store.transaction() as db:
        outbox.claim(db, ids, store.now())
        assert outbox.mark_acked(db, [ids[0], "dev-1:999999999999"], store.now()) == 1
        assert outbox.mark_acked(db, [ids[0]], store.now()) == 0
    assert batch(store) == []  # the other one is in flight
    with store.transaction() as db:
        outbox.release(db)  # its connection is gone
    assert batch(store) == [ids[1]]
    assert outbox.depth(store.db) == {"session.result": 1}


def test_a_media_ack_marks_the_recording_as_held_by_central(store: Store) -> None:
    with store.transaction() as db:
        db.execute("INSERT INTO candidates (id, created) VALUES ('c', 'x')")
        db.execute("INSERT INTO job_packages VALUES ('j', 1, 'd', '{}', 's', 'x')")
        db.execute("INSERT INTO sessions (id, candidate_id, job_id, job_version, state, created,"
                   " state_since) VALUES ('S', 'c', 'j', 1, 'completed', 'x', 'x')")
        db.execute("INSERT INTO media (id, session_id, kind, path, created) VALUES"
                   " ('m1', 'S', 'audio', '/x', 'x')")
        message = outbox.enqueue(db, ME, store.now(), "media", {"media_id": "m1"},
                                 session_id="S")
    with store.transaction() as db:
        outbox.mark_acked(db, [message], store.now())
    acked = store.one("SELECT acked FROM media WHERE id = 'm1'")
    assert acked is not None and acked["acked"] is not None


def test_rows_keep_their_error_until_acked(store: Store) -> None:
    message = put(store, "session.result", "A")
    with store.transaction() as db:
        outbox.record_error(db, message, "the broker refused it: Not authorized (0x87)")
    found = store.one("SELECT status, last_error, bytes, payload FROM outbox")
    assert found is not None
    assert found["status"] == "pending" and "0x87" in found["last_error"]
    assert found["bytes"] == len(found["payload"].encode())
    assert "session_seq" not in json.loads(found["payload"])


def test_backoff_grows_with_jitter_up_to_its_cap_and_resets() -> None:
    import random

    b = Backoff(1.0, 30.0, random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0 < d <= 30.0 for d in delays)
    assert max(delays[:2]) <= 2.0 and max(delays[6:]) > 4.0
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not lockstep
    b.reset()
    assert b.next_delay() <= 1.0


def test_throttle_paces_bytes_to_the_configured_rate() -> None:
    slept: list[float] = []
    now = [0.0]

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    t = Throttle(80, sleep=sleep, clock=lambda: now[0])  # 80 kbit/s = 10 kB/s
    for _ in range(10):
        t.take(10_000)
    assert 8.0 <= sum(slept) <= 10.0  # 100 kB at 10 kB/s, less the initial burst
    free = Throttle(0, sleep=sleep)
    before = len(slept)
    free.take(10**9)
    assert len(slept) == before


def test_a_session_whose_next_message_lies_beyond_the_scan_is_not_stuck(store: Store) -> None:
    # Each session: a report (priority 2) followed by many state changes (priority 0). The
    # state changes fill the scan, all blocked behind their session's report.
    reports = []
    for s in range(3):
        reports.append(put(store, "session.report", f"S{s}"))
        for _ in range(60):
            put(store, "session.state", f"S{s}")
    sent: set[str] = set()
    for _ in range(40):  # keep sending, as the agent does, until everything went once
        more = batch(store, limit=8, in_flight=sent)
        if not more:
            break
        sent.update(more)
    assert set(reports) <= sent and len(sent) == 3 * 61
