"""Recordings announced to central (``[sync] upload_media``): at the end of the session, as
they are registered when the session has already ended, and by the periodic sweep when an
announcement is missing all the same."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import hurried_session
from capture_helpers import closed_answer_files, wait_for

from conftest import JOB, InviteFn, LiveServer, make_config
from device.audit import SYSTEM
from device.capture import files
from device.clock import ManualClock
from device.composition import Kiosk, open_kiosk
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.sessions import recordings
from device.sessions.roster import Invite, Roster, import_roster


@pytest.fixture
def sending(tmp_path: Path, clock: ManualClock) -> Iterator[Kiosk]:
    """A box that sends its recordings to central."""
    k = open_kiosk(make_config(tmp_path / "data", KIOSK_SYNC_UPLOAD_MEDIA="true"), clock)
    import_package(k.store, example_package_path().read_bytes(), "example", SYSTEM)
    yield k
    k.close()


def media_messages(k: Kiosk, session_id: str) -> list[dict[str, Any]]:
    """The session's ``media`` messages' bodies, in outbox order."""
    return [json.loads(r["payload"])["body"] for r in k.store.all(
        "SELECT payload FROM outbox WHERE kind = 'media' AND session_id = ? ORDER BY seq",
        (session_id,))]


@pytest.fixture
def sending_invite(sending: Kiosk) -> InviteFn:
    counter = iter(range(1, 1000))

    def make(**fields: Any) -> Any:
        fields.setdefault("candidate_id", f"cand-{next(counter)}")
        fields.setdefault("job_id", JOB)
        roster = Roster(format="kiosk-roster/1", invites=[Invite(**fields)])
        return import_roster(sending.engine, roster, "test", SYSTEM)[0]

    return make


def test_the_last_answer_registered_after_the_session_ended_is_announced(
        sending: Kiosk, sending_invite: InviteFn, consent_version: str,
        clock: ManualClock) -> None:
    sid, last = hurried_session(sending, sending_invite().invite_code or "", consent_version, clock)
    assert media_messages(sending, sid) == [], "nothing was recorded when the session ended"
    # capture's file thread registers the files as this box's recorder
    assert sending.capture is not None and sending.capture.announce_as == sending.identity
    ids = files.register(sending.store, None, last, closed_answer_files(sending, sid, last),
                         announce_as=sending.capture.announce_as)
    got = media_messages(sending, sid)
    assert sorted(m["media_id"] for m in got) == sorted(ids)
    assert {m["kind"] for m in got} == {"audio", "video"}
    assert {m["answer_id"] for m in got} == {last}
    assert recordings.announce_missing(sending.store.db, sending.identity,
                                       sending.store.now()) == [], "nothing is left to queue"


def test_a_recording_registered_while_the_session_runs_waits_for_its_end(
        sending: Kiosk, sending_invite: InviteFn, consent_version: str,
        clock: ManualClock) -> None:
    code = sending_invite().invite_code or ""
    sid = sending.engine.check_in(code, language="ko").session_id
    sending.engine.consent(sid, accept=True, consent_version=consent_version,
                           expression_analysis=False)
    sending.interview.present(sid)
    answer = sending.interview.start_answer(sid).answer_id
    assert answer is not None
    clock.advance(20)
    sending.interview.finish_answer(sid)
    ids = files.register(sending.store, None, answer, closed_answer_files(sending, sid, answer),
                         announce_as=sending.identity)
    assert media_messages(sending, sid) == [], "announced when the session ends, not before"
    assert sending.media_announcer is not None
    assert sending.media_announcer.sweep(force=True) == 0, "an open session is left alone"
    view = sending.interview.advance(sid)
    while view.phase != "done":  # the other items, recorded nowhere
        sending.interview.start_answer(sid)
        clock.advance(20)
        sending.interview.finish_answer(sid)
        view = sending.interview.advance(sid)
    assert sorted(m["media_id"] for m in media_messages(sending, sid)) == sorted(ids), \
        "announced once, when the session ended"
    assert sending.media_announcer.sweep(force=True) == 0


def test_the_sweep_queues_a_missing_announcement_exactly_once(
        sending: Kiosk, sending_invite: InviteFn, consent_version: str,
        clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    sid, last = hurried_session(sending, sending_invite().invite_code or "", consent_version, clock)
    # registered without announcing, as before the fix: the announcement is missing
    ids = files.register(sending.store, None, last, closed_answer_files(sending, sid, last))
    assert media_messages(sending, sid) == []
    announcer = sending.media_announcer
    assert announcer is not None
    with caplog.at_level(logging.WARNING, logger="device.sessions.recordings"):
        assert announcer.sweep(force=True) == 2
    assert "queued 2 recording(s) of ended sessions" in caplog.text
    assert sorted(m["media_id"] for m in media_messages(sending, sid)) == sorted(ids)
    assert announcer.sweep(force=True) == 0, "a second pass queues nothing more"
    assert len(media_messages(sending, sid)) == 2
    with LiveServer(sending) as live:
        metrics = httpx.get(f"{live.url}/metrics", timeout=20).text
    assert "kiosk_media_announced_late_total 2.0" in metrics


def test_the_sweep_waits_its_interval(
        sending: Kiosk, sending_invite: InviteFn, consent_version: str,
        clock: ManualClock) -> None:
    announcer = sending.media_announcer
    assert announcer is not None
    sid, last = hurried_session(sending, sending_invite().invite_code or "", consent_version, clock)
    assert announcer.sweep() == 0  # the first pass runs (nothing to do) and starts the wait
    files.register(sending.store, None, last, closed_answer_files(sending, sid, last))
    clock.advance(announcer.interval_s / 2)
    assert announcer.sweep() == 0 and media_messages(sending, sid) == [], "not yet due"
    clock.advance(announcer.interval_s)
    assert announcer.sweep() == 2


def test_a_box_that_keeps_its_recordings_announces_nothing(
        kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock) -> None:
    assert kiosk.media_announcer is None
    assert kiosk.capture is not None and kiosk.capture.announce_as is None
    sid, last = hurried_session(kiosk, invite().invite_code or "", consent_version, clock)
    files.register(kiosk.store, None, last, closed_answer_files(kiosk, sid, last))
    assert media_messages(kiosk, sid) == []


def test_the_kiosk_process_runs_the_sweep_while_it_serves(
        sending: Kiosk, sending_invite: InviteFn, consent_version: str,
        clock: ManualClock) -> None:
    sid, last = hurried_session(sending, sending_invite().invite_code or "", consent_version, clock)
    ids = files.register(sending.store, None, last, closed_answer_files(sending, sid, last))
    with LiveServer(sending, sweep=True):
        got = wait_for(lambda: len(m := media_messages(sending, sid)) == 2 and m,
                       what="the periodic sweep to queue the recordings")
    assert sorted(m["media_id"] for m in got) == sorted(ids)
