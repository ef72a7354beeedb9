"""The sync agent under faults, against a real Mosquitto on loopback and the reference receiver.

Brokers that restart or crash (``kill -9`` loses messages it already acknowledged), links
that go dead, reset or crawl (a TCP proxy between box and broker), a sync agent and a
result writer killed at random points, and central's acks lost, late or repeated over
MQTT and HTTPS. Every test ends the same way: central holds each of the box's messages
exactly once, a session's messages in order, each envelope exactly as the box wrote it;
and the box's database is intact, its outbox rows unchanged.

Cycle counts are bounded for the normal run; ``KIOSK_SOAK_CYCLES=n`` (or ``KIOSK_SOAK=1``)
raises them, and the ``slow`` variants run longer loops.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sync_producer
from netproxy import TcpProxy
from sync_fixtures import SITE, TENANT, Pki, ProbeFactory, ProxyFactory
from sync_harness import (
    Central,
    Producer,
    assert_box_intact,
    assert_central_has_what_the_box_wrote,
    assert_exactly_once_in_order,
    box_config,
    box_env,
    kiosk_sync,
    link_state,
    outbox_payloads,
    produce,
    running_agent,
    set_faults,
    soak_cycles,
    unacked,
    wait_drained,
    wait_until,
)

from central.broker import Mosquitto
from central.documents import load_or_create_key, public_key_pem
from central.messages import stats
from device.central_link.outbox import Identity
from device.config import KioskConfig
from device.storage.database import Store
from shared.contract import ack_topic, device_topic

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

DEVICE = "dev-1"
BOX = Identity(DEVICE, TENANT, SITE)


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port)
    yield c
    c.close()


def config_for(tmp_path: Path, pki: Pki, key_file: Path, port: int, **sync: Any) -> KioskConfig:
    return box_config(tmp_path / "box", pki, DEVICE, broker_port=port, key_file=key_file, **sync)


def finish(db_path: Path, central: Central, written: dict[str, str] | None = None) -> None:
    """What every test ends with (see the module docstring)."""
    assert_exactly_once_in_order(db_path, central, DEVICE)
    assert_central_has_what_the_box_wrote(db_path, central, DEVICE)
    assert_box_intact(db_path, written)


def acked(store: Store) -> int:
    return len(store.all("SELECT 1 FROM outbox WHERE status = 'acked'"))


def wait_acked(store: Store, more: int, what: str) -> None:
    """Wait until ``more`` further messages are acked (the drain is under way)."""
    floor = acked(store) + more
    wait_until(lambda: acked(store) >= floor, 30, what)


def wait_state(db_path: Path, state: str, timeout_s: float, what: str) -> float:
    """Wait until the agent's written link state is ``state``; returns when (monotonic)."""
    def reached() -> bool:
        found = link_state(db_path, "mqtt")
        return found is not None and found["state"] == state

    wait_until(reached, timeout_s, what)
    return time.monotonic()


# -- 1. the broker stops, restarts and crashes -----------------------------------------------

def test_a_puback_is_not_centrals_ack_lost_messages_go_again_after_the_ack_timeout(
        tmp_path: Path, pki: Pki, broker: Mosquitto, mqtt_probe: ProbeFactory) -> None:
    # Central is not subscribed yet: the broker acks each message and drops it, as a broker
    # killed before delivering does. No reconnect happens, so only the ack timeout helps.
    central_dir = tmp_path / "central"
    key, _ = load_or_create_key(central_dir)
    key_file = tmp_path / "central-signing.pub"
    key_file.write_text(public_key_pem(key))
    config = config_for(tmp_path, pki, key_file, broker.port, ack_timeout_s=2)
    watch = mqtt_probe("watch", pki.service("central-observer"))
    watch.connect(broker.port)
    watch.subscribe(f"{device_topic(TENANT, SITE, DEVICE)}/msg/#")
    store = Store(config.db_path)
    ids = produce(store, BOX, sessions=5, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config) as service:
        seen = {json.loads(watch.next_message(10).payload)["message_id"] for _ in ids}
        assert seen == set(ids), "the broker did not take every message"
        assert unacked(store) == len(ids), "a PUBACK finished an outbox row"
        central = Central(central_dir, pki, broker.port)
        try:
            wait_drained(store, 30)
            assert service.agent.state.reconnects == 1, "the link was re-established"
            assert service.agent.state.sent >= 2 * len(ids), "messages were not sent again"
            finish(config.db_path, central, written)
        finally:
            central.close()
    store.close()


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_a_broker_restarting_while_a_backlog_drains_loses_nothing(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central, crash: bool) -> None:
    config = config_for(tmp_path, pki, central.key_file, broker.port, ack_timeout_s=2,
                        window=16, bandwidth_kbps=400)
    store = Store(config.db_path)
    ids = produce(store, BOX, sessions=10, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config) as service, Producer(config.db_path, BOX, every_s=0.3) as live:
        for cycle in range(soak_cycles(3)):
            wait_acked(store, 10, f"progress before restart {cycle}")
            (broker.kill if crash else broker.stop)()
            # SIGTERM saves the broker's sessions and queues; SIGKILL loses all it held.
            assert broker.files.database.exists() is not crash
            wait_state(config.db_path, "offline", 15, "the agent to notice the broker is gone")
            broker.start()
            wait_state(config.db_path, "online", 20, "the agent to reconnect")
        ids += live.stop()
        wait_drained(store, 90)
        assert service.agent.state.reconnects >= soak_cycles(3) + 1
    store.close()
    assert len(ids) > 40
    assert central.receiver.mqtt_connected, "central's client did not reconnect by itself"
    finish(config.db_path, central, written)


def test_a_backlog_where_a_state_change_follows_a_report_drains_after_an_outage(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    # A few long sessions pile up while the broker is down: each session's messages cycle
    # state, result, usage, report, state, ... so later state changes (priority 0) wait
    # behind their session's report (priority 2). 160 messages, more than the window and
    # the 64 rows ``outbox.next_batch`` looks at beyond it.
    config = config_for(tmp_path, pki, central.key_file, broker.port, window=32)
    broker.stop()
    store = Store(config.db_path)
    with running_agent(config):
        wait_state(config.db_path, "offline", 15, "the agent to find the broker down")
        produce(store, BOX, sessions=4, per_session=40, body_bytes=300)
        written = outbox_payloads(config.db_path)
        broker.start()
        wait_drained(store, 60, stall_s=10)
    store.close()
    finish(config.db_path, central, written)


# -- 2. the network between box and broker ---------------------------------------------------

@pytest.fixture
def proxy(broker: Mosquitto, proxy_to: ProxyFactory) -> TcpProxy:
    return proxy_to(broker.port)


def test_a_dead_link_is_noticed_within_two_keepalives_and_recovers(
        tmp_path: Path, pki: Pki, central: Central, proxy: TcpProxy) -> None:
    config = config_for(tmp_path, pki, central.key_file, proxy.port, ack_timeout_s=2,
                        window=16, bandwidth_kbps=300)
    keepalive = config.sync.keepalive_s
    store = Store(config.db_path)
    produce(store, BOX, sessions=25, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config) as service:
        wait_until(lambda: acked(store) >= 20, 30, "the first acks")
        assert unacked(store) > 0, "the backlog drained before the cut"
        cut = time.monotonic()
        proxy.blackhole()
        noticed = wait_state(config.db_path, "offline", 2 * keepalive + 10, "offline")
        assert noticed - cut <= 2 * keepalive + 2.5, (
            f"the dead link was noticed after {noticed - cut:.1f} s (keepalive {keepalive} s)")
        log.info("dead link noticed %.1f s after the cut", noticed - cut)
        assert proxy.stats().bytes_dropped > 0
        # A reconnect into the dead link: the TLS handshake must time out, not hang.
        tries = proxy.stats().connections + 1
        wait_until(lambda: proxy.stats().connections >= tries, 15, "a reconnect attempt")
        stuck = acked(store)
        proxy.pass_through()
        wait_state(config.db_path, "online", 30, "the agent to reconnect after the cut")
        wait_drained(store, 60)
        assert acked(store) > stuck
        assert service.agent.state.reconnects >= 2
    store.close()
    finish(config.db_path, central, written)


def test_one_dead_link_is_handled_as_one_loss(
        tmp_path: Path, pki: Pki, central: Central, proxy: TcpProxy,
        caplog: pytest.LogCaptureFixture) -> None:
    # paho reports a keepalive timeout twice (loop_misc checks the unanswered ping again
    # after _check_keepalive closed the socket); both reports carry the link's epoch.
    caplog.set_level(logging.WARNING, logger="sync_agent.agent")
    config = config_for(tmp_path, pki, central.key_file, proxy.port)
    with running_agent(config):
        wait_state(config.db_path, "online", 15, "the agent to connect")
        proxy.blackhole()
        # the bound is generous: paho notices after 1.5 keepalives, then a busy machine
        # schedules the agent and the encrypted store's write late; this test is about the
        # loss being counted once, not about how fast it is noticed
        wait_state(config.db_path, "offline", 4 * config.sync.keepalive_s + 15, "offline")
        tries = proxy.stats().connections + 1
        wait_until(lambda: proxy.stats().connections >= tries, 10, "a reconnect attempt")
        proxy.reset()  # end the reconnect attempt stuck in the dead link
    losses = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("link to central lost")]
    assert len(losses) == 1, f"one dead link was handled as {len(losses)} losses: {losses}"


def resets_reach(proxy: TcpProxy, n: int) -> bool:
    return proxy.stats().resets >= n


def test_connections_reset_mid_transfer_lose_nothing(
        tmp_path: Path, pki: Pki, central: Central, proxy: TcpProxy) -> None:
    config = config_for(tmp_path, pki, central.key_file, proxy.port, ack_timeout_s=2,
                        window=16, bandwidth_kbps=400)
    store = Store(config.db_path)
    cycles = soak_cycles(3)
    produce(store, BOX, sessions=10 + 8 * cycles, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config) as service:
        for cycle in range(cycles):
            wait_acked(store, 15, f"progress before reset {cycle}")
            resets = proxy.stats().resets + 2
            proxy.reset()
            wait_state(config.db_path, "offline", 10, "the agent to notice the reset")
            wait_until(partial(resets_reach, proxy, resets), 15, "a refused reconnect")
            proxy.pass_through()
            wait_state(config.db_path, "online", 20, "the agent to reconnect")
        wait_drained(store, 60)
        assert service.agent.state.reconnects >= cycles + 1
    store.close()
    finish(config.db_path, central, written)


def test_a_link_slower_than_the_ack_timeout_resends_and_central_dedupes(
        tmp_path: Path, pki: Pki, central: Central, proxy: TcpProxy) -> None:
    # 32 messages of 2 kB at 24 kB/s need 2.7 s to pass; the ack timeout is 2 s.
    config = config_for(tmp_path, pki, central.key_file, proxy.port, ack_timeout_s=2, window=32)
    proxy.delay(0.15)
    proxy.throttle(24_000)
    store = Store(config.db_path)
    produce(store, BOX, sessions=12, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config):
        wait_drained(store, 90)
    store.close()
    assert stats(central.receiver.store)["duplicates"] > 0, (
        "no message was sent twice: the link was not slow enough")
    finish(config.db_path, central, written)


# -- 3. kill -9 of the sync agent --------------------------------------------------------------

def kill_the_agent_repeatedly(tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
                              cycles: int, seed: int) -> None:
    env = box_env(tmp_path / "box", pki, DEVICE, broker_port=broker.port,
                  key_file=central.key_file, ack_timeout_s=2, window=16, bandwidth_kbps=400)
    db_path = tmp_path / "box" / "kiosk.db"
    agent_log = tmp_path / "agent.log"
    rng = random.Random(seed)
    store = Store(db_path)
    ids = produce(store, BOX, sessions=10, per_session=4)
    written = outbox_payloads(db_path)
    in_flight_at_kill: list[int] = []
    with Producer(db_path, BOX, every_s=0.3) as live:
        for _ in range(cycles):
            proc = kiosk_sync(env, agent_log)
            try:
                code = proc.wait(timeout=rng.uniform(0.5, 3.5))
            except subprocess.TimeoutExpired:
                code = None
            proc.kill()
            proc.wait()
            assert code is None, f"the agent exited ({code}):\n{agent_log.read_text()[-2000:]}"
            in_flight_at_kill.append(store.all(
                "SELECT count(*) AS n FROM outbox WHERE status = 'sent'")[0]["n"])
        ids += live.stop()
    delivered_while_killed = acked(store)
    final = kiosk_sync(env, agent_log, "--until-drained", "--timeout", "90")
    assert final.wait(timeout=120) == 0, f"not drained:\n{agent_log.read_text()[-3000:]}"
    store.close()
    assert delivered_while_killed > 0, "the agent never delivered between kills"
    assert sum(in_flight_at_kill) > 0, "no kill landed while messages were in flight"
    assert len(ids) == len(outbox_payloads(db_path))
    finish(db_path, central, written)


def test_the_sync_agent_killed_at_random_points_loses_and_repeats_nothing(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    kill_the_agent_repeatedly(tmp_path, pki, broker, central, soak_cycles(6), seed=6)


@pytest.mark.slow
def test_the_sync_agent_killed_many_times_loses_and_repeats_nothing(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    kill_the_agent_repeatedly(tmp_path, pki, broker, central, soak_cycles(15), seed=15)


# -- 4. kill -9 of the process writing results ------------------------------------------------

def test_results_committed_before_a_kill_9_of_their_writer_are_delivered_once(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = config_for(tmp_path, pki, central.key_file, broker.port, ack_timeout_s=2)
    rng = random.Random(4)
    kills = soak_cycles(5)
    reported: list[str] = []
    store = Store(config.db_path)
    with running_agent(config):
        for n in range(kills):
            reports = sync_producer.run_until_killed(config.db_path, BOX, f"k{n}-",
                                                     rng.randint(2, 60))
            reported += [i for r in reports for i in r["ids"]]
            assert_box_intact(config.db_path)
            rows = store.all("SELECT message_id, payload FROM outbox")
            have = {r["message_id"] for r in rows}
            assert set(reported) <= have, "a reported commit is missing from the outbox"
            parts = Counter((b["prefix"], b["tx"], b["of"]) for b in
                            (json.loads(r["payload"])["body"] for r in rows))
            torn = [tx for tx, count in parts.items() if count != tx[2]]
            assert not torn, f"transactions in part: {torn}"
            assert len(have) - len(reported) <= 2 * (n + 1), "unreported commits piled up"
        wait_drained(store, 60)
    store.close()
    got = {m["message_id"] for m in central.messages(DEVICE)}
    assert set(reported) <= got
    finish(config.db_path, central)


# -- 5. central's acks lost, late and repeated -------------------------------------------------

ACK_FAULTS = [  # transport, faults, ack timeout: late acks must come after it
    pytest.param("mqtt", {"drop_acks": 0.5}, 1, id="mqtt-lost"),
    pytest.param("mqtt", {"delay_acks_s": 3.0}, 2, id="mqtt-late"),
    pytest.param("mqtt", {"duplicate_acks": True}, 2, id="mqtt-repeated"),
    pytest.param("https", {"drop_acks": 0.5}, 1, id="https-lost"),
    pytest.param("https", {"drop_acks": 0.3, "delay_acks_s": 0.2}, 1, id="https-lost-and-late"),
]


@pytest.mark.parametrize(("transport", "faults", "ack_timeout_s"), ACK_FAULTS)
def test_acks_lost_late_or_repeated_still_give_exactly_once(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
        mqtt_probe: ProbeFactory, transport: str, faults: dict[str, Any],
        ack_timeout_s: int) -> None:
    # Over HTTPS the ack is the answer to the POST: a dropped one is a 503, a late one
    # keeps the request waiting (the box cannot resend what it is still sending).
    config = box_config(tmp_path / "box", pki, DEVICE, broker_port=broker.port,
                        https_url=central.url, key_file=central.key_file,
                        ack_timeout_s=ack_timeout_s, transport=transport)
    assert set_faults(central, pki, **faults) == {"drop_acks": 0.0, "duplicate_acks": False,
                                                  "delay_acks_s": 0.0, **faults}
    watch = mqtt_probe("ack-watch", pki.service("central-observer"))
    watch.connect(broker.port)
    watch.subscribe(ack_topic(TENANT, SITE, DEVICE))
    store = Store(config.db_path)
    ids = produce(store, BOX, sessions=5, per_session=4)
    written = outbox_payloads(config.db_path)
    with running_agent(config) as service:
        wait_drained(store, 60)
        assert service.agent.state.acked == len(ids), "an ack was counted twice"
    store.close()
    if faults.get("duplicate_acks"):
        named: Counter[str] = Counter()

        def repeated() -> bool:
            while not watch.messages.empty():
                named.update(json.loads(watch.messages.get().payload)["acked"])
            return all(named[i] >= 2 for i in ids)

        wait_until(repeated, 10, "every ack to arrive twice")
    else:
        assert stats(central.receiver.store)["duplicates"] > 0, (
            "no message was resent, so dedupe was not exercised")
    finish(config.db_path, central, written)
