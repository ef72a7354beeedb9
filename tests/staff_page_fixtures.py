"""A session as site HR finds it on the staff page: ended, analysed, its report written
with the demonstration's checklist still to score, and a sealed recording of every answer
(a tone in a WAV file; the demonstration's is registered as its video)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx
from analysis_fixtures import DEMO, Q1, Q2, heard, interviewed, store
from scoring_fixtures import demo
from wav_fixtures import tone_wav

from conftest import InviteFn
from device.analysis import worker
from device.clock import ManualClock
from device.composition import Kiosk
from device.sessions import session_rows
from device.sessions.recordings import MediaKind, attach
from device.storage.media_crypto import seal_file
from inference.findings import Pause

#: The example package's checklist of the demonstration.
POINTS = ("screws-torqued", "correct-orientation", "no-leftover-parts", "esd-strap-worn",
          "workstation-clean")
#: Seconds of tone per recording: past the demonstration's idle period (100–140 s).
SECONDS = {Q1: 30.0, Q2: 30.0, DEMO: 150.0}
RATE = 8_000
#: What each answer's recording is registered as: a demonstration is filmed.
KINDS: dict[str, MediaKind] = {Q1: "audio", Q2: "audio", DEMO: "video"}


@dataclass(frozen=True)
class Reviewed:
    session_id: str
    answers: dict[str, str]  # item id -> answer id
    media: dict[str, str]  # item id -> media id
    plain: dict[str, bytes]  # item id -> the recording's plaintext


def reviewed_session(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
                     tmp: Path) -> Reviewed:
    sid, answers = interviewed(kiosk, clock, invite, consent_version)
    store(kiosk, answers[Q1], "done", heard(Q1, 0.9))
    store(kiosk, answers[Q2], "done", heard(Q2, 0.9))
    plain_demo = demo(None)
    worked = plain_demo.activity.model_copy(update={
        "basis": "hands", "hands_in_area_ratio": 0.8, "work_start": 3.0, "work_end": 410.0,
        "hands_away_periods": (Pause(start=60.0, end=75.0),)})
    store(kiosk, answers[DEMO], "done", plain_demo.model_copy(update={"activity": worked}))
    key = kiosk.analysis.media_key
    assert key is not None
    media: dict[str, str] = {}
    plain: dict[str, bytes] = {}
    tmp.mkdir(parents=True, exist_ok=True)
    with kiosk.store.transaction() as db:
        for item, answer_id in answers.items():
            source = tone_wav(tmp / f"{item}.wav", SECONDS[item], rate=RATE)
            sealed_path = kiosk.config.media_dir / sid / f"{item}.wav.sealed"
            sealed_path.parent.mkdir(parents=True, exist_ok=True)
            sealed = seal_file(source, sealed_path, key, chunk_size=4096)
            media[item] = attach(db, answer_id, KINDS[item], sealed_path, kiosk.store.now(),
                                 sealed=sealed)
            plain[item] = source.read_bytes()
        session = session_rows.get(db, sid)
        assert session is not None
        assert worker.finalize(db, session, kiosk.identity, kiosk.store.now()) is not None
    return Reviewed(sid, answers, media, plain)


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the first form on a staff page."""
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: httpx.Client, token: str, lang: str | None = None) -> httpx.Response:
    """Log in through the form, as a browser does; returns the answer to the post."""
    form = client.get("/staff/login")
    assert form.status_code == 200
    value = re.search(r'name="form" value="([^"]+)"', form.text)
    assert value
    fields = {"form": value.group(1), "token": token}
    if lang:
        fields["lang"] = lang
    return client.post("/staff/login", data=fields)
