"""The question flow inside a session: present, record, finish, retake, advance.

Every timing decision is made here, from the session's stamps, never by the browser:
think time before recording, the answer or task time limit, retakes, and the
candidate's extra-time accommodation from the roster. Recording is allowed only in a
consented, running session.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from device.audit import Actor
from device.clock import Stamp, elapsed_s
from device.errors import SessionRuleError, SessionStateError
from device.jobs.installed import session_package
from device.sessions import answer_rows, session_rows, usage
from device.sessions.answer_rows import AnswerRow
from device.sessions.engine import CANDIDATE, Engine
from device.sessions.session_rows import SessionRow
from device.sessions.transitions import allowed_actions
from device.storage.database import stamp_json
from shared.canonical_json import dumps

OPEN_ANSWER = ("presented", "recording")


@dataclass(frozen=True)
class Timing:
    think_s: float
    answer_s: float
    retakes: int


def timing(item: dict[str, Any], extra_time_pct: int) -> Timing:
    factor = 1 + extra_time_pct / 100
    if item["kind"] == "demonstration":
        return Timing(item["preparation_s"] * factor, item["time_limit_s"] * factor, 0)
    return Timing(item["think_time_s"] * factor, item["answer_time_s"] * factor, item["retakes"])


@dataclass(frozen=True)
class ItemView:
    """What the touchscreen shows now, with every deadline the engine enforces."""

    session_id: str
    state: str
    position: int
    total: int
    item: dict[str, Any] | None
    answer_id: str | None
    phase: str  # "thinking" | "recording" | "finished" | "done" | "not_started"
    think_left_s: float | None
    answer_left_s: float | None
    retakes_left: int
    attempt: int
    follow_up: dict[str, Any] | None = None
    """A follow-up question the box chose for this answer (STAR element, prompt, language)."""
    think_time_s: float | None = None
    """The whole time to think (or prepare) the timer allows, extra time included."""
    answer_time_s: float | None = None
    """The whole time to answer (or do the task) the timer allows, extra time included: what
    the item's texts say as {answer_time}."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Interview:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    # -- helpers -----------------------------------------------------------------

    def items(self, db: Database, session: SessionRow) -> list[dict[str, Any]]:
        """The items of the package version the session started with, in order, as JSON
        objects (keys sorted, as the touchscreen receives them)."""
        return [json.loads(dumps(item.model_dump(mode="json")))
                for item in session_package(db, session).items]

    def _current_answer(self, db: Database, session: SessionRow) -> AnswerRow | None:
        return answer_rows.current(db, session.id, session.position)

    def _retakes_used(self, db: Database, session: SessionRow) -> int:
        return answer_rows.retakes_used(db, session.id, session.position)

    @staticmethod
    def _require_running(session: SessionRow, doing: str) -> None:
        if session.state != "in_progress":
            state = session.state
            raise SessionStateError(
                f"cannot {doing}: the session is {state}, not in progress", state=state,
                allowed=allowed_actions(state),
            )

    def _deadlines(self, answer: AnswerRow, t: Timing) -> tuple[Stamp, float, float]:
        """(presented, think deadline, answer deadline) as seconds after presentation."""
        presented = answer.presented
        think_end = t.think_s
        started = answer.started
        start_offset = think_end
        if started is not None:
            since = elapsed_s(presented, started)
            start_offset = min(since if since is not None else think_end, think_end)
        return presented, think_end, start_offset + t.answer_s

    def _since(self, answer: AnswerRow, now: Stamp) -> float:
        spent = elapsed_s(answer.presented, now)
        return math.inf if spent is None else spent

    # -- reading -----------------------------------------------------------------

    def view(self, session_id: str) -> ItemView:
        now = self.store.now()
        with self.store.read() as db:
            session = self.engine.get(db, session_id)
            return self._view(db, session, now)

    def _view(self, db: Database, session: SessionRow, now: Stamp) -> ItemView:
        items = self.items(db, session)
        pos = session.position
        item = items[pos] if pos < len(items) else None
        answer = self._current_answer(db, session) if item else None
        t = timing(item, session.extra_time_pct) if item else Timing(0, 0, 0)
        retakes_left = max(t.retakes - self._retakes_used(db, session), 0) if item else 0
        phase, think_left, answer_left = "not_started", None, None
        if item is None:
            phase = "done"
        elif answer is not None:
            _, think_end, answer_end = self._deadlines(answer, t)
            since = self._since(answer, now)
            if answer.state == "presented":
                phase, think_left = "thinking", max(think_end - since, 0.0)
            elif answer.state == "recording":
                phase, answer_left = "recording", max(answer_end - since, 0.0)
            else:
                phase = "finished"
        return ItemView(
            session_id=session.id, state=session.state, position=pos, total=len(items),
            item=item, answer_id=answer.id if answer else None, phase=phase,
            think_left_s=think_left, answer_left_s=answer_left, retakes_left=retakes_left,
            attempt=answer.attempt if answer else 0,
            follow_up=json.loads(answer.follow_up) if answer and answer.follow_up else None,
            think_time_s=t.think_s if item else None, answer_time_s=t.answer_s if item else None,
        )

    # -- actions -----------------------------------------------------------------

    def present(self, session_id: str) -> ItemView:
        """Show the current item (idempotent: a reload keeps the running clock)."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.engine.get(db, session_id)
            actor = Actor(CANDIDATE, session_id)
            if session.state == "consented":
                self.engine.transition(db, session, "begin", actor, now,
                                       updates={"started": stamp_json(now)})
                session = self.engine.get(db, session_id)
            self._require_running(session, "present a question")
            items = self.items(db, session)
            if session.position < len(items) and self._current_answer(db, session) is None:
                self._new_attempt(db, session, items[session.position], now, retake=False)
            return self._view(db, session, now)

    def _new_attempt(self, db: Database, session: SessionRow, item: dict[str, Any],
                     now: Stamp, *, retake: bool) -> str:
        return answer_rows.add_take(db, session.id, item["id"], session.position, item["kind"],
                                    now, retake=retake)

    def start_answer(self, session_id: str) -> ItemView:
        """Start recording the current item. Late starts eat into the answer time."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.engine.get(db, session_id)
            self._require_running(session, "start recording")
            answer = self._current_answer(db, session)
            if answer is None or answer.state != "presented":
                raise SessionRuleError("there is no question waiting to be answered")
            answer_rows.start_recording(db, answer.id, now)
            return self._view(db, session, now)

    def finish_answer(self, session_id: str) -> ItemView:
        """Stop recording; time past the limit is cut off and the answer marked timed out."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.engine.get(db, session_id)
            self._require_running(session, "finish an answer")
            answer = self._current_answer(db, session)
            if answer is None or answer.state != "recording":
                raise SessionRuleError("no answer is being recorded")
            self._finish(db, session, answer, now)
            return self._view(db, session, now)

    def _finish(self, db: Database, session: SessionRow, answer: AnswerRow,
                now: Stamp) -> None:
        items = self.items(db, session)
        t = timing(items[answer.position], session.extra_time_pct)
        _, _, answer_end = self._deadlines(answer, t)
        since = self._since(answer, now)
        started = answer.started
        assert started is not None
        start_offset = self._since(answer, started)
        end_offset = min(since, answer_end)
        duration = max(end_offset - min(start_offset, end_offset), 0.0)
        answer_rows.finish(db, answer.id, now, duration, since > answer_end)
        usage.add_answer(db, session.id, duration)

    def retake(self, session_id: str) -> ItemView:
        """Record the current item again, if the package allows another take."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.engine.get(db, session_id)
            self._require_running(session, "retake an answer")
            answer = self._current_answer(db, session)
            if answer is None or answer.state != "finished":
                raise SessionRuleError("only a finished answer can be retaken")
            items = self.items(db, session)
            item = items[session.position]
            allowed = timing(item, session.extra_time_pct).retakes
            if self._retakes_used(db, session) >= allowed:
                raise SessionRuleError(f"no retakes left for this question (allowed: {allowed})")
            answer_rows.supersede(db, answer.id)
            self._new_attempt(db, session, item, now, retake=True)
            return self._view(db, session, now)

    def advance(self, session_id: str) -> ItemView:
        """Move on after a finished answer; after the last item the session completes."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.engine.get(db, session_id)
            self._require_running(session, "move to the next question")
            answer = self._current_answer(db, session)
            if answer is None or answer.state != "finished":
                raise SessionRuleError("answer the current question first")
            items = self.items(db, session)
            position = session.position + 1
            session_rows.set_position(db, session.id, position)
            session = self.engine.get(db, session_id)
            if position >= len(items):
                self.engine.transition(db, session, "complete", Actor(CANDIDATE, session_id),
                                       now)
                session = self.engine.get(db, session_id)
            else:
                self._new_attempt(db, session, items[position], now, retake=False)
            return self._view(db, session, now)

    def interrupt(self, answer_id: str) -> bool:
        """A recording the box could not finish (it restarted mid-answer): that take is
        kept as ``interrupted`` and the item is asked again, not counted as a retake."""
        now = self.store.now()
        with self.store.transaction() as db:
            answer = answer_rows.get(db, answer_id)
            if answer is None or answer.state != "recording":
                return False
            answer_rows.interrupt(db, answer_id, now)
            session = self.engine.get(db, answer.session_id)
            if session.state == "in_progress" and session.position == answer.position:
                item = self.items(db, session)[answer.position]
                self._new_attempt(db, session, item, now, retake=False)
            return True

    def finish_overdue(self) -> int:
        """Close recordings whose time limit has passed (run periodically by the server)."""
        now = self.store.now()
        closed = 0
        with self.store.read() as db:
            recording = answer_rows.recording_in_running(db)
        for answer in recording:
            with self.store.transaction() as db:
                session = self.engine.get(db, answer.session_id)
                current = self._current_answer(db, session)
                if current is None or current.id != answer.id:
                    continue
                if current.state != "recording":
                    continue
                t = timing(self.items(db, session)[current.position],
                           session.extra_time_pct)
                if self._since(current, now) >= self._deadlines(current, t)[2]:
                    self._finish(db, session, current, now)
                    closed += 1
        return closed


def final_answers(db: Database, session_id: str) -> list[AnswerRow]:
    """The answer that counts for each item: its latest finished attempt."""
    return answer_rows.finished(db, session_id)
