"""Delivery into the HR system: events made with the messages, the pull API, signed
webhooks retried in order per candidate, dead letters and replay, and the documented
example consumer verifying and deduplicating them."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sync_fixtures import SITE, TENANT

from central import Receiver, ServerThread
from central.messages import ingest
from central.store import ReceiverStore
from central.webhooks import delivery, endpoints, events, signing
from central.webhooks.delivery import Deliverer, RetryPolicy
from shared.contract import Envelope

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_consumer.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_consumer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


consumer_module = load_example()


def message(seq: int, kind: str, body: dict[str, Any], *, session: str = "s-1",
            session_seq: int | None = None, drill: bool = False) -> Envelope:
    return Envelope.model_validate({
        "message_id": f"dev-1:{seq:012d}", "schema_version": "kiosk/v1", "kind": kind,
        "device_id": "dev-1", "tenant": TENANT, "site": SITE, "seq": seq,
        "session_id": session, "drill": drill, "session_seq": session_seq or seq,
        "recorded_at": {"utc": "2026-12-05T08:00:00Z", "mono": 5.0 + seq, "boot": "b-1",
                        "synced": True},
        "body": body,
    })


def completed(seq: int, session: str = "s-1", session_seq: int | None = None,
              drill: bool = False) -> Envelope:
    return message(seq, "session.state", {
        "from": "in_progress", "to": "completed", "action": "finish", "reason": None,
        "actor_role": "candidate", "job_id": "assembly-line-operator", "job_version": 3,
        "candidate_id": "c-0042"}, session=session, session_seq=session_seq, drill=drill)


def report(seq: int, session: str = "s-1", session_seq: int | None = None) -> Envelope:
    return message(seq, "session.report", {"revision": 1, "scorecard": {
        "job_id": "assembly-line-operator", "package_version": 3, "complete": True,
        "pending": [], "overall": 7.4, "min_score": 0, "max_score": 10,
        "competencies": [{"id": "communication", "score": 6.5, "status": "scored"},
                         {"id": "operation_proficiency", "score": None,
                          "status": "not_assessed"}]},
        "report": {}}, session=session, session_seq=session_seq)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReceiverStore]:
    url = f"sqlite://{tmp_path / 'central.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    s = ReceiverStore(url)
    yield s
    s.close()


def put(store: ReceiverStore, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        with store.transaction() as conn:
            ingest(conn, envelope, "https")


def pulled(store: ReceiverStore, after: int = 0) -> list[dict[str, Any]]:
    with store.read() as conn:
        return events.after(conn, after, 100)


@dataclass
class Consumer:
    """The documented example consumer, serving on loopback; ``stop`` takes it down."""

    module: ModuleType
    secret: str
    inbox: Path
    port: int = 0
    server: Any = None

    def start(self) -> Consumer:
        self.server = self.module.serve(self.port, self.secret, str(self.inbox))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/kiosk"

    def events(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.module.Inbox(str(self.inbox)).events()
        return found


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def drain(deliverer: Deliverer) -> None:
    """Rounds until a round has nothing to send."""
    for _ in range(50):
        if deliverer.run_once() == 0:
            return
    raise AssertionError("deliveries never settled")


@pytest.fixture
def consumer(tmp_path: Path) -> Iterator[Callable[..., Consumer]]:
    """``consumer(secret, port=0)``: the example consumer started."""
    started: list[Consumer] = []

    def start(secret: str, port: int = 0) -> Consumer:
        c = Consumer(consumer_module, secret, tmp_path / "inbox.db", port).start()
        started.append(c)
        return c

    yield start
    for c in started:
        if c.server is not None:
            c.stop()
            c.server = None


# -- events ------------------------------------------------------------------------------

def test_events_are_made_when_messages_are_delivered_in_session_order(
        store: ReceiverStore) -> None:
    put(store, report(2, session_seq=2))  # held back: its session's first message is missing
    assert pulled(store) == []
    put(store, completed(1, session_seq=1))
    got = pulled(store)
    assert [e["type"] for e in got] == ["interview.completed", "report.ready"]
    assert [e["sequence"] for e in got] == sorted(e["sequence"] for e in got)
    done, ready = got
    assert done["data"] == {"job_id": "assembly-line-operator", "job_version": 3,
                            "candidate_id": "c-0042"}
    assert ready["data"]["competencies"][1] == {"id": "operation_proficiency", "score": None,
                                                "status": "not_assessed"}
    assert (done["session_id"], done["device_id"], done["site"]) == ("s-1", "dev-1", SITE)
    put(store, completed(1, session_seq=1))  # the same message again: no second event
    assert len(pulled(store)) == 2
    assert pulled(store, after=done["sequence"]) == [ready]


def test_drills_and_other_states_make_no_events(store: ReceiverStore) -> None:
    put(store, completed(1, session="drill-1", drill=True),
        message(2, "session.state", {"from": "consented", "to": "in_progress"}, session="s-2",
                session_seq=1),
        message(3, "usage", {"minutes": 3}, session="s-2", session_seq=2))
    assert pulled(store) == []


# -- signing ------------------------------------------------------------------------------

def test_a_signature_is_refused_when_anything_about_it_is_wrong() -> None:
    secret, body, now = signing.new_secret(), b'{"a": 1}', time.time()
    header = signing.sign(secret, int(now), body)
    assert signing.verify(secret, header, body, now) == int(now)
    assert consumer_module.verify(secret, header, body, now)
    attacks = {
        "wrong secret": (signing.new_secret(), header, body, now),
        "altered body": (secret, header, b'{"a": 2}', now),
        "stale": (secret, header, body, now + 301),
        "no header": (secret, "", body, now),
        "forged timestamp": (secret, header.replace(f"t={int(now)}", f"t={int(now) + 1}"),
                             body, now),
    }
    for what, (key, given, content, at) in attacks.items():
        with pytest.raises(signing.SignatureError):
            signing.verify(key, given, content, at)
        assert not consumer_module.verify(key, given, content, at), what


# -- webhooks -----------------------------------------------------------------------------

def test_events_reach_the_example_consumer_signed_and_in_order(
        store: ReceiverStore, consumer: Callable[..., Consumer]) -> None:
    endpoint, secret = endpoints.add(store, "http://127.0.0.1:1/placeholder", [])
    hr = consumer(secret)
    with store.transaction() as conn:
        conn.execute("UPDATE webhook_endpoints SET url = ? WHERE id = ?", (hr.url, endpoint.id))
    put(store, completed(1, session_seq=1), report(2, session_seq=2),
        completed(3, session="s-2", session_seq=1))
    drain(Deliverer(store))
    got = hr.events()
    assert [(e["type"], e["session_id"]) for e in got] == [
        ("interview.completed", "s-1"), ("report.ready", "s-1"), ("interview.completed", "s-2")]
    assert got == pulled(store)  # the webhook body is the pull API's event
    assert {d["state"] for d in delivery.deliveries(store)} == {"delivered"}


def test_a_consumer_down_for_ten_minutes_loses_nothing_and_keeps_each_candidates_order(
        store: ReceiverStore, consumer: Callable[..., Consumer]) -> None:
    hr = consumer("")
    hr.stop()  # its port is now closed
    _, secret = endpoints.add(store, hr.url, ["interview.completed", "report.ready"])
    put(store, completed(1, session_seq=1), report(2, session_seq=2))
    clock = Clock()
    deliverer = Deliverer(store, clock=clock, policy=RetryPolicy(base_s=10, cap_s=120))
    attempts = 0
    for _ in range(60):  # ten minutes of ten-second rounds
        attempts += deliverer.run_once()
        clock.advance(10)
    [first, second] = sorted(delivery.deliveries(store), key=lambda d: d["event_seq"])
    assert first["state"] == second["state"] == "pending"
    assert second["attempts"] == 0, "a candidate's later event was sent before the earlier"
    assert 5 <= attempts <= 10, attempts  # backed off: 10, 20, 40, 80, 120, 120 … seconds
    assert "ConnectError" in first["last_error"]
    hr = consumer(secret, hr.port)  # back, on the same port
    clock.advance(120)
    drain(deliverer)
    assert [e["type"] for e in hr.events()] == ["interview.completed", "report.ready"]


def test_a_dead_letter_is_listed_does_not_block_later_events_and_can_be_replayed(
        store: ReceiverStore, consumer: Callable[..., Consumer]) -> None:
    endpoint, secret = endpoints.add(store, "http://127.0.0.1:9/nothing-here", [])
    put(store, completed(1, session_seq=1))
    clock = Clock()
    deliverer = Deliverer(store, clock=clock, policy=RetryPolicy(give_up_after_s=60))
    deliverer.run_once()
    clock.advance(3600)
    deliverer.run_once()
    [dead] = delivery.deliveries(store, "dead")
    assert dead["type"] == "interview.completed" and dead["attempts"] == 2
    hr = consumer(secret)
    with store.transaction() as conn:
        conn.execute("UPDATE webhook_endpoints SET url = ? WHERE id = ?", (hr.url, endpoint.id))
    put(store, report(2, session_seq=2))
    drain(deliverer)
    assert [e["type"] for e in hr.events()] == ["report.ready"]
    delivery.replay(store, endpoint.id, dead["event_seq"], clock())
    drain(deliverer)
    assert [e["type"] for e in hr.events()] == ["interview.completed", "report.ready"]
    delivery.replay(store, endpoint.id, dead["event_seq"], clock())  # sent twice...
    drain(deliverer)
    assert len(hr.events()) == 2  # ...kept once: the consumer deduplicates by event_id
    with pytest.raises(Exception, match="no dead or delivered event"):
        delivery.replay(store, endpoint.id, 999, clock())


def test_a_consumer_refusing_the_signature_is_retried_not_counted_delivered(
        store: ReceiverStore, consumer: Callable[..., Consumer]) -> None:
    hr = consumer("whsec_not-the-endpoints-secret")
    endpoints.add(store, hr.url, ["interview.completed"])
    put(store, completed(1, session_seq=1))
    Deliverer(store).run_once()
    [row] = delivery.deliveries(store)
    assert (row["state"], row["last_status"]) == ("pending", 401)
    assert hr.events() == []


def test_a_removed_endpoint_gets_nothing_more(store: ReceiverStore,
                                              consumer: Callable[..., Consumer]) -> None:
    hr = consumer("")
    endpoint, _ = endpoints.add(store, hr.url, [])
    endpoints.deactivate(store, endpoint.id)
    put(store, completed(1, session_seq=1))
    assert Deliverer(store).run_once() == 0
    with pytest.raises(Exception, match="no webhook endpoint"):
        endpoints.deactivate(store, "wh_nope")


# -- admin routes -------------------------------------------------------------------------

def test_the_admin_routes_add_list_pull_and_refuse(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path / "central")
    token = receiver.create_admin_token("hr-integration")
    try:
        with ServerThread(receiver.app) as server, httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
            for method, path in (("GET", "/v1/admin/events"), ("GET", "/v1/admin/webhooks"),
                                 ("POST", "/v1/admin/webhooks")):
                assert httpx.request(method, server.url + path).status_code == 401
            bad = http.post("/v1/admin/webhooks", json={"url": "ftp://hr.example.com/x"})
            assert bad.status_code == 422 and "http(s) URL" in bad.json()["detail"]
            bad = http.post("/v1/admin/webhooks", json={"url": "https://hr.example.com/x",
                                                        "events": ["candidate.hired"]})
            assert bad.status_code == 422 and "candidate.hired" in bad.json()["detail"]
            made = http.post("/v1/admin/webhooks", json={"url": "https://hr.example.com/x",
                                                         "events": ["report.ready"]}).json()
            assert made["secret"].startswith("whsec_") and made["events"] == ["report.ready"]
            listed = http.get("/v1/admin/webhooks").json()["webhooks"]
            assert [w["id"] for w in listed] == [made["id"]]
            assert made["secret"] not in str(listed)
            put(receiver.store, completed(1, session_seq=1), report(2, session_seq=2))
            page = http.get("/v1/admin/events", params={"limit": 1}).json()
            assert [e["type"] for e in page["events"]] == ["interview.completed"]
            rest = http.get("/v1/admin/events", params={"after": page["cursor"]}).json()
            assert [e["type"] for e in rest["events"]] == ["report.ready"]
            only = http.get("/v1/admin/events", params={"type": "report.ready"}).json()
            assert [e["type"] for e in only["events"]] == ["report.ready"]
            assert http.get("/v1/admin/events", params={"type": "x"}).status_code == 422
            [pending] = http.get("/v1/admin/webhooks/deliveries").json()["deliveries"]
            assert pending["type"] == "report.ready" and pending["state"] == "pending"
            replay = http.post(f"/v1/admin/webhooks/{made['id']}/deliveries/"
                               f"{pending['event_seq']}/replay")
            assert replay.status_code == 404  # still pending: nothing to replay
            assert http.delete(f"/v1/admin/webhooks/{made['id']}").json()["active"] is False
    finally:
        receiver.close()


def test_serve_refuses_a_retry_period_that_is_not_positive(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main

    assert main(["central", "serve", "--data-dir", str(tmp_path), "--port", "0",
                 "--webhook-retry-hours", "0"]) == 2
    assert "--webhook-retry-hours must be above 0" in capsys.readouterr().err


def test_an_endpoint_that_fails_is_not_tried_again_in_the_same_round(
        store: ReceiverStore) -> None:
    endpoints.add(store, "http://127.0.0.1:9/down", [])
    put(store, completed(1, session="s-1", session_seq=1),
        completed(2, session="s-2", session_seq=1), completed(3, session="s-3", session_seq=1))
    assert Deliverer(store).run_once() == 1
    rows = delivery.deliveries(store)
    assert sorted(r["attempts"] for r in rows) == [0, 0, 1]
    assert store.all("SELECT COUNT(*) AS n FROM webhook_deliveries"
                     " WHERE leased_until IS NOT NULL")[0]["n"] == 0  # the rest released


def test_once_a_retry_gets_through_the_endpoints_backlog_goes_at_once(
        store: ReceiverStore, consumer: Callable[..., Consumer]) -> None:
    hr = consumer("")
    hr.stop()
    _, secret = endpoints.add(store, hr.url, [])
    put(store, completed(1, session="s-1", session_seq=1))
    clock = Clock()
    deliverer = Deliverer(store, clock=clock, policy=RetryPolicy(base_s=10, cap_s=600))
    for _ in range(6):  # s-1's event backs off to 320 s
        deliverer.run_once()
        clock.advance(400)
    put(store, completed(2, session="s-2", session_seq=1))
    clock.advance(1)
    deliverer.run_once()  # s-2's first try fails: its next is 10 s on, s-1's minutes on
    hr = consumer(secret, hr.port)
    clock.advance(10)
    drain(deliverer)  # s-2 gets through, and s-1 is sent with it, not minutes later
    assert sorted(e["session_id"] for e in hr.events()) == ["s-1", "s-2"]
