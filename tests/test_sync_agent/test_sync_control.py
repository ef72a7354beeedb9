"""The technician's delivery controls: the store row, the staff API, and a running agent
honouring them against a real Mosquitto and the reference receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import assert_problem, staff_headers
from media_fixtures import box_media, media_box, record_session
from netproxy import TcpProxy
from sqlite_utils import Database
from sync_fixtures import Pki, ProxyFactory
from sync_harness import (
    Central,
    assert_exactly_once_in_order,
    box_config,
    link_state,
    outbox_rows,
    produce,
    running_agent,
    wait_until,
)

from central.broker import Mosquitto
from conftest import LiveServer
from device.audit import Actor
from device.central_link import outbox
from device.central_link import sync_control as control
from device.central_link.outbox import Identity
from device.central_link.settings import replace
from device.composition import Kiosk, open_kiosk
from device.config import KioskConfig
from device.storage import encrypted_db
from device.storage.database import Store
from device.storage.migrations import migrations

BOX = Identity("dev-1", "acme", "plant-1")
TECH = Actor("technician", "tess")
SYNC = "/api/v1/staff/sync"


# -- the store ----------------------------------------------------------------------------

def test_an_existing_database_gains_the_control_row_and_link_columns(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    conn = encrypted_db.connect(path)
    migrations.apply(Database(conn), stop_before="m005_sync_control")
    conn.execute("INSERT INTO sync_link (transport, state, since, updated)"
                 " VALUES ('mqtt', 'online', 's', 'u')")
    conn.close()
    store = Store(path)
    try:
        names = [r["name"] for r in store.all("SELECT name FROM _sqlite_migrations")]
        assert names[-1] == "m007_retention_purge"
        assert control.load(store) == control.Control()
        link = store.one("SELECT state, last_ack, last_error, last_error_at FROM sync_link")
        assert link == {"state": "online", "last_ack": None, "last_error": None,
                        "last_error_at": None}
        with pytest.raises(encrypted_db.IntegrityError):  # one row, never two
            store.conn.execute("INSERT INTO sync_control (id) VALUES (2)")
    finally:
        store.close()


def test_sources_technician_over_central_over_config(config: KioskConfig) -> None:
    store = Store(config.db_path)
    try:
        described = control.describe(store, config, environ={})
        assert (described["metered"], described["metered_source"]) == (False, "config")
        assert (described["bandwidth_kbps"], described["bandwidth_source"]) == (0, "config")
        with store.transaction() as db:
            replace(db, {"sync": {"metered": True, "bandwidth_kbps": 500}}, "doc-1", "site")
        described = control.describe(store, config, environ={})
        assert (described["metered"], described["metered_source"]) == (True, "central")
        assert (described["bandwidth_kbps"], described["bandwidth_source"]) == (500, "central")
        # A KIOSK_* variable on the box beats central, as in the configuration in force.
        pinned = control.describe(store, config, environ={"KIOSK_SYNC_METERED": "false"})
        assert (pinned["metered"], pinned["metered_source"]) == (False, "config")
        control.update(store, TECH, "tethered to a phone", metered=False, bandwidth_kbps=64)
        described = control.describe(store, config, environ={})
        assert (described["metered"], described["metered_source"]) == (False, "technician")
        assert (described["bandwidth_kbps"], described["bandwidth_source"]) == (64, "technician")
        assert described["updated_by"] == "technician:tess"
        control.update(store, TECH, "back on the site network", metered=None)
        described = control.describe(store, config, environ={})
        assert described["metered_source"] == "central"
        assert described["bandwidth_source"] == "technician"
    finally:
        store.close()


# -- the staff API ------------------------------------------------------------------------

def test_control_round_trip_over_http_is_audited(http: httpx.Client, kiosk: Kiosk) -> None:
    tech = staff_headers(kiosk, "technician", name="tess")
    first = http.get(SYNC, headers=tech).json()
    assert first["control"] == {
        "paused": False, "metered": False, "metered_source": "config", "bandwidth_kbps": 0,
        "bandwidth_source": "config", "retry_requested": None, "updated": None,
        "updated_by": None}
    assert first["links"] == [] and first["waiting"] == 0 and first["oldest_unsent"] is None
    assert first["last_success"] is None and first["last_error"] is None

    r = http.post(f"{SYNC}/control", headers=tech, json={
        "paused": True, "metered": True, "bandwidth_kbps": 256, "reason": "site uplink saturated"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["paused"] is True and got["metered"] is True and got["bandwidth_kbps"] == 256
    assert got["metered_source"] == got["bandwidth_source"] == "technician"
    assert got["updated_by"] == "technician:tess" and got["updated"]
    assert http.get(SYNC, headers=tech).json()["control"] == got

    cleared = http.post(f"{SYNC}/control", headers=tech,
                        json={"metered": None, "reason": "uplink fixed"}).json()
    assert cleared["metered"] is False and cleared["metered_source"] == "config"
    assert cleared["paused"] is True and cleared["bandwidth_kbps"] == 256  # left as they were

    retry = http.post(f"{SYNC}/retry", headers=tech, json={"reason": "central is back"})
    assert retry.status_code == 200, retry.text
    assert http.get(SYNC, headers=tech).json()["control"]["retry_requested"] == \
        retry.json()["requested"]
    assert http.post(f"{SYNC}/retry", headers=tech).status_code == 200  # a reason is optional

    entries = http.get("/api/v1/staff/audit", headers=tech, params={"subject": "sync"}).json()
    assert [(e["action"], e["actor_name"], e["reason"]) for e in entries] == [
        ("sync.retry", "tess", None), ("sync.retry", "tess", "central is back"),
        ("sync.control", "tess", "uplink fixed"),
        ("sync.control", "tess", "site uplink saturated")]
    assert kiosk.store.one("SELECT retries FROM sync_control") == {"retries": 2}


def test_site_hr_may_look_but_not_steer(http: httpx.Client, kiosk: Kiosk) -> None:
    hr = staff_headers(kiosk, "site_hr", jobs=["assembly-line-operator"])
    assert http.get(SYNC, headers=hr).status_code == 200
    assert http.get(f"{SYNC}/queue", headers=hr).status_code == 200
    body = assert_problem(http.post(f"{SYNC}/control", headers=hr,
                                    json={"paused": True, "reason": "x"}), 403, "forbidden")
    assert "technician or admin" in body["detail"]
    assert_problem(http.post(f"{SYNC}/retry", headers=hr), 403, "forbidden")
    assert control.load(kiosk.store) == control.Control()
    assert kiosk.store.one("SELECT count(*) AS n FROM audit WHERE subject = 'sync'") == {"n": 0}
    admin = staff_headers(kiosk, "admin")
    assert http.post(f"{SYNC}/control", headers=admin,
                     json={"paused": False, "reason": "check"}).status_code == 200


@pytest.mark.parametrize(("body", "words"), [
    ({"paused": True}, "reason"),
    ({"paused": True, "reason": ""}, "reason"),
    ({"reason": "nothing named"}, "name paused, metered or bandwidth_kbps"),
    ({"paused": None, "reason": "x"}, "paused must be true or false"),
    ({"paused": "yes", "reason": "x"}, "paused"),
    ({"bandwidth_kbps": -1, "reason": "x"}, "bandwidth_kbps"),
    ({"bandwidth_kbps": 1.5, "reason": "x"}, "bandwidth_kbps"),
    ({"pause": True, "reason": "x"}, "pause"),
])
def test_bad_control_bodies_are_refused_clearly(
        http: httpx.Client, kiosk: Kiosk, body: dict[str, Any], words: str) -> None:
    tech = staff_headers(kiosk, "technician")
    problem = assert_problem(http.post(f"{SYNC}/control", headers=tech, json=body), 422,
                             "invalid-request")
    assert words in problem["detail"], problem
    assert control.load(kiosk.store) == control.Control()


def test_bad_retry_body_is_refused(http: httpx.Client, kiosk: Kiosk) -> None:
    tech = staff_headers(kiosk, "technician")
    assert_problem(http.post(f"{SYNC}/retry", headers=tech, json={"why": "x"}), 422,
                   "invalid-request")
    assert control.load(kiosk.store).retries == 0


def test_queue_lists_unacked_messages_in_delivery_order(
        http: httpx.Client, kiosk: Kiosk) -> None:
    ids = produce(kiosk.store, BOX, sessions=2, per_session=3)
    with kiosk.store.transaction() as db:
        outbox.mark_acked(db, ids[:1], kiosk.store.now())
        outbox.record_error(db, ids[1], "central refused it: test")
    tech = staff_headers(kiosk, "technician")
    got = http.get(f"{SYNC}/queue", headers=tech).json()
    assert got["total"] == 5
    items = got["items"]
    assert {i["message_id"] for i in items} == set(ids[1:])
    order = [(i["kind"], i["message_id"]) for i in items]
    expected = kiosk.store.all("SELECT kind, message_id FROM outbox WHERE status != 'acked'"
                               " ORDER BY priority, seq")
    assert order == [(r["kind"], r["message_id"]) for r in expected]
    first = next(i for i in items if i["message_id"] == ids[1])
    assert first["last_error"] == "central refused it: test" and first["status"] == "pending"
    assert first["age_s"] == 0.0 and first["hold_until"] is None
    assert first["created"].startswith("2026-01-05T08:00:00")
    reports = http.get(f"{SYNC}/queue", headers=tech,
                       params={"kind": "session.result", "limit": 1}).json()
    assert reports["total"] == 2 and len(reports["items"]) == 1
    assert reports["items"][0]["kind"] == "session.result"
    assert_problem(http.get(f"{SYNC}/queue", headers=tech, params={"limit": 0}), 422,
                   "invalid-request")
    status = http.get(SYNC, headers=tech).json()
    assert status["waiting"] == 5 and status["oldest_unsent"]["message_id"] == ids[1]
    assert status["oldest_unsent"]["last_error"] == "central refused it: test"


# -- a running agent -----------------------------------------------------------------------

@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port)
    yield c
    c.close()


def central_ids(central: Central) -> list[str]:
    return [m["message_id"] for m in central.messages("dev-1")]


@pytest.mark.integration
def test_pause_holds_new_messages_back_and_resume_delivers_them_in_order(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                        key_file=central.key_file)
    store = Store(config.db_path)
    first = produce(store, BOX, sessions=2, per_session=3, prefix="a")
    with running_agent(config) as service:
        wait_until(service.agent.drained, 20, "the first batch")
        control.update(store, TECH, "maintenance", paused=True)
        wait_until(lambda: (link_state(config.db_path, "mqtt") or {}).get("detail")
                   == control.PAUSED_DETAIL, 5, "the link to say it is paused")
        later = produce(store, BOX, sessions=3, per_session=4, prefix="b")
        time.sleep(1.5)  # three reads of the controls, many turns of the loop
        assert sorted(central_ids(central)) == sorted(first), "sent while paused"
        assert all(r["status"] == "pending" and r["attempts"] == 0
                   for r in outbox_rows(config.db_path) if r["message_id"] in later)
        assert link_state(config.db_path, "mqtt")["state"] == "online"  # type: ignore[index]
        control.update(store, TECH, "done", paused=False)
        wait_until(service.agent.drained, 20, "the held messages after resuming")
        assert link_state(config.db_path, "mqtt")["detail"] is None  # type: ignore[index]
    store.close()
    assert_exactly_once_in_order(config.db_path, central, "dev-1")
    assert len(central_ids(central)) == len(first) + len(later)


@pytest.mark.integration
def test_retry_sends_a_deferred_message_at_once(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    # A long backoff: a refused message waits at least 6 s before it goes again.
    config = box_config(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                        key_file=central.key_file, backoff_initial_s=60, backoff_max_s=120)
    store = Store(config.db_path)
    with store.transaction() as db:  # an envelope central refuses: the wrong tenant
        bad = outbox.enqueue(db, Identity("dev-1", "other", "plant-1"), store.now(), "usage",
                             {"n": 1})
    with running_agent(config):
        wait_until(lambda: "central refused it" in (outbox_rows(config.db_path)[0]
                                                    ["last_error"] or ""), 10, "the refusal")
        with store.transaction() as db:  # fixed on the box, e.g. by a software update
            db.execute("UPDATE outbox SET payload = replace(payload, '\"tenant\":\"other\"',"
                       " '\"tenant\":\"acme\"') WHERE message_id = ?", (bad,))
        time.sleep(1.0)
        assert central_ids(central) == [], "the deferred message went before its backoff"
        requested = time.monotonic()
        control.request_retry(store, TECH, "fixed")
        wait_until(lambda: central_ids(central) == [bad], 2.5, "the retried message")
        assert time.monotonic() - requested < 2.5
        wait_until(lambda: outbox_rows(config.db_path)[0]["status"] == "acked", 5, "its ack")
    store.close()


@pytest.mark.integration
def test_sync_status_shows_the_last_error_while_central_is_down_and_retry_reconnects(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
        proxy_to: ProxyFactory) -> None:
    proxy: TcpProxy = proxy_to(broker.port)
    proxy.reset()  # central unreachable: every connection is reset
    config = box_config(tmp_path / "box", pki, "dev-1", broker_port=proxy.port,
                        key_file=central.key_file, backoff_initial_s=60, backoff_max_s=120)
    kiosk = open_kiosk(config)
    ids = produce(kiosk.store, BOX, sessions=1, per_session=3)
    with LiveServer(kiosk) as live, httpx.Client(base_url=live.url, timeout=10) as http, \
            running_agent(config):
        tech = staff_headers(kiosk, "technician")

        def sync() -> dict[str, Any]:
            body: dict[str, Any] = http.get(SYNC, headers=tech).json()
            return body

        wait_until(lambda: sync()["last_error"] is not None, 10, "the failure to be shown")
        down = sync()
        assert down["last_error"]["message"].startswith("cannot connect: ")
        assert down["last_success"] is None and down["waiting"] == 3
        [link] = down["links"]
        assert link["state"] == "offline" and link["last_error"] == down["last_error"]["message"]
        assert link["last_error_at"] == down["last_error"]["at"] and link["last_ack"] is None
        assert down["oldest_unsent"]["message_id"] == ids[0]

        proxy.pass_through()  # central is back; the next attempt is 6 to 60 s away
        time.sleep(0.5)
        assert central_ids(central) == []
        assert http.post(f"{SYNC}/retry", headers=tech).status_code == 200
        wait_until(lambda: sorted(central_ids(central)) == sorted(ids), 3,
                   "delivery right after the retry")
        wait_until(lambda: sync()["links"][0]["last_ack"] is not None, 5,
                   "the success to be shown")
        up = sync()
        assert up["links"][0]["state"] == "online" and up["waiting"] == 0
        assert up["last_success"] == up["links"][0]["last_ack"]
        assert up["last_success"] > up["last_error"]["at"]  # the error stays, older
    kiosk.close()


@pytest.mark.integration
def test_metered_and_bandwidth_overrides_reach_the_running_agent(
        tmp_path: Path, pki: Pki) -> None:
    central = Central(tmp_path / "central", pki, None)
    try:
        config = media_box(tmp_path, pki, central, central.url)  # not metered in kiosk.toml
        state, rec = record_session(config, 128 * 1024)
        store = Store(config.db_path)
        control.update(store, TECH, "on a phone tether", metered=True, bandwidth_kbps=800)
        with running_agent(config) as service:
            wait_until(lambda: outbox_rows(config.db_path, "session.state")[0]["status"]
                       == "acked", 20, "the session's state change")
            assert service.agent.controls.throttle.rate == 100_000  # 800 kbit/s in bytes per second
            time.sleep(1.0)
            [media] = outbox_rows(config.db_path, "media")
            assert media["status"] == "pending" and media["attempts"] == 0, media
            assert central.receiver.store.one("SELECT count(*) AS n FROM media") == {"n": 0}
            control.update(store, TECH, "back on the site network", metered=None,
                           bandwidth_kbps=None)
            wait_until(service.agent.drained, 20, "the recording once metered mode is off")
            assert service.agent.controls.throttle.rate == 0
        assert box_media(config, rec.media_id)["acked"] is not None
        assert [m["message_id"] for m in central.messages("dev-1")] == [state, rec.message_id]
        store.close()
    finally:
        central.close()
