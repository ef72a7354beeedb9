"""Analysis while the interview goes on: a worker analyses each answer once its files are closed.

State lives in the ``analyses`` table, so nothing is lost to a crash: a row left ``running``
is analysed again from the recorded files on restart. Capture never waits for this worker,
and the worker never holds a store transaction while a model runs.

When a session has ended and every counting answer is analysed, :func:`finalize` scores it
and writes the score card, the report and their outbox message in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import TypeAdapter
from sqlite_utils import Database

from device import audit
from device.analysis import analysis_rows, checklists
from device.analysis.rubric import ScoringInputs, scoring_inputs, vocabulary
from device.audit import SYSTEM
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import Stamp
from device.jobs import installed
from device.jobs.document import JobPackage
from device.jobs.installed import session_package
from device.jobs.models import Language, SpokenQuestion
from device.sessions import answer_rows, results, session_rows, usage
from device.sessions.results import RESULT_STATES
from device.sessions.session_rows import SessionRow
from device.storage import media as media_rows
from device.storage.database import Store
from device.storage.media_crypto import MediaCryptoError, MediaKey, plain_suffix
from device.storage.media_reader import clear_workdir, decrypted_copy
from inference.content.answer import decide_follow_up
from inference.findings import DemonstrationAnalysis, FollowUp, ItemAnalysis, Transcript
from inference.report.models import Report
from inference.scoring.models import ScoreCard
from inference.scoring.scorer import score

if TYPE_CHECKING:
    from inference.pipeline import Analyzer

log = logging.getLogger(__name__)
_ITEM = TypeAdapter(ItemAnalysis)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Job:
    answer_id: str
    session_id: str
    item_id: str
    kind: str
    language: str
    expression: bool
    timed_out: bool
    duration_s: float
    media: dict[str, Path]
    package: JobPackage
    follow_up: FollowUp | None = None
    #: Kinds of ``media`` whose files are sealed (encrypted at rest).
    sealed: frozenset[str] = frozenset()
    #: The transcript recognised while the answer was spoken, when it heard all of it.
    transcript: Transcript | None = None


def schedule(db: Database, answer_id: str, now: Stamp) -> None:
    """Queue a finished answer for analysis (its recordings must be attached and closed)."""
    answer = answer_rows.get(db, answer_id)
    if answer is None:
        raise LookupError(f"no answer {answer_id}")
    analysis_rows.queue(db, answer.id, answer.session_id, answer.item_id, answer.kind, now)


def finalize(db: Database, session: SessionRow, identity: Identity, now: Stamp
             ) -> Report | None:
    """Score an ended session and queue its report, if all its analyses are finished.

    Runs inside the caller's transaction. Returns None while analyses are still pending.
    An answer whose analysis failed for good is scored and reported as "not analysed" with
    the analysis's error, not as "not recorded"."""
    if session.state not in RESULT_STATES or session.consent_version is None:
        return None  # nothing is recorded before consent, so there is nothing to report
    answers = answer_rows.finished(db, session.id)
    found = analysis_rows.for_session(db, session.id)
    if any(found[a.id].status in analysis_rows.UNFINISHED for a in answers if a.id in found):
        return None
    package = session_package(db, session)
    inputs = scoring_inputs(package)
    analyses: list[Any] = []
    failed: dict[str, str] = {}  # recorded, but analysis gave up: "not analysed", with why
    for answer in answers:
        entry = found.get(answer.id)
        if entry is not None and entry.status == "failed":
            failed[answer.item_id] = entry.error or "analysis failed"
        if entry is None or entry.status != "done" or entry.body is None:
            continue
        item = _ITEM.validate_json(entry.body)
        if isinstance(item, DemonstrationAnalysis):
            item = item.model_copy(update={"checklist": checklists.scores(db, session.id,
                                                                          item.item_id)})
        analyses.append(item)
    card = score(inputs.rubric, inputs.questions, inputs.demonstrations, analyses,
                 expression_consent=bool(session.expression_consent), not_analysed=failed)
    report = _report(session, inputs, card, analyses, failed, now)
    body = {"revision": _revision(db, session.id), "scorecard": card.model_dump(mode="json"),
            "report": report.model_dump(mode="json")}
    results.put(db, session.id, "report", body, now)
    outbox.enqueue(db, identity, now, "session.report", body, session_id=session.id,
                   drill=session.drill)
    return report


def _revision(db: Database, session_id: str) -> int:
    found = results.body(db, session_id, "report")
    return 1 if found is None else int(found["revision"]) + 1


def _report(session: SessionRow, inputs: ScoringInputs, card: ScoreCard,
            analyses: list[Any], failed: dict[str, str], now: Stamp) -> Report:
    from inference.report.build import build_report  # draws charts: loaded only when needed

    assert session.consent_version is not None  # finalize reports only consented sessions
    # the roster and check-in accept only the languages of device.jobs.models.Language
    language = cast(Language, session.language or "en")
    return build_report(
        session_id=session.id, candidate_id=session.candidate_id,
        language=language, consent_version=session.consent_version,
        expression_consent=bool(session.expression_consent), generated_at=now.utc,
        rubric=inputs.rubric, questions=inputs.questions,
        demonstrations=inputs.demonstrations, analyses=analyses, scorecard=card,
        not_analysed=failed,
    )


class AnalysisService:
    """One worker thread; models are loaded once, on first use.

    Sealed recordings are analysed from a private plaintext copy in ``work_dir``
    (``<media_dir>/.work``), decrypted with ``media_key`` just before the models run and
    removed right after; copies a crash left behind are removed on :meth:`start`."""

    def __init__(self, store: Store, identity: Identity,
                 analyzer_factory: Callable[[], Analyzer], poll_s: float = 1.0, *,
                 media_key: MediaKey | None = None, work_dir: Path | None = None) -> None:
        if media_key is not None and work_dir is None:
            raise ValueError("a media key needs a work directory for the decrypted copies")
        self.store = store
        self.identity = identity
        self.media_key = media_key
        self.work_dir = work_dir
        self._factory = analyzer_factory
        self._analyzer: Analyzer | None = None
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.done = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        if self.work_dir is not None and (left := clear_workdir(self.work_dir)):
            log.warning("removed %d decrypted recording(s) left in %s", left, self.work_dir)
        with self.store.transaction() as db:
            # A crash mid-analysis: analyse those answers again from their files.
            analysis_rows.requeue_running(db)
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def use(self, analyzer: Analyzer) -> None:
        """Use models already loaded (e.g. shared by several kiosks in one process)."""
        self._analyzer = analyzer

    def schedule(self, answer_id: str) -> None:
        """Queue a finished answer whose recordings are attached, and wake the worker."""
        now = self.store.now()
        with self.store.transaction() as db:
            schedule(db, answer_id, now)
        self._wake.set()

    def follow_up(self, answer_id: str, transcript: Transcript) -> FollowUp | None:
        """Decide the one follow-up for a just-finished spoken answer from its final transcript
        (the live stream's, ready moments after the answer ends) and record it with the answer.
        None when the package does not allow follow-ups or the answer covers the STAR elements
        that have templates."""
        now = self.store.now()
        with self.store.transaction() as db:
            answer = answer_rows.get(db, answer_id)
            session = session_rows.get(db, answer.session_id) if answer else None
            if answer is None or session is None:
                raise LookupError(f"no answer {answer_id}")
            package = session_package(db, session)
            item = next(i for i in package.items if i.id == answer.item_id)
            if not isinstance(item, SpokenQuestion) or answer.follow_up:
                return None
            language = session.language or package.job.language
            chosen = decide_follow_up(
                vocabulary(item, language, package.scoring.follow_up_enabled), transcript)
            if chosen is not None:
                answer_rows.set_follow_up(db, answer_id, chosen.model_dump_json())
                audit.append(db, now, SYSTEM, "answer.follow_up", subject=answer.session_id,
                             details={"answer_id": answer_id, "element": chosen.element})
            return chosen

    def hints(self, answer_id: str) -> tuple[str, ...]:
        """The terms the question of ``answer_id`` listens for, in the interview's language
        (for the recogniser); empty for a demonstration or an unknown answer."""
        with self.store.read() as db:
            answer = answer_rows.get(db, answer_id)
            session = session_rows.get(db, answer.session_id) if answer else None
            if answer is None or session is None:
                return ()
            package = session_package(db, session)
        item = next((i for i in package.items if i.id == answer.item_id), None)
        if not isinstance(item, SpokenQuestion):
            return ()
        language = session.language or package.job.language
        return vocabulary(item, language, False).hints()

    def drain(self, timeout_s: float = 600.0) -> int:
        """Analyse everything pending in this thread (for scripts and tests); returns how many."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline and self.run_once():
            count += 1
        return count

    def on_final(self, db: Database, session: SessionRow, now: Stamp) -> None:
        """Engine hook, inside the transaction that ends the session."""
        finalize(db, session, self.identity, now)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the worker must outlive any one bad answer
                log.exception("analysis worker error")
                busy = False
            if not busy:
                self._wake.wait(self._poll_s)
                self._wake.clear()

    # --- one job -----------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Analyse the oldest pending answer; False when there was nothing to do."""
        job = self._claim()
        if job is None:
            return False
        started = time.thread_time()
        try:
            analyzer = self._analyzer or self._load()
            result = self._analyse(analyzer, job)
            body: str | None = result.model_dump_json()
            status: analysis_rows.Status = "done"
            error: str | None = None
        except Exception as exc:
            log.warning("analysis of answer %s failed: %s", job.answer_id, exc)
            body, status, error = None, "failed", str(exc)
            self.last_error = f"{job.answer_id}: {exc}"
        cpu = time.thread_time() - started
        now = self.store.now()
        with self.store.transaction() as db:
            tried = analysis_rows.attempts(db, job.answer_id)
            if status == "failed" and tried is not None and tried < MAX_ATTEMPTS:
                status = "pending"
            analysis_rows.record(db, job.answer_id, status, body, error, cpu, now)
            usage.add_analysis_cpu(db, job.session_id, cpu)
            session = session_rows.get(db, job.session_id)
            if status in ("done", "failed") and session is not None:
                finalize(db, session, self.identity, now)
        self.done += 1
        return True

    def _load(self) -> Analyzer:
        self._analyzer = self._factory()
        return self._analyzer

    def analyzer(self) -> Analyzer:
        """The loaded models (loaded now if need be), e.g. for live recognition."""
        return self._analyzer or self._load()

    def _claim(self) -> Job | None:
        now = self.store.now()
        with self.store.transaction() as db:
            found = analysis_rows.next_pending(db)
            if found is None:
                return None
            a = found.analysis
            analysis_rows.mark_running(db, a.answer_id, now)
            files = media_rows.of_answer(db, a.answer_id)
            media = {m.kind: Path(m.path) for m in files}
            sealed = frozenset(m.kind for m in files if m.encrypted)
            package = installed.package(db, found.job_id, found.job_version)
        return Job(answer_id=a.answer_id, session_id=a.session_id,
                   item_id=a.item_id, kind=a.kind,
                   language=found.language or package.job.language,
                   expression=found.expression_consent,
                   timed_out=found.timed_out, duration_s=found.duration_s or 0.0,
                   media=media, package=package, sealed=sealed,
                   follow_up=FollowUp.model_validate_json(found.follow_up)
                   if found.follow_up else None,
                   transcript=Transcript.model_validate_json(found.live_transcript)
                   if found.live_transcript else None)

    def _analyse(self, analyzer: Analyzer, job: Job) -> Any:
        with ExitStack() as copies:  # decrypted copies live only while the models run
            media = self._plain_media(job, copies)
            item = next(i for i in job.package.items if i.id == job.item_id)
            if isinstance(item, SpokenQuestion):
                vocab = vocabulary(item, job.language, job.package.scoring.follow_up_enabled)
                result = analyzer.spoken(vocab, audio=media.get("audio"),
                                         video=media.get("video"), expression=job.expression,
                                         timed_out=job.timed_out, transcript=job.transcript)
                # the report names the follow-up that was actually asked, not one that could be
                return result.model_copy(update={"follow_up": job.follow_up})
            inputs = scoring_inputs(job.package)
            spec = next(d for d in inputs.demonstrations if d.id == job.item_id)
            return analyzer.demonstration(spec, video=media.get("video"),
                                          expression=job.expression, duration_s=job.duration_s)

    def _plain_media(self, job: Job, copies: ExitStack) -> dict[str, Path]:
        """The paths the models read: sealed files are replaced by decrypted copies."""
        media = dict(job.media)
        for kind in sorted(job.sealed & media.keys()):
            path = media[kind]
            if self.media_key is None or self.work_dir is None:
                raise MediaCryptoError(f"recording {path} is encrypted, and the analysis has"
                                       " no media key to read it")
            media[kind] = copies.enter_context(
                decrypted_copy(path, self.media_key, self.work_dir, plain_suffix(path)))
        return media
