"""TLS material, central's Mosquitto broker (mutual TLS, ACL, CRL, persistence) and the
fault-injecting proxy the sync tests put between a box and central."""

from __future__ import annotations

import shutil
import socket
import ssl
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sync_fixtures import SITE, TENANT, Pki, ProbeError, ProbeFactory, ProxyFactory

from central.broker import BrokerError, Mosquitto, free_port
from central.pki import CertificateAuthority, Credential, PkiError, read_certificate
from shared.contract import ack_topic, device_topic, down_topic, message_topic, status_topic

integration = pytest.mark.integration


def msg(device: str, kind: str = "session.state") -> str:
    return message_topic(TENANT, SITE, device, kind)


# -- TLS material ---------------------------------------------------------------------------

def test_issued_certificates_carry_names_usages_and_private_keys(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", "Central CA")
    server = ca.issue_server("broker", tmp_path / "c", ["mqtt.example.com", "10.0.0.5"])
    client = ca.issue_client("dev-7", tmp_path / "c")

    for cred in (server, client):
        cred.check()
        assert stat.S_IMODE(cred.key.stat().st_mode) == 0o600
        assert ca.issued(read_certificate(cred.cert))
    assert stat.S_IMODE(ca.key.stat().st_mode) == 0o600
    cert = read_certificate(server.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "mqtt.example.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1", "10.0.0.5"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert client.common_name() == "dev-7"
    eku = read_certificate(client.cert).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert CertificateAuthority.load(tmp_path / "ca").name == "Central CA"


def test_revocation_is_listed_once_and_only_for_own_certificates(tmp_path: Path,
                                                                  pki: Pki) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", "Central CA")
    gone = ca.issue_client("dev-9", tmp_path / "c")
    kept = ca.issue_client("dev-8", tmp_path / "c")
    assert ca.revoked_serials() == set()

    assert ca.revoke(gone.cert) == ca.crl
    ca.revoke(gone.cert)

    assert ca.is_revoked(gone.cert) and not ca.is_revoked(kept.cert)
    crl = x509.load_pem_x509_crl(ca.crl.read_bytes())
    assert [e.serial_number for e in crl] == [read_certificate(gone.cert).serial_number]
    with pytest.raises(PkiError, match="was not issued by the certificate authority"):
        ca.revoke(pki.wrong_client.cert)


def test_unusable_tls_material_is_a_clear_error(tmp_path: Path, pki: Pki) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", "Central CA")
    with pytest.raises(PkiError, match="already holds a certificate authority"):
        CertificateAuthority.create(tmp_path / "ca", "Again")
    with pytest.raises(PkiError, match="cannot name a certificate"):
        ca.issue_client("../etc/passwd", tmp_path)
    with pytest.raises(PkiError, match=r"missing\.pem: the certificate cannot be read"):
        read_certificate(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(PkiError, match=r"junk\.pem does not hold a PEM certificate"):
        read_certificate(tmp_path / "junk.pem")
    with pytest.raises(PkiError, match="is not the private key of the certificate"):
        Credential(pki.central.cert, pki.device("dev-1").key).check()
    shutil.copy(pki.wrong_ca.key, ca.key)
    with pytest.raises(PkiError, match="is not the private key"):
        CertificateAuthority.load(tmp_path / "ca")
    with pytest.raises(PkiError, match="is not the private key of the CA certificate"):
        ca.issue_client("dev-1", tmp_path)


# -- broker: identity, ACL, TLS refusals ----------------------------------------------------

@integration
def test_device_publishes_only_to_its_own_topics(broker: Mosquitto, pki: Pki,
                                                 mqtt_probe: ProbeFactory) -> None:
    dev1 = mqtt_probe("box-1", pki.device("dev-1"))
    dev1.connect(broker.port)

    own = dev1.publish(msg("dev-1"), b"{}")
    status = dev1.publish(status_topic(TENANT, SITE, "dev-1"), b"{}", retain=True)
    other = dev1.publish(msg("dev-2"), b"{}")
    fake_ack = dev1.publish(ack_topic(TENANT, SITE, "dev-1"), b"{}")

    assert not own.is_failure and not status.is_failure
    assert other.is_failure and other.value == 0x87, other
    assert fake_ack.is_failure and fake_ack.value == 0x87, fake_ack
    assert broker.log_count("u'dev-1'") == 1, "the username must come from the certificate CN"


@integration
def test_central_receives_device_messages_and_devices_read_only_their_acks(
        broker: Mosquitto, pki: Pki, mqtt_probe: ProbeFactory) -> None:
    central = mqtt_probe("central", pki.central)
    central.connect(broker.port)
    assert not any(r.is_failure for r in central.subscribe("kiosk/v1/+/+/+/msg/#"))
    dev1, dev2 = mqtt_probe("box-1", pki.device("dev-1")), mqtt_probe("box-2", pki.device("dev-2"))
    dev1.connect(broker.port)
    dev2.connect(broker.port)
    dev1.subscribe(ack_topic(TENANT, SITE, "dev-1"))
    dev1.subscribe(ack_topic(TENANT, SITE, "dev-2"))  # granted, but nothing may arrive
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = [("message_id", "dev-1:1"), ("kind", "usage")]
    props.ContentType = "application/json"

    assert not dev1.publish(msg("dev-1", "usage"), b'{"n":1}', properties=props).is_failure
    got = central.next_message()
    assert (got.topic, got.payload, got.qos) == (msg("dev-1", "usage"), b'{"n":1}', 1)
    received: Any = got.properties
    assert ("message_id", "dev-1:1") in received.UserProperty
    assert received.ContentType == "application/json"

    for device in ("dev-2", "dev-1"):
        assert not central.publish(ack_topic(TENANT, SITE, device), device.encode()).is_failure
    assert dev2.messages.empty(), "dev-2 never subscribed; nothing is pushed to it"
    mine = dev1.next_message()
    assert mine.topic == ack_topic(TENANT, SITE, "dev-1")
    with pytest.raises(ProbeError, match="no message"):
        dev1.next_message(0.5)


@integration
@pytest.mark.parametrize("who", ["revoked", "wrong-ca", "no-certificate"])
def test_broker_refuses_clients_without_a_valid_certificate(
        who: str, broker: Mosquitto, pki: Pki, mqtt_probe: ProbeFactory) -> None:
    cred = {"revoked": pki.revoked, "wrong-ca": pki.wrong_client, "no-certificate": None}[who]
    probe = mqtt_probe(f"probe-{who}", cred)
    failures = broker.log_count("SSL routines")

    with pytest.raises(ProbeError, match="disconnected before CONNACK"):
        probe.connect(broker.port)

    assert broker.wait_for_log("SSL routines", after=failures), broker.log_tail()
    assert broker.log_count("New client connected") == 0, broker.log_tail()


@integration
def test_the_crl_is_what_refuses_a_revoked_device(tmp_path: Path, pki: Pki,
                                                 mqtt_probe: ProbeFactory) -> None:
    with Mosquitto(tmp_path / "no-crl", free_port(), pki.ca.cert, pki.broker) as lax:
        probe = mqtt_probe("revoked-box", pki.revoked)
        probe.connect(lax.port)
        assert lax.log_count("u'dev-revoked'") == 1


@integration
def test_device_refuses_a_broker_with_a_foreign_certificate(
        tmp_path: Path, broker: Mosquitto, pki: Pki, mqtt_probe: ProbeFactory) -> None:
    trusting_wrong_ca = mqtt_probe("misconfigured", pki.device("dev-1"), ca=pki.wrong_ca.cert)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        trusting_wrong_ca.connect(broker.port)
    assert broker.wait_for_log("alert unknown ca"), broker.log_tail()

    impostor = Mosquitto(tmp_path / "impostor", free_port(), pki.wrong_ca.cert,
                         pki.wrong_server)
    with impostor, pytest.raises(ssl.SSLCertVerificationError,
                                 match="certificate verify failed"):
        mqtt_probe("box-1", pki.device("dev-1")).connect(impostor.port)


# -- broker: persistence --------------------------------------------------------------------

def roster_topic(i: int) -> str:
    return down_topic(TENANT, SITE, "dev-1", "roster", f"r{i}")


def _queue_for_absent_box(broker: Mosquitto, pki: Pki, mqtt_probe: ProbeFactory) -> list[bytes]:
    box = mqtt_probe("box-1", pki.device("dev-1"))
    # clean_start=False from the first connection: Mosquitto 2.0.11 does not save a session
    # that began with clean_start=True, whatever its expiry interval.
    box.connect(broker.port, clean_start=False, session_expiry_s=3600)
    box.subscribe(f"{device_topic(TENANT, SITE, 'dev-1')}/down/#")
    box.close()
    central = mqtt_probe("central", pki.central)
    central.connect(broker.port)
    payloads = [f"roster {i}".encode() for i in range(3)]
    for i, payload in enumerate(payloads):
        assert not central.publish(roster_topic(i), payload).is_failure
    central.close()
    return payloads


@integration
def test_persistent_session_survives_a_broker_restart(broker: Mosquitto, pki: Pki,
                                                      mqtt_probe: ProbeFactory) -> None:
    payloads = _queue_for_absent_box(broker, pki, mqtt_probe)
    pid = broker.pid

    broker.restart()

    assert broker.running and broker.pid != pid
    back = mqtt_probe("box-1", pki.device("dev-1"))
    assert back.connect(broker.port, clean_start=False, session_expiry_s=3600) is True
    got = [back.next_message() for _ in payloads]
    assert [m.payload for m in got] == payloads
    assert [m.topic for m in got] == [roster_topic(i) for i in range(3)]
    assert all(m.qos == 1 for m in got)


@integration
def test_a_killed_broker_loses_messages_it_had_acked(broker: Mosquitto, pki: Pki,
                                                     mqtt_probe: ProbeFactory) -> None:
    _queue_for_absent_box(broker, pki, mqtt_probe)

    broker.kill()
    assert not broker.running
    broker.start()

    back = mqtt_probe("box-1", pki.device("dev-1"))
    assert back.connect(broker.port, clean_start=False, session_expiry_s=3600) is False
    with pytest.raises(ProbeError, match="no message"):
        back.next_message(0.5)


# -- broker: start-up failures --------------------------------------------------------------

@integration
def test_broker_start_failures_name_the_cause(tmp_path: Path, pki: Pki,
                                              broker: Mosquitto) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        clash = Mosquitto(tmp_path / "clash", port, pki.ca.cert, pki.broker)
        with pytest.raises(BrokerError, match=r"exited with status \d+(.|\n)*Address already"):
            clash.start()
    assert not clash.running

    wrong_cert = Mosquitto(tmp_path / "wrong", free_port(), pki.ca.cert, pki.wrong_server)
    with pytest.raises(BrokerError, match="certificate its own CA does not verify"):
        wrong_cert.start()
    assert not wrong_cert.running

    missing = Credential(tmp_path / "nope.pem", pki.broker.key)
    with pytest.raises(BrokerError, match=r"nope\.pem: the broker cannot read this file"):
        Mosquitto(tmp_path / "missing", free_port(), pki.ca.cert, missing).start()
    with pytest.raises(BrokerError, match="cannot run /nonexistent/mosquitto"):
        Mosquitto(tmp_path / "x", free_port(), pki.ca.cert, pki.broker,
                  executable="/nonexistent/mosquitto").start()
    with pytest.raises(BrokerError, match="already running"):
        broker.start()


# -- the fault-injecting proxy --------------------------------------------------------------

@integration
def test_blackhole_is_noticed_within_two_keepalives(broker: Mosquitto, pki: Pki,
                                                    mqtt_probe: ProbeFactory,
                                                    proxy_to: ProxyFactory) -> None:
    proxy = proxy_to(broker.port)
    box = mqtt_probe("box-1", pki.device("dev-1"), keepalive=5)
    box.timeout_s = 1.5
    box.connect(proxy.port)
    start = time.monotonic()

    proxy.blackhole()
    with pytest.raises(ProbeError, match="no PUBACK"):
        box.publish(msg("dev-1"), b"lost")
    gone = box.wait_disconnect(2 * 5 + 2)
    elapsed = time.monotonic() - start

    assert gone.reason_code.value == 0x8D, gone  # "Keep alive timeout", noticed by the box
    assert 4.0 <= elapsed <= 2 * 5 + 1.5, elapsed
    assert proxy.stats().bytes_dropped > 0
    proxy.pass_through()
    again = mqtt_probe("box-1b", pki.device("dev-1"))
    again.connect(proxy.port)
    assert not again.publish(msg("dev-1"), b"after").is_failure


@integration
def test_reset_disconnects_at_once_and_refuses_new_connections(
        broker: Mosquitto, pki: Pki, mqtt_probe: ProbeFactory, proxy_to: ProxyFactory) -> None:
    central = mqtt_probe("central", pki.central)
    central.connect(broker.port)
    central.subscribe("kiosk/v1/+/+/+/status")
    proxy = proxy_to(broker.port)
    box = mqtt_probe("box-1", pki.device("dev-1"))
    box.client.will_set(status_topic(TENANT, SITE, "dev-1"), b"offline", qos=1)
    box.connect(proxy.port)
    start = time.monotonic()

    proxy.reset()

    gone = box.wait_disconnect(2)
    assert time.monotonic() - start < 1.0
    assert gone.reason_code.value != 0x8D and not gone.from_broker
    assert central.next_message(2).payload == b"offline", "the broker saw the RST too"
    assert proxy.stats().resets >= 1
    with pytest.raises((OSError, ProbeError)):
        mqtt_probe("box-1b", pki.device("dev-1")).connect(proxy.port)
    proxy.pass_through()
    mqtt_probe("box-1c", pki.device("dev-1")).connect(proxy.port)


@integration
def test_throttle_limits_bytes_per_second(broker: Mosquitto, pki: Pki,
                                          mqtt_probe: ProbeFactory,
                                          proxy_to: ProxyFactory) -> None:
    proxy = proxy_to(broker.port)
    box = mqtt_probe("box-1", pki.device("dev-1"))
    box.timeout_s = 10
    box.connect(proxy.port)
    payload = b"x" * 40_000
    start = time.monotonic()
    assert not box.publish(msg("dev-1", "media"), payload).is_failure
    fast = time.monotonic() - start
    before = proxy.stats().bytes_up

    rate = 20_000
    proxy.throttle(rate)
    start = time.monotonic()
    assert not box.publish(msg("dev-1", "media"), payload).is_failure
    slow = time.monotonic() - start

    sent = proxy.stats().bytes_up - before
    assert sent >= len(payload)
    assert 0.8 * sent / rate <= slow <= 3 * sent / rate, (slow, sent)
    assert fast < slow / 4, (fast, slow)


def test_delay_adds_latency_each_way(proxy_to: ProxyFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        proxy = proxy_to(server.getsockname()[1])
        proxy.delay(0.2)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                start = time.monotonic()
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"
                peer.sendall(b"pong")
                assert client.recv(4) == b"pong"
                rtt = time.monotonic() - start
    assert 0.4 <= rtt < 1.0, rtt
    assert proxy.stats().bytes_up == 4 and proxy.stats().bytes_down == 4
