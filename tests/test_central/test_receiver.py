"""The reference central receiver: HTTPS ingest, ordering, media, documents, MQTT, CLI."""

from __future__ import annotations

import hashlib
import json
import queue
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sync_fixtures import SITE, TENANT, Pki, enrol_all
from sync_harness import client_for, mtls_server

from central import (
    DocumentRequest,
    MqttConnectError,
    MqttSettings,
    Receiver,
    ServerThread,
    TlsSettings,
)
from central.acks import AckPublisher
from central.broker import Mosquitto
from central.faults import Faults, FaultSwitch
from central.messages import ingest, list_messages
from conftest import free_port
from kiosk.cli import main
from shared.contract import (
    Ack,
    Envelope,
    SignedDocument,
    ack_topic,
    message_topic,
    status_topic,
)
from shared.signing import SignatureError, load_public_key, verify

OCTETS = "application/offset+octet-stream"


def envelope(seq: int, *, device: str = "dev-1", session: str | None = "s-1",
             session_seq: int | None = None, kind: str = "session.state",
             **body: Any) -> dict[str, Any]:
    return {
        "message_id": f"{device}:{seq:012d}", "schema_version": "kiosk/v1", "kind": kind,
        "device_id": device, "tenant": TENANT, "site": SITE, "seq": seq,
        "session_id": session, "drill": False, "session_seq": session_seq,
        "recorded_at": {"utc": "1970-01-01T00:00:05Z", "mono": 5.0 + seq, "boot": "b-1",
                        "synced": False},
        "body": body or {"state": "active"},
    }


def post(client: httpx.Client, env: dict[str, Any], key: str | None = None) -> httpx.Response:
    return client.post("/v1/messages", json=env,
                       headers={"Idempotency-Key": key or env["message_id"]})


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """Central's database: the default SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def receiver(tmp_path: Path, database: str | None) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "central", fault_seed=7, database=database)
    enrol_all(r)
    yield r
    r.close()


@pytest.fixture
def admin_token(receiver: Receiver) -> str:
    return receiver.create_admin_token("tests")


@pytest.fixture
def server(receiver: Receiver, pki: Pki) -> Iterator[ServerThread]:
    with mtls_server(receiver, pki) as running:
        yield running


@pytest.fixture
def central(server: ServerThread, pki: Pki, admin_token: str) -> Iterator[httpx.Client]:
    """Box dev-1's connection, also holding an admin token."""
    with client_for(server, pki, "dev-1", admin_token) as client:
        yield client


def stored(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/v1/admin/messages", params=params).json()[
        "messages"]
    return found


# -- messages over HTTPS ----------------------------------------------------------------

@pytest.mark.integration
def test_a_message_is_stored_then_acked(central: httpx.Client) -> None:
    env = envelope(1, session_seq=1)
    r = post(central, env)
    assert r.status_code == 200, r.text
    ack = Ack.model_validate(r.json())
    assert ack.acked == [env["message_id"]] and ack.rejected == []
    assert ack.device_id == "dev-1" and "Idempotent-Replay" not in r.headers
    [row] = stored(central)
    assert row["envelope"] == env and row["copies"] == 1 and row["delivered_order"] == 1


@pytest.mark.integration
def test_a_repeated_message_is_stored_once_and_acked_again(central: httpx.Client) -> None:
    env = envelope(1, session_seq=1)
    first, second = post(central, env), post(central, env)
    assert first.status_code == second.status_code == 200
    assert second.json()["acked"] == [env["message_id"]]
    assert second.headers["Idempotent-Replay"] == "true"
    [row] = stored(central)
    assert row["copies"] == 2
    stats = central.get("/v1/admin/stats").json()
    assert (stats["stored"], stats["copies"], stats["duplicates"]) == (1, 2, 1)
    assert stats["devices"]["dev-1"]["messages"] == 1


@pytest.mark.integration
def test_a_session_is_delivered_in_session_seq_order(central: httpx.Client) -> None:
    three, one, two = (envelope(n, session_seq=n) for n in (3, 1, 2))
    assert post(central, three).status_code == 200  # held back, but stored and acked
    assert [m["delivered_order"] for m in stored(central)] == [None]
    assert post(central, one).status_code == 200
    assert [(m["session_seq"], m["delivered_order"]) for m in stored(central)] == [
        (1, 1), (3, None)]
    post(central, envelope(9, session=None))  # no session: delivered on arrival
    assert post(central, two).status_code == 200
    order = [(m["session_id"], m["session_seq"], m["delivered_order"]) for m in stored(central)]
    assert order == [("s-1", 1, 1), (None, None, 2), ("s-1", 2, 3), ("s-1", 3, 4)]
    assert [m["session_seq"] for m in stored(central, session_id="s-1")] == [1, 2, 3]
    stats = central.get("/v1/admin/stats").json()
    assert (stats["delivered"], stats["held_back"]) == (4, 0)


@pytest.mark.integration
def test_an_invalid_envelope_is_rejected_with_the_reason(central: httpx.Client) -> None:
    env = envelope(1)
    del env["tenant"]
    env["kind"] = "gossip"
    r = post(central, env)
    assert r.status_code == 422
    ack = Ack.model_validate(r.json())
    assert ack.acked == [] and [x.message_id for x in ack.rejected] == [env["message_id"]]
    assert "kind" in ack.rejected[0].reason and "tenant" in ack.rejected[0].reason
    r = central.post("/v1/messages", content=b"{not json",
                     headers={"Idempotency-Key": "dev-1:x"})
    assert r.status_code == 422
    assert "not JSON" in r.json()["rejected"][0]["reason"]
    assert stored(central) == []


@pytest.mark.integration
def test_the_idempotency_key_must_name_the_message(central: httpx.Client) -> None:
    env = envelope(1)
    r = post(central, env, key="dev-1:000000000002")
    assert r.status_code == 400
    assert "does not match the body's message_id" in r.json()["detail"]
    r = central.post("/v1/messages", json=env)
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]
    assert stored(central) == []


@pytest.mark.integration
def test_a_reused_message_id_with_other_content_is_a_conflict(central: httpx.Client) -> None:
    env = envelope(1, session_seq=1)
    post(central, env)
    r = post(central, {**env, "body": {"state": "terminated"}})
    assert r.status_code == 409 and "different content" in r.json()["detail"]
    r = post(central, envelope(2, session_seq=1))
    assert r.status_code == 409 and "session_seq 1 of session s-1 is already taken" in \
        r.json()["detail"]
    [row] = stored(central)
    assert row["envelope"]["body"] == {"state": "active"} and row["copies"] == 1


@pytest.mark.integration
def test_an_oversized_message_is_refused(receiver: Receiver, central: httpx.Client) -> None:
    env = envelope(1, text="x" * receiver.max_message_bytes)
    r = post(central, env)
    assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]


def test_messages_survive_a_restart(tmp_path: Path, database: str | None) -> None:
    first = Receiver(tmp_path / "c", database=database)
    with first.store.transaction() as conn:
        ingest(conn, Envelope.model_validate(envelope(2, session_seq=2)), "https")
    first.close()
    again = Receiver(tmp_path / "c", database=database)
    try:
        [row] = list_messages(again.store)
        assert row["message_id"] == "dev-1:000000000002" and row["delivered_order"] is None
        with again.store.transaction() as conn:
            result = ingest(conn, Envelope.model_validate(envelope(1, session_seq=1)), "mqtt")
        assert result.delivered == ["dev-1:000000000001", "dev-1:000000000002"]
    finally:
        again.close()


# -- media uploads ----------------------------------------------------------------------

def declare(client: httpx.Client, media_id: str, data: bytes,
            sha: str | None = None) -> httpx.Response:
    return client.put(f"/v1/media/{media_id}", json={
        "session_id": "s-1", "bytes": len(data), "sha256": sha or hashlib.sha256(data).hexdigest(),
        "content_type": "video/mp4"})


def chunk(client: httpx.Client, media_id: str, offset: int, data: bytes,
          sha: str | None = None) -> httpx.Response:
    return client.patch(f"/v1/media/{media_id}", content=data, headers={
        "Upload-Offset": str(offset), "Content-Type": OCTETS,
        "Chunk-Sha256": sha or hashlib.sha256(data).hexdigest()})


DATA = bytes(range(256)) * 40  # 10 240 bytes


@pytest.mark.integration
def test_media_uploads_in_chunks_and_resumes_from_the_offset(central: httpx.Client) -> None:
    assert declare(central, "m1", DATA).json() == {"offset": 0, "bytes": len(DATA),
                                                   "complete": False}
    assert chunk(central, "m1", 0, DATA[:4000]).json()["offset"] == 4000
    # the link drops; the box asks where central stands and goes on from there
    offset = central.get("/v1/media/m1").json()["offset"]
    assert offset == 4000
    assert declare(central, "m1", DATA).json()["offset"] == 4000  # declaring is idempotent
    assert chunk(central, "m1", offset, DATA[offset:8000]).json()["complete"] is False
    done = chunk(central, "m1", 8000, DATA[8000:]).json()
    assert done == {"offset": len(DATA), "bytes": len(DATA), "complete": True}
    file = central.get("/v1/admin/media/m1")
    assert file.content == DATA and file.headers["content-type"] == "video/mp4"
    assert central.get("/v1/admin/stats").json()["media_complete"] == 1
    r = declare(central, "m1", DATA + b"!")
    assert r.status_code == 409 and "already declared" in r.json()["detail"]


@pytest.mark.integration
def test_a_chunk_with_a_wrong_checksum_is_discarded(central: httpx.Client) -> None:
    declare(central, "m2", DATA)
    chunk(central, "m2", 0, DATA[:1000])
    r = chunk(central, "m2", 1000, DATA[1000:2000], sha=hashlib.sha256(b"other").hexdigest())
    assert r.status_code == 422 and "chunk discarded" in r.json()["detail"]
    assert central.get("/v1/media/m2").json()["offset"] == 1000
    assert chunk(central, "m2", 1000, DATA[1000:]).json()["complete"] is True
    assert central.get("/v1/admin/media/m2").content == DATA


@pytest.mark.integration
def test_a_wrong_whole_file_checksum_restarts_the_upload(central: httpx.Client) -> None:
    declare(central, "m3", DATA, sha=hashlib.sha256(b"something else").hexdigest())
    chunk(central, "m3", 0, DATA[:5000])
    r = chunk(central, "m3", 5000, DATA[5000:])
    assert r.status_code == 422
    assert "restarts at offset 0" in r.json()["detail"] and r.json()["offset"] == 0
    assert central.get("/v1/media/m3").json() == {"offset": 0, "bytes": len(DATA),
                                                  "complete": False}
    r = central.get("/v1/admin/media/m3")
    assert r.status_code == 409 and "not complete" in r.json()["detail"]


@pytest.mark.integration
def test_a_chunk_at_the_wrong_offset_gets_the_current_offset(central: httpx.Client) -> None:
    declare(central, "m4", DATA)
    chunk(central, "m4", 0, DATA[:3000])
    r = chunk(central, "m4", 0, DATA[:3000])  # a repeat after a lost response
    assert r.status_code == 409
    assert r.json()["offset"] == 3000 and "resume from there" in r.json()["detail"]
    r = chunk(central, "m4", 3000, DATA[3000:] + b"extra")
    assert r.status_code == 422 and "past the declared size" in r.json()["detail"]
    assert central.get("/v1/media/m4").json()["offset"] == 3000


@pytest.mark.integration
def test_media_requests_are_checked(central: httpx.Client) -> None:
    r = central.get("/v1/media/nothing")
    assert r.status_code == 404 and "has not been declared" in r.json()["detail"]
    r = declare(central, "..secret", DATA)
    assert r.status_code == 422 and "is not valid" in r.json()["detail"]
    r = central.put("/v1/media/m5", json={"session_id": "s-1", "bytes": -1})
    assert r.status_code == 422 and "media declaration" in r.json()["detail"]
    declare(central, "m5", DATA)
    r = central.patch("/v1/media/m5", content=b"x", headers={"Upload-Offset": "0",
                                                             "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = central.patch("/v1/media/m5", content=b"x", headers={"Content-Type": OCTETS})
    assert r.status_code == 400 and "Upload-Offset" in r.json()["detail"]
    assert declare(central, "empty", b"").json()["complete"] is True


# -- documents --------------------------------------------------------------------------

def publish(client: httpx.Client, **fields: Any) -> httpx.Response:
    fields.setdefault("tenant", TENANT)
    fields.setdefault("body", {"job": "x"})
    return client.post("/v1/admin/documents", json=fields)


def test_keygen_makes_the_key_the_box_pins(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "central"
    assert main(["central", "keygen", "--data-dir", str(data)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("-----BEGIN PUBLIC KEY-----") and "created" in out.err
    pub = tmp_path / "pins" / "central.pem"
    # the old name still works for this release
    assert main(["hr-receiver", "keygen", "--data-dir", str(data), "--public-out",
                 str(pub)]) == 0
    again = capsys.readouterr()
    assert "kept the existing" in again.err and f"written to {pub}" in again.out
    assert pub.read_text() == out.out  # the same key: a box's pin stays valid
    assert (data / "signing-key.pem").stat().st_mode & 0o077 == 0
    (data / "signing-key.pem").write_text("not a key")
    assert main(["central", "keygen", "--data-dir", str(data)]) == 1
    assert "not a usable Ed25519 private key" in capsys.readouterr().err


@pytest.mark.integration
def test_documents_are_signed_with_the_pinned_key(tmp_path: Path, receiver: Receiver,
                                                  central: httpx.Client) -> None:
    pub = tmp_path / "central.pem"
    assert main(["central", "keygen", "--data-dir", str(receiver.data_dir),
                 "--public-out", str(pub)]) == 0
    r = publish(central, kind="job_package", scope="welder", body={"job": {"id": "welder"}})
    assert r.status_code == 200, r.text
    document = SignedDocument.model_validate(r.json())
    verify(document, load_public_key(pub))
    assert document.version == 1 and document.tenant == TENANT and document.device_id is None
    forged = document.model_copy(update={"body": {"job": {"id": "forged"}}})
    with pytest.raises(SignatureError, match="does not match its content"):
        verify(forged, load_public_key(pub))


@pytest.mark.integration
def test_versions_rise_per_scope(central: httpx.Client) -> None:
    def version(**fields: Any) -> int:
        r = publish(central, **fields)
        assert r.status_code == 200, r.text
        return int(r.json()["version"])

    assert [version(kind="job_package", scope="welder") for _ in range(3)] == [1, 2, 3]
    assert version(kind="job_package", scope="painter") == 1
    assert version(kind="config", scope="device", body={"settings": {}}) == 1
    assert version(kind="job_package", scope="welder", version=10) == 10
    assert version(kind="job_package", scope="welder") == 11
    assert version(kind="job_package", scope="welder", version=2) == 2  # a replay, on purpose
    assert version(kind="job_package", scope="welder") == 12


@pytest.mark.integration
def test_documents_are_polled_after_a_cursor(central: httpx.Client) -> None:
    post(central, envelope(1, device="dev-1"))  # central now knows dev-1's tenant and site
    mine = publish(central, kind="roster", scope="r1", device_id="dev-1").json()
    everyone = publish(central, kind="job_package", scope="welder").json()
    publish(central, kind="job_package", scope="welder", tenant="other-co")
    publish(central, kind="roster", scope="r2", device_id="dev-2")
    publish(central, kind="job_package", scope="welder", site="plant-9")
    r = central.get("/v1/devices/dev-1/documents").json()
    assert [d["document_id"] for d in r["documents"]] == [mine["document_id"],
                                                          everyone["document_id"]]
    cursor = r["cursor"]
    assert central.get("/v1/devices/dev-1/documents", params={"after": cursor}).json() == {
        "documents": [], "cursor": cursor}
    later = publish(central, kind="deletion", scope="d1", site=SITE, body={
        "request_id": "q1", "candidate_id": "HR-1"}).json()
    r = central.get("/v1/devices/dev-1/documents", params={"after": cursor}).json()
    assert [d["document_id"] for d in r["documents"]] == [later["document_id"]]
    page = central.get("/v1/devices/dev-1/documents", params={"limit": 1}).json()
    assert len(page["documents"]) == 1 and page["cursor"] < r["cursor"]


@pytest.mark.integration
def test_an_enrolled_box_gets_its_documents_before_it_ever_sends(
        central: httpx.Client, server: ServerThread, pki: Pki) -> None:
    everyone = publish(central, kind="job_package", scope="welder").json()
    publish(central, kind="job_package", scope="welder", tenant="other-co")
    with client_for(server, pki, "dev-3") as box:
        # the query's tenant is not the box's: central goes by the registry
        r = box.get("/v1/devices/dev-3/documents", params={"tenant": "other-co"}).json()
    assert [d["document_id"] for d in r["documents"]] == [everyone["document_id"]]


@pytest.mark.integration
def test_bad_document_requests_are_refused(central: httpx.Client) -> None:
    r = publish(central, kind="config", scope="device", body={"sync": {"metered": True}})
    assert r.status_code == 422 and r.json()["detail"].startswith("config body: settings")
    r = publish(central, kind="deletion", scope="d", body={"candidate_id": "HR-1"})
    assert r.status_code == 422 and "request_id" in r.json()["detail"]
    r = central.post("/v1/admin/documents", json={"kind": "roster", "scope": "r",
                                                  "body": {}})
    assert r.status_code == 422 and "tenant is required" in r.json()["detail"]
    r = publish(central, kind="roster", scope="bad scope")
    assert r.status_code == 422 and "scope" in r.json()["detail"]
    r = publish(central, kind="manifesto", scope="x")
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    assert publish(central, kind="roster", scope="r", document_id="doc-1").status_code == 200
    r = publish(central, kind="roster", scope="r", document_id="doc-1")
    assert r.status_code == 409 and "already published" in r.json()["detail"]


# -- fault switches --------------------------------------------------------------------

@pytest.mark.integration
def test_faults_lose_and_delay_acks_over_https(central: httpx.Client) -> None:
    env = envelope(1, session_seq=1)
    assert central.post("/v1/admin/faults", json={"drop_acks": 1.0}).json()["drop_acks"] == 1
    r = post(central, env)
    assert r.status_code == 503 and "dropped by the fault switch" in r.json()["detail"]
    assert stored(central)[0]["copies"] == 1  # stored all the same
    central.post("/v1/admin/faults", json={"delay_acks_s": 0.4})
    started = time.monotonic()
    r = post(central, env)
    assert r.status_code == 200 and r.headers["Idempotent-Replay"] == "true"
    assert time.monotonic() - started >= 0.4
    assert central.post("/v1/admin/faults", json={}).json() == Faults().model_dump()
    r = central.post("/v1/admin/faults", json={"drop_acks": 2})
    assert r.status_code == 422 and "drop_acks" in r.json()["detail"]


def test_acks_are_batched_split_and_subject_to_faults() -> None:
    sent: list[tuple[str, Ack]] = []
    faults = FaultSwitch(seed=1)
    acks = AckPublisher(lambda topic, payload: sent.append(
        (topic, Ack.model_validate_json(payload))), faults, linger_s=0.05)
    try:
        ids = [f"dev-1:{n:012d}" for n in range(250)]
        acks.add("t/dev-1/ack", "dev-1", ids, [])
        deadline = time.monotonic() + 5
        while len(sent) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [len(a.acked) for _, a in sent] == [100, 100, 50]
        assert [m for _, a in sent for m in a.acked] == ids
        sent.clear()
        faults.set(Faults(duplicate_acks=True, delay_acks_s=0.2))
        started = time.monotonic()
        acks.add("t/dev-2/ack", "dev-2", ["dev-2:1"], [])
        while len(sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [a.acked for _, a in sent] == [["dev-2:1"], ["dev-2:1"]]
        assert time.monotonic() - started >= 0.2
        sent.clear()
        faults.set(Faults(drop_acks=1.0))
        acks.add("t/dev-3/ack", "dev-3", ["dev-3:1"], [])
        time.sleep(0.2)
        assert sent == []
    finally:
        acks.close()


# -- the command line -------------------------------------------------------------------

@pytest.mark.integration
def test_cli_publishes_and_lists(server: ServerThread, central: httpx.Client, tmp_path: Path,
                                 pki: Pki, admin_token: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    post(central, envelope(1, session_seq=1))
    tls = ["--ca", str(pki.ca.cert), "--cert", str(pki.central.cert), "--key",
           str(pki.central.key)]
    assert main(["central", "messages", "--url", server.url, *tls]) == 2
    assert "give the admin token" in capsys.readouterr().err
    assert main(["central", "messages", "--url", server.url, *tls, "--token", "adm_x"]) == 1
    assert "admin token is not valid" in capsys.readouterr().err
    tls += ["--token", admin_token]
    body = tmp_path / "roster.json"
    body.write_text(json.dumps({"format": "kiosk-roster/1", "invites": []}))
    code = main(["central", "publish", "--url", server.url, *tls, "roster", str(body),
                 "--scope", "week-1", "--device", "dev-1"])
    out = capsys.readouterr().out
    assert code == 0 and "published roster week-1 version 1" in out and "for dev-1" in out
    [doc] = central.get("/v1/devices/dev-1/documents").json()["documents"]
    assert doc["tenant"] == TENANT and doc["body"]["format"] == "kiosk-roster/1"
    assert main(["central", "messages", "--url", server.url, *tls, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["message_id"] == "dev-1:000000000001"
    assert main(["central", "messages", "--url", server.url, *tls, "--device", "dev-9"]) == 0
    assert "no messages stored" in capsys.readouterr().out
    assert main(["central", "messages", "--url", server.url, *tls]) == 0
    assert "dev-1:000000000001" in capsys.readouterr().out
    code = main(["central", "publish", "--url", server.url, *tls, "config", str(body),
                 "--scope", "device", "--tenant", TENANT])
    assert code == 1 and "the receiver refused (422): config body" in capsys.readouterr().err


def test_cli_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    missing = tmp_path / "missing.json"
    cases = [
        (["messages", "--url", url], "give the admin token with --token"),
        (["publish", "--url", url, "roster", str(missing), "--scope", "r", "--tenant", "t"],
         "missing.json: cannot read"),
        (["publish", "--url", url, "roster", str(tmp_path), "--scope", "r"],
         "give --tenant"),
        (["serve", "--data-dir", str(tmp_path), "--tls-cert", str(missing)],
         "--tls-cert and --tls-key go together"),
        (["serve", "--data-dir", str(tmp_path), "--client-ca", str(missing)],
         "--client-ca (mutual TLS) needs --tls-cert"),
        (["serve", "--data-dir", str(tmp_path), "--tls-cert", str(missing), "--tls-key",
          str(missing)], "--tls-cert " + str(missing) + ": no such file"),
        (["serve", "--data-dir", str(tmp_path), "--mqtt-ca", str(missing)],
         "need --mqtt-host"),
        (["messages", "--url", url, "--ca", str(missing), "--token", "t"],
         "--ca " + str(missing)),
    ]
    for argv, message in cases:
        assert main(["central", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["central", "keygen", "--data-dir", str(bad / "x")]) == 1
    assert "cannot write the signing key: Not a directory" in capsys.readouterr().err
    assert main(["central", "serve", "--data-dir", str(bad)]) == 1
    assert "cannot use as the data directory" in capsys.readouterr().err
    assert main(["central", "publish", "--url", url, "roster", str(bad), "--scope", "r",
                 "--tenant", "t"]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
    assert main(["central", "messages", "--url", url, "--token", "adm_x"]) == 1
    assert "cannot reach the receiver" in capsys.readouterr().err


@pytest.mark.integration
def test_cli_serve_runs_the_receiver(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "central", "serve",
                             "--data-dir", str(tmp_path / "central"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.1)
        assert health["status"] == "ok" and health["mqtt_connected"] is False
        assert (tmp_path / "central" / "receiver.db").exists()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"serving http://127.0.0.1:{port}" in err.decode()


@pytest.mark.integration
def test_mutual_tls_requires_a_client_certificate(pki: Pki, receiver: Receiver) -> None:
    tls = TlsSettings(pki.https.cert, pki.https.key, client_ca=pki.ca.cert)
    with ServerThread(receiver.app, tls=tls) as server:
        assert server.url.startswith("https://")
        anonymous = ssl.create_default_context(cafile=str(pki.ca.cert))
        with pytest.raises(httpx.TransportError), httpx.Client(verify=anonymous) as c:
            c.get(server.url + "/healthz").raise_for_status()
        cred = pki.device("dev-1")
        box = ssl.create_default_context(cafile=str(pki.ca.cert))
        box.load_cert_chain(str(cred.cert), str(cred.key))
        with httpx.Client(base_url=server.url, verify=box) as c:
            assert post(c, envelope(1, session_seq=1)).json()["acked"] == ["dev-1:000000000001"]


# -- MQTT through the real broker -------------------------------------------------------

def mqtt_settings(pki: Pki, broker: Mosquitto) -> MqttSettings:
    return MqttSettings("127.0.0.1", broker.port, ca=pki.ca.cert, cert=pki.central.cert,
                        key=pki.central.key, keepalive_s=5, reconnect_max_s=2)


class Box:
    """A box's MQTT client for these tests: paho's own network thread (``loop_start``), so
    publishing from the test thread never races it on the TLS socket."""

    def __init__(self, client_id: str, pki: Pki, device_id: str, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        cred = pki.device(device_id)
        self.client.tls_set(ca_certs=str(pki.ca.cert), certfile=str(cred.cert),
                            keyfile=str(cred.key))
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subscribed: queue.Queue[int] = queue.Queue()
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_subscribe = lambda _c, _u, mid, _r, _p: self.subscribed.put(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        assert self.subscribed.get(timeout=5) == mid

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False,
                properties: Properties | None = None) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        info.wait_for_publish(5)
        assert info.is_published(), f"no PUBACK for {topic}"

    def next_message(self, timeout_s: float = 5.0) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout_s:g} s") from None

    def next_ack(self) -> Ack:
        return Ack.model_validate_json(self.next_message().payload)

    def send(self, env: dict[str, Any], kind: str | None = None) -> None:
        """Publish an envelope the way the box does (topic per kind, user properties)."""
        kind = kind or env["kind"]
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("message_id", env["message_id"]),
                              ("schema_version", "kiosk/v1"), ("kind", kind)]
        self.publish(message_topic(TENANT, SITE, env["device_id"], kind), json.dumps(env),
                     properties=props)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def boxes(pki: Pki, broker: Mosquitto) -> Iterator[Callable[[str], Box]]:
    made: list[Box] = []

    def make(client_id: str) -> Box:
        made.append(Box(client_id, pki, "dev-1", broker.port))
        return made[-1]

    yield make
    for box in made:
        box.close()


@pytest.fixture
def mqtt_receiver(pki: Pki, broker: Mosquitto, tmp_path: Path,
                  database: str | None) -> Iterator[Receiver]:
    receiver = Receiver(tmp_path / "central", mqtt_settings(pki, broker), database=database)
    enrol_all(receiver)
    try:
        receiver.start_mqtt(wait_s=10)
        yield receiver
    finally:
        receiver.close()


@pytest.mark.integration
def test_mqtt_ingest_stores_then_acks(mqtt_receiver: Receiver,
                                      boxes: Callable[[str], Box]) -> None:
    receiver = mqtt_receiver
    box = boxes("dev-1")
    box.subscribe(ack_topic(TENANT, SITE, "dev-1"))

    env = envelope(1, session_seq=1)
    box.send(env)
    assert box.next_ack().acked == [env["message_id"]]
    [row] = list_messages(receiver.store)
    assert row["transport"] == "mqtt" and row["delivered_order"] == 1
    box.send(env)  # a resend: stored once, acked again
    assert box.next_ack().acked == [env["message_id"]]
    assert list_messages(receiver.store)[0]["copies"] == 2

    box.send(envelope(2, session_seq=2), kind="session.result")  # topic says otherwise
    ack = box.next_ack()
    assert ack.acked == [] and "does not match its topic" in ack.rejected[0].reason
    box.publish(message_topic(TENANT, SITE, "dev-1", "usage"), b"{\"message_id\": \"dev-1:x\"}")
    ack = box.next_ack()
    assert [r.message_id for r in ack.rejected] == ["dev-1:x"]
    assert "not a valid envelope" in ack.rejected[0].reason
    assert len(list_messages(receiver.store)) == 1

    # many at once: every one is PUBACKed (else the broker stalls) and acked in batches
    ids = set()
    for n in range(10, 70):
        box.send(envelope(n, session=None))
        ids.add(f"dev-1:{n:012d}")
    while ids:
        ids -= set(box.next_ack().acked)
    assert len(list_messages(receiver.store)) == 61

    receiver.faults.set(Faults(duplicate_acks=True))
    box.send(envelope(3, session_seq=2))
    assert [box.next_ack().acked, box.next_ack().acked] == [["dev-1:000000000003"]] * 2
    receiver.faults.set(Faults(drop_acks=1.0))
    box.send(envelope(4, session_seq=3))
    with pytest.raises(AssertionError, match="no message within"):
        box.next_message(0.5)
    assert len(list_messages(receiver.store)) == 63  # stored; only the ack was lost


@pytest.mark.integration
def test_mqtt_documents_reach_known_and_new_boxes(mqtt_receiver: Receiver,
                                                  boxes: Callable[[str], Box]) -> None:
    receiver = mqtt_receiver
    early = receiver.publish_document(DocumentRequest(
        kind="job_package", scope="welder", tenant=TENANT, body={"job": {}}))
    # one connection per box: the broker makes the certificate's CN the client id
    down = box = boxes("dev-1")
    down.subscribe(f"kiosk/v1/{TENANT}/{SITE}/dev-1/down/#")
    box.publish(status_topic(TENANT, SITE, "dev-1"), json.dumps(
        {"device_id": "dev-1", "state": "online", "outbox_depth": 3}), retain=True)
    # enrolled, so the package waits for it retained; first heard of, it is sent again
    for retained in (True, False):
        first = down.next_message()
        assert first.topic == f"kiosk/v1/{TENANT}/{SITE}/dev-1/down/job_package/welder"
        assert SignedDocument.model_validate_json(first.payload) == early
        assert first.retain is retained
    status = receiver.store.all("SELECT status FROM devices WHERE device_id = 'dev-1'")
    assert json.loads(status[0]["status"])["outbox_depth"] == 3

    roster = receiver.publish_document(DocumentRequest(
        kind="roster", scope="week-1", tenant=TENANT, device_id="dev-1", body={}))
    message = down.next_message()
    assert message.topic.endswith("/down/roster/week-1")
    assert SignedDocument.model_validate_json(message.payload) == roster
    down.subscribe(f"kiosk/v1/{TENANT}/{SITE}/dev-1/down/#")  # packages are retained, rosters not
    again = down.next_message()
    assert again.retain is True and again.topic.endswith("/job_package/welder")
    with pytest.raises(AssertionError, match="no message within"):
        down.next_message(0.3)


@pytest.mark.integration
def test_mqtt_refusal_is_an_error(pki: Pki, broker: Mosquitto, tmp_path: Path) -> None:
    settings = MqttSettings("127.0.0.1", broker.port, ca=pki.ca.cert,
                            cert=pki.wrong_client.cert, key=pki.wrong_client.key)
    receiver = Receiver(tmp_path / "central", settings)
    try:
        with pytest.raises(MqttConnectError, match="did not accept a connection"):
            receiver.start_mqtt(wait_s=1.5)
        assert receiver.mqtt_connected is False
    finally:
        receiver.close()
