"""The last answer's recordings reach central even when the candidate taps ``next`` right
after ``finish``: the session ends before capture has registered the files, which are then
announced as they are registered and uploaded. Every message of the session, the ``usage``
and ``media`` messages too, has its place (``session_seq``) in the order the box wrote it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import hurried_session
from capture_helpers import closed_answer_files
from media_fixtures import media_box
from sync_fixtures import Pki
from sync_harness import Central, box_rows, running_agent, wait_until

from conftest import JOB
from device.audit import SYSTEM
from device.capture import files
from device.clock import ManualClock
from device.composition import Kiosk, open_kiosk
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.sessions.roster import Invite, Roster, import_roster

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, None)
    yield c
    c.close()


@pytest.fixture
def box(tmp_path: Path, pki: Pki, central: Central, clock: ManualClock) -> Iterator[Kiosk]:
    """A kiosk that sends its recordings to ``central`` over HTTPS."""
    k = open_kiosk(media_box(tmp_path, pki, central, central.url), clock)
    import_package(k.store, example_package_path().read_bytes(), "example", SYSTEM)
    yield k
    k.close()


def test_the_last_answer_reaches_central_after_finish_and_next_at_once(
        box: Kiosk, central: Central, clock: ManualClock, consent_version: str) -> None:
    roster = Roster(format="kiosk-roster/1",
                    invites=[Invite(candidate_id="cand-1", job_id=JOB)])
    code = import_roster(box.engine, roster, "test", SYSTEM)[0].invite_code or ""
    assert box.capture is not None
    announce_as = box.capture.announce_as
    data: dict[str, bytes] = {}
    ids: list[str] = []

    def register(answer_id: str) -> None:
        found = box.store.one("SELECT session_id FROM answers WHERE id = ?", (answer_id,))
        assert found is not None
        recorded = closed_answer_files(box, found["session_id"], answer_id)
        data.update({f"{answer_id}/{r.kind}": r.path.read_bytes() for r in recorded})
        ids.extend(files.register(box.store, None, answer_id, recorded,
                                  announce_as=announce_as))

    # the first answer's files are registered in time, the last one's after the session ended
    sid, last = hurried_session(box, code, consent_version, clock,
                                after_finish=lambda answer: None if ids else register(answer))
    register(last)
    assert len(ids) == 4, "two answers recorded, audio and video each"
    with running_agent(box.config) as service:
        wait_until(service.agent.drained, 30, "the session's messages and recordings")
    got = central.messages("dev-1")
    media = [m for m in got if m["kind"] == "media"]
    assert sorted(m["envelope"]["body"]["media_id"] for m in media) == sorted(ids)
    for m in media:
        body = m["envelope"]["body"]
        path, _ = central.receiver.media.file(body["media_id"])
        sent = data[f"{body['answer_id']}/{body['kind']}"]
        assert path.read_bytes() == sent and hashlib.sha256(sent).hexdigest() == body["sha256"]
    # every message of the session, in the order the box wrote it, has the next place
    written = [r for r in box_rows(box.config.db_path) if r["session_id"] == sid]
    places = {m["message_id"]: m["session_seq"] for m in got}
    assert [places[r["message_id"]] for r in written] == list(range(1, len(written) + 1))
    kinds = [m["kind"] for m in sorted((m for m in got if m["session_id"] == sid),
                                       key=lambda m: m["session_seq"])]
    # the first answer's recordings, announced as the session ended, come before its usage;
    # the last answer's, registered after that, come last
    assert kinds[-5:] == ["media", "media", "usage", "media", "media"], kinds
