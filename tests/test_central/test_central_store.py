"""Central's store on both databases: placeholders, migrations, concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sync_fixtures import SITE, TENANT

from central.messages import Ingested, ingest, ingest_batch, list_messages, stats
from central.migrations import MIGRATIONS, Migration, migrate, statements
from central.sql import to_pyformat
from central.store import ReceiverStore, open_store, row, utc_now
from shared.contract import Envelope

T = TypeVar("T")


def envelope(seq: int, *, device: str = "dev-1", session: str | None = "s-1",
             session_seq: int | None = None, state: str = "active") -> Envelope:
    return Envelope.model_validate({
        "message_id": f"{device}:{session}:{seq:06d}", "schema_version": "kiosk/v1",
        "kind": "session.state", "device_id": device, "tenant": TENANT, "site": SITE,
        "seq": seq, "session_id": session, "drill": False, "session_seq": session_seq,
        "recorded_at": {"utc": "1970-01-01T00:00:05Z", "mono": 5.0 + seq, "boot": "b-1",
                        "synced": False},
        "body": {"state": state},
    })


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'receiver.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(database: str) -> Iterator[ReceiverStore]:
    s = open_store(database)
    yield s
    s.close()


def test_placeholders_are_translated_outside_quotes() -> None:
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b LIKE 'x%?' AND c = :c") == \
        "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%?' AND c = %(c)s"
    assert to_pyformat('SELECT "offset", x::text, 5 % 2 -- a ? here\nFROM t') == \
        'SELECT "offset", x::text, 5 %% 2 -- a ? here\nFROM t'
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_one_spelling_of_sql_works_on_both(store: ReceiverStore) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO versions (tenant, kind, scope, last) VALUES (?, ?, ?, ?)",
                     ("t", "roster", "50%", 1))
        cur = conn.execute("UPDATE versions SET last = last + 1 WHERE scope LIKE '5%'")
        assert cur.rowcount == 1
    assert store.one("SELECT scope, last FROM versions WHERE tenant = :t", {"t": "t"}) == {
        "scope": "50%", "last": 2}
    assert store.all("SELECT scope FROM versions WHERE (? IS NULL OR tenant = ?)",
                     (None, None)) == [{"scope": "50%"}]
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("DELETE FROM versions")
        raise RuntimeError("rolled back")
    assert len(store.all("SELECT * FROM versions")) == 1


def test_migrations_are_applied_once_and_a_new_one_is_one_entry(database: str) -> None:
    store = open_store(database)
    try:
        assert store.schema_versions() == [m.version for m in MIGRATIONS]
        extra = Migration(len(MIGRATIONS) + 1, "an extra table", """
            CREATE TABLE extra (device_id TEXT PRIMARY KEY, tenant TEXT NOT NULL);
            CREATE INDEX extra_tenant ON extra (tenant);""")
        wanted = (*MIGRATIONS, extra)
        assert migrate(store.transaction, utc_now, wanted) == [extra.version]
        assert migrate(store.transaction, utc_now, wanted) == []
        with store.transaction() as conn:
            conn.execute("INSERT INTO extra (device_id, tenant) VALUES (?, ?)", ("d", "t"))
        assert store.schema_versions()[-1] == extra.version
    finally:
        store.close()
    again = open_store(database)  # a store that does not know 2 opens it all the same
    try:
        assert again.one("SELECT tenant FROM extra") == {"tenant": "t"}
    finally:
        again.close()


def test_statements_split_at_line_ends() -> None:
    assert statements("CREATE TABLE a (x TEXT DEFAULT ';');\nCREATE INDEX i ON a (x);\n") == [
        "CREATE TABLE a (x TEXT DEFAULT ';')", "CREATE INDEX i ON a (x)"]


def together(*work: Callable[[], T]) -> list[T]:
    """Run the calls on threads released at the same moment; results in order."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = work[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def test_several_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    stores = together(*[lambda: open_store(pg_url) for _ in range(4)])
    try:
        assert stores[0].schema_versions() == [m.version for m in MIGRATIONS]
    finally:
        for s in stores:
            s.close()


def test_n_and_n_plus_1_stored_at_the_same_moment_are_delivered_in_order(
        pg_url: str) -> None:
    """Two connections (as two workers) store message 1 and 2 of a session at once."""
    a, b = open_store(pg_url), open_store(pg_url)
    try:
        def store(s: ReceiverStore, env: Envelope) -> Callable[[], Ingested]:
            return lambda: s.retrying(lambda conn: ingest(conn, env, "mqtt"))

        for n in range(25):
            first, second = (envelope(k, session=f"s-{n}", session_seq=k) for k in (1, 2))
            together(store(a, first), store(b, second) if n % 2 else store(a, second))
            found = list_messages(a, session_id=f"s-{n}")
            assert [m["session_seq"] for m in found] == [1, 2]
            assert None not in [m["delivered_order"] for m in found], found
        # the same message from two workers at once: stored once, counted as two copies
        env = envelope(1, session="twice", session_seq=1)
        outcomes = together(store(a, env), store(b, env))
        assert sorted(o.outcome for o in outcomes) == ["duplicate", "stored"]
        assert list_messages(a, session_id="twice")[0]["copies"] == 2
        totals = stats(a)
        assert totals["stored"] == 51 and totals["held_back"] == 0
        assert totals["devices"]["dev-1"]["messages"] == 51
    finally:
        a.close()
        b.close()


def test_concurrent_batches_over_many_sessions_never_deadlock(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Batches touching the same sessions and devices, given in opposite orders."""
    stores = [open_store(pg_url) for _ in range(3)]
    try:
        envelopes = [envelope(k, device=f"dev-{d}", session=f"s-{s}", session_seq=k)
                     for d in range(3) for s in range(4) for k in range(1, 6)]
        batches = [envelopes[i::3] for i in range(3)]
        batches[1].reverse()
        together(*[(lambda s=s, batch=batch: s.retrying(
            lambda conn: ingest_batch(conn, batch, "mqtt"))) for s, batch in
            zip(stores, batches, strict=True)])
        assert "retrying" not in caplog.text  # locks taken in one order: no deadlock
        totals = stats(stores[0])
        assert totals["stored"] == len(envelopes) and totals["held_back"] == 0
        assert sum(d["messages"] for d in totals["devices"].values()) == len(envelopes)
        with stores[0].read() as conn:
            found = row(conn, "SELECT COUNT(DISTINCT delivered_order) AS n FROM messages")
        assert found == {"n": len(envelopes)}
    finally:
        for s in stores:
            s.close()


def test_a_retention_receipt_discards_the_purged_sessions_held_back_messages(
        store: ReceiverStore) -> None:
    with store.transaction() as conn:
        ingest(conn, envelope(1, session="s-1", session_seq=1), "https")
        ingest(conn, envelope(3, session="s-1", session_seq=3), "https")  # waits for 2
        ingest(conn, envelope(4, session="s-2", session_seq=2), "https")  # another session
    receipt = envelope(5, session=None).model_copy(update={
        "kind": "retention.receipt", "body": {"session_id": "s-1", "reason": "retention"}})
    with store.transaction() as conn:
        assert ingest(conn, receipt, "https").outcome == "stored"
    left = {(m["session_id"], m["session_seq"]) for m in list_messages(store)}
    assert left == {("s-1", 1), ("s-2", 2), (None, None)}
