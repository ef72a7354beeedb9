"""The sync agent over HTTPS against the reference receiver: messages and recordings.

For sites where MQTT is blocked (``[sync] transport = "https"``) every message is a
``POST`` with its id as the Idempotency-Key, central's answer is the ack, and the same
delivery rules hold. Recordings always travel over HTTPS, in checksummed chunks that
resume where central's copy ends; the ``media`` message follows the complete file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_fixtures import BOX, Recording, box_media, media_box, record_session
from sync_fixtures import Pki, ProxyFactory
from sync_harness import (
    Central,
    assert_exactly_once_in_order,
    box_config,
    box_env,
    link_state,
    outbox_rows,
    produce,
    running_agent,
    start_https,
    stop_https,
    wait_until,
)

from central.errors import NotFoundError
from device.config import KioskConfig
from device.config_loader import load_config
from device.storage.database import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path: Path, pki: Pki, request: pytest.FixtureRequest) -> Iterator[Central]:
    """Central over HTTPS; with the parameter "mqtt" (indirect), also on a broker."""
    broker_port = None
    if getattr(request, "param", "https") == "mqtt":
        broker_port = request.getfixturevalue("broker").port
    c = Central(tmp_path / "central", pki, broker_port)
    yield c
    c.close()


def test_a_backlog_reaches_central_once_and_in_order_over_https(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", https_url=central.url,
                        key_file=central.key_file, transport="https", window=8)
    store = Store(config.db_path)
    ids = produce(store, BOX, sessions=4, per_session=6)
    store.close()
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the outbox to drain over HTTPS")
    assert_exactly_once_in_order(config.db_path, central, "dev-1")
    got = central.messages("dev-1")
    assert {m["transport"] for m in got} == {"https"}
    assert sorted(m["message_id"] for m in got) == sorted(ids)
    assert all(m["copies"] == 1 for m in got), "a message was sent twice on a healthy link"
    state = link_state(config.db_path, "https")
    assert state is not None and state["acked"] == len(ids) and state["reconnects"] == 1


def test_the_box_backs_off_while_central_is_down_and_catches_up_when_it_is_back(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", https_url=central.url,
                        key_file=central.key_file, transport="https")
    store = Store(config.db_path)
    first = produce(store, BOX, sessions=2, per_session=4, prefix="a")
    with running_agent(config) as service:
        wait_until(service.agent.drained, 20, "the first backlog to drain")
        stop_https(central)
        down_at = time.monotonic()
        # Written while central is down; session b spans the outage.
        later = produce(store, BOX, sessions=3, per_session=4, prefix="b")

        def offline() -> bool:
            state = link_state(config.db_path, "https")
            return state is not None and state["state"] == "offline"

        wait_until(offline, 10, "the box to notice central is gone")
        state = link_state(config.db_path, "https")
        assert state is not None and "cannot reach" in (state["detail"] or ""), state
        time.sleep(2.5)
        failures = service.agent.backoff.failures
        outage = time.monotonic() - down_at
        # Backoff 0.2 s doubling up to 2 s: a handful of tries, not a busy loop.
        assert 2 <= failures <= 15, f"{failures} connection attempts in {outage:.1f} s"
        assert not any(m["message_id"] in later for m in central.messages("dev-1"))
        start_https(central, pki)
        wait_until(service.agent.drained, 20, "the backlog written during the outage")
        state = link_state(config.db_path, "https")
        assert state is not None and state["state"] == "online" and state["reconnects"] >= 2
    store.close()
    assert_exactly_once_in_order(config.db_path, central, "dev-1")
    stored = {m["message_id"] for m in central.messages("dev-1")}
    assert stored == set(first) | set(later)


@pytest.mark.parametrize("wrong", ["client-certificate", "server-ca"])
def test_https_with_a_certificate_the_other_side_does_not_trust_is_refused(
        tmp_path: Path, pki: Pki, central: Central, wrong: str) -> None:
    env = box_env(tmp_path / "box", pki, "dev-1", https_url=central.url,
                  key_file=central.key_file, transport="https")
    if wrong == "client-certificate":  # CN dev-1, but issued by an unrelated CA
        env.update(KIOSK_SYNC_CERT_FILE=str(pki.wrong_client.cert),
                   KIOSK_SYNC_KEY_FILE=str(pki.wrong_client.key))
    else:  # the box pins a CA that did not issue central's certificate
        env.update(KIOSK_SYNC_CA_FILE=str(pki.wrong_ca.cert))
    config = load_config(None, env)
    store = Store(config.db_path)
    produce(store, BOX, sessions=1, per_session=3)
    store.close()
    with running_agent(config) as service:
        wait_until(lambda: service.agent.backoff.failures >= 2, 20,
                   "two refused connection attempts")
        state = link_state(config.db_path, "https")
        assert not service.agent.link.connected
    assert state is not None and state["state"] == "offline", state
    assert state["reconnects"] == 0 and state["sent"] == 0, state
    detail = state["detail"] or ""
    assert detail.startswith(f"cannot reach {central.url}") or central.url in detail, detail
    if wrong == "server-ca":
        assert "TLS" in detail or "certificate" in detail.lower(), detail
    assert central.messages("dev-1") == []
    assert all(r["status"] == "pending" for r in outbox_rows(config.db_path))


# -- recordings -----------------------------------------------------------------------------


def central_offset(central: Central, media_id: str) -> int:
    try:
        return central.receiver.media.state(media_id).offset
    except NotFoundError:
        return 0


def assert_central_holds(central: Central, config: KioskConfig, rec: Recording) -> None:
    path, content_type = central.receiver.media.file(rec.media_id)
    held = path.read_bytes()
    assert hashlib.sha256(held).hexdigest() == rec.sha256 and held == rec.data
    assert content_type == "video/mp4"
    media = [m for m in central.messages("dev-1") if m["kind"] == "media"]
    assert [m["message_id"] for m in media] == [rec.message_id]
    assert media[0]["envelope"]["body"]["sha256"] == rec.sha256
    [message] = outbox_rows(config.db_path, "media")
    assert message["status"] == "acked" and message["last_error"] is None
    assert box_media(config, rec.media_id)["acked"] is not None, "media.acked not set"


@pytest.mark.parametrize("central", ["https", "mqtt"], indirect=True)
def test_a_recording_reaches_central_intact_before_its_media_message(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    # Over MQTT too, the file itself goes over HTTPS; only the media message uses MQTT.
    mqtt = central.receiver.mqtt_settings
    config = media_box(tmp_path, pki, central, central.url, chunk_bytes=512 * 1024,
                       broker_port=mqtt.port if mqtt else None,
                       transport="https" if mqtt is None else "mqtt")
    state, rec = record_session(config, 3 * 1024 * 1024 + 12_345)
    assert box_media(config, rec.media_id)["sha256"] == rec.sha256
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the recording and its message")
        uploader = service.agent.uploader
        assert uploader is not None and uploader.bytes_sent == len(rec.data)
    assert_central_holds(central, config, rec)
    # Within the session, the state change goes first and the media message after it.
    got = central.messages("dev-1")
    assert [m["message_id"] for m in got] == [state, rec.message_id]
    assert [m["session_seq"] for m in got] == [1, 2]
    assert {m["transport"] for m in got} == {"https" if mqtt is None else "mqtt"}


def test_an_upload_cut_mid_file_resumes_from_centrals_offset(
        tmp_path: Path, pki: Pki, central: Central, proxy_to: ProxyFactory) -> None:
    proxy = proxy_to(central.port)
    chunk = 128 * 1024
    config = media_box(tmp_path, pki, central, f"https://127.0.0.1:{proxy.port}",
                       chunk_bytes=chunk)
    size = 3 * 1024 * 1024
    _, rec = record_session(config, size)
    proxy.throttle(1_000_000)  # ~3 s for the whole file: time to cut it in the middle
    with running_agent(config) as service:
        wait_until(lambda: central_offset(central, rec.media_id) >= size * 0.4, 20,
                   "central to hold 40 % of the file")
        proxy.reset()
        cut_at = central_offset(central, rec.media_id)
        assert cut_at < size, "the upload finished before the cut"
        time.sleep(0.3)
        proxy.pass_through()
        wait_until(service.agent.drained, 30, "the upload to resume and finish")
    assert_central_holds(central, config, rec)
    stats = proxy.stats()
    assert stats.resets >= 1 and stats.connections >= 2, stats
    restarts = central.receiver.store.one("SELECT restarts FROM media WHERE id = ?",
                                          (rec.media_id,))
    assert restarts == {"restarts": 0}
    # Resumed, not restarted: what crossed the wire is the file once, plus at most the
    # chunks in flight at the cut, plus TLS and HTTP overhead. A restart from byte 0 would
    # have sent at least size + cut_at (>= 1.4 x size).
    assert stats.bytes_up < 2 * size, (stats.bytes_up, cut_at, size)
    assert stats.bytes_up < size + 3 * chunk + 256 * 1024, (stats.bytes_up, cut_at)


def test_a_metered_link_sends_results_and_keeps_recordings_queued(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = media_box(tmp_path, pki, central, central.url, metered=True)
    state, rec = record_session(config, 256 * 1024)
    with running_agent(config):
        wait_until(lambda: outbox_rows(config.db_path, "session.state")[0]["status"] == "acked",
                   20, "the session's state change")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # a few turns of the agent's loop
            [media] = outbox_rows(config.db_path, "media")
            assert media["status"] == "pending" and media["attempts"] == 0, media
            time.sleep(0.1)
    assert [m["message_id"] for m in central.messages("dev-1")] == [state]
    assert central.receiver.store.one("SELECT count(*) AS n FROM media") == {"n": 0}, \
        "a metered box declared an upload"
    assert box_media(config, rec.media_id)["acked"] is None


def test_the_bandwidth_cap_paces_an_upload(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    kbps = 1600  # 200 kB/s; the token bucket starts with one second's worth
    config = media_box(tmp_path, pki, central, central.url, bandwidth_kbps=kbps,
                       chunk_bytes=64 * 1024)
    size = 600_000
    _, rec = record_session(config, size)
    started = time.monotonic()
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the capped upload")
        took = time.monotonic() - started
    assert_central_holds(central, config, rec)
    rate = kbps * 1000 / 8
    expected = (size - rate) / rate  # 2.0 s
    assert took >= 0.8 * expected, f"{size} bytes at {kbps} kbit/s took only {took:.2f} s"
