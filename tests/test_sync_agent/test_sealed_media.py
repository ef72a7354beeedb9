"""Sealed recordings through the box: registered, analysed from a private copy, uploaded
as plaintext that matches the checksum central verifies."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from media_fixtures import seed_answer_rows
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import Central, box_config, outbox_rows, running_agent, wait_until

from conftest import InviteFn
from device.analysis.worker import MAX_ATTEMPTS, AnalysisService
from device.central_link.outbox import Identity
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import KioskConfig
from device.errors import SessionRuleError
from device.sessions.recordings import announce_session_media, attach
from device.storage.database import Store, row, stamp_json
from device.storage.media_crypto import HEADER_BYTES, MediaKey, SealedInfo, seal_file
from inference.models.store import ModelFiles
from inference.pipeline import Analyzer, Settings
from kiosk.rigs.samples import ModelPaths
from sync_agent.assembly import AgentProcess
from sync_agent.errors import LinkError
from sync_agent.events import Event, MediaFailed, MediaUploaded
from sync_agent.https_link import HttpsLink
from sync_agent.media import MediaUploader, RecordingFile, Upload
from sync_agent.tls import TlsFiles

BOX = Identity("dev-1", TENANT, SITE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seal(src: Path, dest: Path, key: MediaKey, chunk: int = 1 << 20) -> SealedInfo:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return seal_file(src, dest, key, chunk_size=chunk)


# --- registering a sealed recording ----------------------------------------------------------

def finished_answer(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str
                    ) -> tuple[str, str]:
    """A candidate who has just answered the first spoken question; (session, answer)."""
    invited = invite()
    assert invited.invite_code is not None
    sid = kiosk.engine.check_in(invited.invite_code, language="ko").session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version,
                         expression_analysis=False)
    kiosk.interview.present(sid)
    clock.advance(5)
    kiosk.interview.start_answer(sid)
    clock.advance(20)
    kiosk.interview.finish_answer(sid)
    found = kiosk.store.one("SELECT id FROM answers WHERE session_id = ? AND state ="
                            " 'finished'", (sid,))
    assert found is not None
    return sid, str(found["id"])


def media_row(kiosk: Kiosk, media_id: str) -> dict[str, Any]:
    found = kiosk.store.one("SELECT * FROM media WHERE id = ?", (media_id,))
    assert found is not None
    return found


def test_a_sealed_recording_is_registered_with_its_plaintext_size_and_checksum(
        kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
        tmp_path: Path) -> None:
    sid, answer = finished_answer(kiosk, clock, invite, consent_version)
    key = MediaKey.load_or_create(kiosk.config.secrets_dir / "media.key")
    plain = tmp_path / "answer.wav"
    plain.write_bytes(os.urandom(3 * 1000 + 7))
    sealed = kiosk.config.media_dir / sid / f"{answer}.wav.sealed"
    info = seal(plain, sealed, key, chunk=1000)
    with kiosk.store.transaction() as db:
        media_id = attach(db, answer, "audio", sealed, kiosk.store.now(), sealed=info,
                          duration_s=12.5)
    got = media_row(kiosk, media_id)
    assert got["bytes"] == 3007 and got["sha256"] == sha256(plain) != sha256(sealed)
    assert got["encrypted"] == 1 and got["key_id"] == key.key_id
    assert got["duration_s"] == 12.5 and got["path"] == str(sealed)
    usage = kiosk.store.one("SELECT media_bytes FROM usage WHERE session_id = ?", (sid,))
    assert usage is not None and usage["media_bytes"] == sealed.stat().st_size, \
        "usage counts what the recording takes on disk"


def test_a_plain_recording_is_still_registered_as_before(
        kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
        tmp_path: Path) -> None:
    _, answer = finished_answer(kiosk, clock, invite, consent_version)
    plain = tmp_path / "answer.mp4"
    plain.write_bytes(os.urandom(5000))
    with kiosk.store.transaction() as db:
        media_id = attach(db, answer, "video", plain, kiosk.store.now())
    got = media_row(kiosk, media_id)
    assert got["bytes"] == 5000 and got["sha256"] == sha256(plain)
    assert got["encrypted"] == 0 and got["key_id"] is None and got["duration_s"] is None


def test_sealing_figures_of_another_file_are_refused(
        kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
        tmp_path: Path) -> None:
    _, answer = finished_answer(kiosk, clock, invite, consent_version)
    key = MediaKey.load_or_create(kiosk.config.secrets_dir / "media.key")
    (tmp_path / "a.wav").write_bytes(b"a" * 100)
    (tmp_path / "b.wav").write_bytes(b"b" * 200)
    info_a = seal(tmp_path / "a.wav", tmp_path / "a.wav.sealed", key)
    seal(tmp_path / "b.wav", tmp_path / "b.wav.sealed", key)
    with pytest.raises(SessionRuleError, match=r"b\.wav\.sealed has 244 bytes, its sealing"
                                               r" wrote 144: not the file that was sealed"), \
            kiosk.store.transaction() as db:
        attach(db, answer, "audio", tmp_path / "b.wav.sealed", kiosk.store.now(), sealed=info_a)
    assert kiosk.store.one("SELECT COUNT(*) AS n FROM media") == {"n": 0}


# --- analysis of sealed recordings -----------------------------------------------------------

@pytest.fixture(scope="module")
def analyzer(model_files: ModelPaths) -> Analyzer:
    return Analyzer(ModelFiles.open(model_files.store), Settings(tflite_threads=1))


@pytest.fixture
def sealed_answer(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
                  crema_clips: dict[str, Path]) -> tuple[str, Path, MediaKey]:
    """The first spoken answer, recorded as a real clip sealed under the box's key;
    returns the answer id, the sealed file and the key."""
    sid, answer = finished_answer(kiosk, clock, invite, consent_version)
    key = MediaKey.load_or_create(kiosk.config.secrets_dir / "media.key")
    clip = crema_clips["HAP"]
    sealed = kiosk.config.media_dir / sid / f"{answer}{clip.suffix}.sealed"
    info = seal(clip, sealed, key, chunk=64 * 1024)
    with kiosk.store.transaction() as db:
        attach(db, answer, "video", sealed, kiosk.store.now(), sealed=info)
    return answer, sealed, key


def sealed_service(kiosk: Kiosk, key: MediaKey | None) -> AnalysisService:
    return AnalysisService(kiosk.store, kiosk.identity, lambda: pytest.fail("no models to load"),
                           media_key=key, work_dir=kiosk.config.media_dir / ".work")


def analysis(kiosk: Kiosk, answer: str) -> dict[str, Any]:
    found = kiosk.store.one("SELECT status, attempts, error, body FROM analyses WHERE"
                            " answer_id = ?", (answer,))
    assert found is not None
    return found


def test_a_sealed_answer_is_analysed_from_a_private_copy_that_is_then_removed(
        kiosk: Kiosk, sealed_answer: tuple[str, Path, MediaKey], analyzer: Analyzer,
        crema_clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    answer, sealed, key = sealed_answer
    work = kiosk.config.media_dir / ".work"
    seen: list[dict[str, Any]] = []
    spoken = analyzer.spoken

    def watching(*args: Any, **kwargs: Any) -> Any:
        video = kwargs["video"]
        seen.append({"path": video, "suffix": video.suffix, "mode": stat.S_IMODE(
            video.stat().st_mode), "sha256": sha256(video), "dir_mode": stat.S_IMODE(
            video.parent.stat().st_mode)})
        return spoken(*args, **kwargs)

    monkeypatch.setattr(analyzer, "spoken", watching)
    service = sealed_service(kiosk, key)
    service.use(analyzer)
    service.schedule(answer)
    assert service.drain() == 1
    done = analysis(kiosk, answer)
    assert done["status"] == "done" and done["error"] is None, done
    [copy] = seen
    assert copy["path"].parent == work and copy["suffix"] == ".flv"
    assert copy["mode"] == 0o600 and copy["dir_mode"] == 0o700
    assert copy["sha256"] == sha256(crema_clips["HAP"]), "the models read the plaintext"
    body = json.loads(done["body"])
    assert 1.5 < body["transcript"]["duration_s"] < 4.0
    assert body["vision"]["face_present_ratio"] == 1.0 and body["vision"]["max_faces"] == 1
    assert list(work.iterdir()) == [], "a decrypted copy was left behind"
    assert sorted(p.name for p in sealed.parent.iterdir()) == [sealed.name]


def test_a_sealed_answer_without_a_key_fails_with_a_clear_error(
        kiosk: Kiosk, sealed_answer: tuple[str, Path, MediaKey], analyzer: Analyzer) -> None:
    answer, sealed, _ = sealed_answer
    service = sealed_service(kiosk, None)
    service.use(analyzer)
    service.schedule(answer)
    assert service.drain() == MAX_ATTEMPTS, "retried, then given up"
    failed = analysis(kiosk, answer)
    assert failed["status"] == "failed" and failed["attempts"] == MAX_ATTEMPTS
    assert failed["error"] == (f"recording {sealed} is encrypted, and the analysis has no"
                               " media key to read it")
    assert service.last_error == f"{answer}: {failed['error']}"


def test_a_damaged_sealed_answer_fails_and_leaves_no_plaintext(
        kiosk: Kiosk, sealed_answer: tuple[str, Path, MediaKey], analyzer: Analyzer) -> None:
    answer, sealed, key = sealed_answer
    raw = bytearray(sealed.read_bytes())
    raw[HEADER_BYTES + 2 * (64 * 1024 + 16) + 100] ^= 0xFF  # inside chunk 2
    sealed.write_bytes(bytes(raw))
    service = sealed_service(kiosk, key)
    service.use(analyzer)
    service.schedule(answer)
    service.drain()
    failed = analysis(kiosk, answer)
    assert failed["status"] == "failed"
    assert failed["error"] == (f"chunk 2 of {sealed} failed authentication: the file was"
                               " altered or truncated")
    assert list((kiosk.config.media_dir / ".work").iterdir()) == []


def test_copies_a_crash_left_behind_are_removed_when_the_worker_starts(kiosk: Kiosk) -> None:
    key = MediaKey.load_or_create(kiosk.config.secrets_dir / "media.key")
    work = kiosk.config.media_dir / ".work"
    work.mkdir(parents=True)
    (work / "plain-abc.wav").write_bytes(b"the plaintext of an answer")
    service = sealed_service(kiosk, key)
    service.start()
    try:
        assert list(work.iterdir()) == []
    finally:
        service.stop()


def test_a_key_without_a_work_directory_is_refused(kiosk: Kiosk) -> None:
    key = MediaKey(bytes(32))
    with pytest.raises(ValueError, match="a media key needs a work directory"):
        AnalysisService(kiosk.store, kiosk.identity, lambda: pytest.fail("unused"),
                        media_key=key)


# --- the uploader ----------------------------------------------------------------------------

@contextmanager
def uploader(key: MediaKey | None, upload: Any) -> Iterator[tuple[MediaUploader,
                                                                  queue.Queue[Event]]]:
    events: queue.Queue[Event] = queue.Queue()
    up = MediaUploader(upload, events, media_key=key)
    try:
        yield up, events
    finally:
        up.close()


def read_through(media_id: str, recording: RecordingFile, meta: dict[str, Any]) -> int:
    """Reads a recording the way the HTTPS link does, without sending it."""
    with recording.open("rb") as f:
        return len(f.read())


@pytest.mark.parametrize("problem", ["no key", "another key", "damaged"])
def test_an_unreadable_sealed_recording_is_reported_as_a_failed_upload(
        tmp_path: Path, problem: str) -> None:
    key = MediaKey(bytes(range(32)))
    (tmp_path / "a.mp4").write_bytes(os.urandom(3000))
    sealed = tmp_path / "a.mp4.sealed"
    seal(tmp_path / "a.mp4", sealed, key, chunk=1000)
    if problem == "damaged":
        raw = bytearray(sealed.read_bytes())
        raw[-3] ^= 1
        sealed.write_bytes(bytes(raw))
    use = {"no key": None, "another key": MediaKey(bytes(32)), "damaged": key}[problem]
    with uploader(use, read_through) as (up, events):
        up.submit(Upload("m-1", "media-1", sealed, {}))
        event = events.get(timeout=10)
    assert isinstance(event, MediaFailed) and event.message_id == "m-1"
    expected = {
        "no key": f"{sealed} is encrypted, and the sync agent has no media key to read it",
        "another key": f"{sealed} was sealed with key {key.key_id}, this box has"
                       f" {MediaKey(bytes(32)).key_id}",
        "damaged": f"chunk 2 of {sealed} failed authentication: the file was altered or"
                   " truncated"}[problem]
    assert event.reason == expected
    assert up.bytes_sent == 0


def test_plain_and_sealed_recordings_are_both_read_as_plaintext(tmp_path: Path) -> None:
    key = MediaKey(bytes(range(32)))
    data = os.urandom(2500)
    plain = tmp_path / "a.wav"
    plain.write_bytes(data)
    seal(plain, tmp_path / "b.wav.sealed", key, chunk=1000)
    for path in (plain, tmp_path / "b.wav.sealed"):
        recording = RecordingFile(path, key)
        assert str(recording) == str(path)
        with recording.open("rb") as f:
            f.seek(1200)
            assert f.read(700) == data[1200:1900]
    with uploader(key, read_through) as (up, events):
        up.submit(Upload("m-1", "media-1", tmp_path / "b.wav.sealed", {}))
        assert isinstance(events.get(timeout=10), MediaUploaded)
        assert up.bytes_sent == len(data)
    with pytest.raises(ValueError, match="opened for reading only"):
        RecordingFile(plain, key).open("r+b")


# --- to central, over real HTTPS -------------------------------------------------------------

@pytest.fixture
def central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, None)
    yield c
    c.close()


def sealed_session(config: KioskConfig, key: MediaKey, size: int, chunk: int
                   ) -> tuple[str, bytes, Path]:
    """A completed session whose one recording is sealed and announced; returns the media
    id, the plaintext and the sealed file."""
    data = os.urandom(size)
    plain = config.data_dir / "capture" / "answer-1.mp4"
    plain.parent.mkdir(parents=True, exist_ok=True)
    plain.write_bytes(data)
    sealed = config.media_dir / "S1" / "A1.mp4.sealed"
    info = seal(plain, sealed, key, chunk)
    plain.unlink()
    store = Store(config.db_path)
    try:
        with store.transaction() as db:
            at = stamp_json(store.now())
            seed_answer_rows(db, at)
            media_id = attach(db, "A1", "video", sealed, store.now(), sealed=info)
            session = row(db, "SELECT * FROM sessions WHERE id = 'S1'")
            assert session is not None
            assert len(announce_session_media(db, BOX, store.now(), session)) == 1
    finally:
        store.close()
    return media_id, data, sealed


def agent_with_key(config: KioskConfig, key: MediaKey
                   ) -> AbstractContextManager[AgentProcess]:
    return running_agent(config, key)


@pytest.mark.integration
def test_a_sealed_recording_reaches_central_as_its_plaintext(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", https_url=central.url,
                        key_file=central.key_file, transport="https", upload_media=True,
                        chunk_bytes=300 * 1024)
    key = MediaKey.load_or_create(config.secrets_dir / "media.key")
    media_id, data, sealed = sealed_session(config, key, 2 * 1024 * 1024 + 12_345, 1 << 20)
    with agent_with_key(config, key) as service:
        wait_until(service.agent.drained, 30, "the sealed recording and its message")
        assert service.agent.uploader is not None
        assert service.agent.uploader.bytes_sent == len(data)
    path, _ = central.receiver.media.file(media_id)
    held = path.read_bytes()
    assert held == data, "central must hold the plaintext, not the sealed file"
    assert hashlib.sha256(held).hexdigest() == hashlib.sha256(data).hexdigest()
    [message] = outbox_rows(config.db_path, "media")
    assert message["status"] == "acked" and message["last_error"] is None
    assert json.loads(message["payload"])["body"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert sealed.exists() and data not in sealed.read_bytes()


@pytest.mark.integration
def test_an_interrupted_sealed_upload_resumes_mid_chunk_from_centrals_offset(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", https_url=central.url,
                        key_file=central.key_file, transport="https", upload_media=True)
    key = MediaKey.load_or_create(config.secrets_dir / "media.key")
    size, sealed_chunk, upload_chunk = 700_000, 100_000, 128 * 1024
    media_id, data, sealed = sealed_session(config, key, size, sealed_chunk)
    meta = {"bytes": size, "sha256": hashlib.sha256(data).hexdigest(), "session_id": "S1",
            "content_type": "video/mp4"}
    link = HttpsLink(BOX, central.url, TlsFiles.from_config(config).context(),
                     events=queue.Queue())
    upload: Any = link.upload  # reads whatever ``open("rb")`` gives: here, the plaintext
    calls = 0

    def cut_after_two_chunks(n: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise LinkError("connection lost")

    try:
        with pytest.raises(LinkError, match="connection lost"):
            upload(media_id, RecordingFile(sealed, key), meta, upload_chunk,
                   cut_after_two_chunks)
        offset = central.receiver.media.state(media_id).offset
        assert offset == 2 * upload_chunk and offset % sealed_chunk, "resumes inside a chunk"
        sent = upload(media_id, RecordingFile(sealed, key), meta, upload_chunk)
    finally:
        link.shutdown()
    assert sent == size - offset
    path, _ = central.receiver.media.file(media_id)
    assert path.read_bytes() == data
