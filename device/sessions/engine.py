"""The interview session engine: every state change, and what goes with it.

A transition is one SQLite transaction holding the session's new state, the usage
accounting, an audit entry and the outbox message announcing it to central. A staff
terminate is held back from central for the undo window; undoing it withdraws the
held messages, so central only ever hears of the decision that stood.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import Stamp, elapsed_s
from device.config import SessionConfig
from device.errors import (
    ExpiredCodeError,
    InvalidCodeError,
    KioskError,
    NotFoundError,
    SessionRuleError,
)
from device.jobs.installed import session_package
from device.jobs.language_gate import LanguageGate
from device.sessions import answer_rows, recovery, results, session_rows, usage
from device.sessions.code_limiter import CodeLimiter
from device.sessions.codes import hash_code, hash_token, new_code, new_token
from device.sessions.session_rows import SessionRow
from device.sessions.transitions import FINAL_STATES, resume_state, target
from device.staff.policy import Staff, authorize_session_action
from device.storage.database import Store, stamp_json
from shared.contract import MessageKind

log = logging.getLogger(__name__)

CANDIDATE = "candidate"


@dataclass(frozen=True)
class Opened:
    """A candidate's hold on a session: the token the touchscreen uses from now on."""

    session_id: str
    token: str
    state: str


@dataclass
class BatchResult:
    ok: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


class Engine:
    """Owns session state. Thread-safe through the store's lock."""

    def __init__(
        self, store: Store, rules: SessionConfig, identity: Identity, code_key: bytes,
        languages: LanguageGate | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.identity = identity
        self.code_key = code_key
        #: Which interview languages the box can analyse (read from its installed models).
        self.languages = languages or LanguageGate.off()
        self.limiter = CodeLimiter(rules.checkin_max_failures, rules.checkin_lockout_s,
                                   rules.checkin_global_free, rules.checkin_backoff_max_s)
        #: Called inside a transition's transaction when a session reaches a final
        #: state, so later stages (analysis, results) can add to the same transaction.
        self.on_final: list[Callable[[Database, SessionRow, Stamp], None]] = []
        #: Checks run when an invited session checks in (never on a resume); one that
        #: raises refuses the new session (the storage budget, for one).
        self.admission: list[Callable[[], None]] = []

    # -- reading -----------------------------------------------------------------

    def get(self, db: Database, session_id: str) -> SessionRow:
        found = session_rows.get(db, session_id)
        if found is None:
            raise NotFoundError(f"no session {session_id}")
        return found

    def session(self, session_id: str) -> SessionRow:
        with self.store.read() as db:
            return self.get(db, session_id)

    def by_token(self, token: str) -> SessionRow:
        with self.store.read() as db:
            found = session_rows.by_hash(db, "token_hash", hash_token(token))
        if found is None:
            raise NotFoundError("this session link is no longer valid")
        return found

    # -- the one place state changes ---------------------------------------------

    def transition(
        self,
        db: Database,
        session: SessionRow,
        action: str,
        actor: Actor,
        now: Stamp,
        *,
        reason: str | None = None,
        updates: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Apply ``action`` inside the caller's transaction; return the new state."""
        state = session.state
        to = target(action, state, resume_state(started=session.started is not None,
                                                consented=session.consent_version is not None))
        self._account(db, session, to, now)
        values = {
            "state": to,
            "previous_state": state,
            "state_since": stamp_json(now),
            "state_reason": reason,
            "state_actor": actor.label(),
            **(updates or {}),
        }
        if to in FINAL_STATES:
            # the candidate's token now only shows the receipt (see receipt_session)
            values.update(ended=stamp_json(now), token_hash=None, resume_hash=None,
                          invite_hash=None, receipt_hash=session.token_hash)
        session_rows.update(db, session.id, values)
        audit.append(
            db, now, actor, f"session.{action}", subject=session.id, reason=reason,
            details={"from": state, "to": to, **(details or {})},
        )
        hold = self._undo_deadline(now) if to == "terminated" else None
        body = {"from": state, "to": to, "action": action, "reason": reason,
                "actor_role": actor.role, "job_id": session.job_id,
                "job_version": session.job_version, "candidate_id": session.candidate_id}
        self._announce(db, session, now, "session.state", body, hold)
        if to in FINAL_STATES:
            fresh = self.get(db, session.id)
            if to in results.RESULT_STATES:
                summary = results.record(db, fresh, now)
                self._announce(db, session, now, "session.result", summary, hold)
            for hook in self.on_final:
                hook(db, fresh, now)
            self._announce(db, session, now, "usage", self._usage_body(db, session.id), hold)
        return to

    def _announce(
        self, db: Database, session: SessionRow, now: Stamp, kind: MessageKind,
        body: dict[str, Any], hold: Stamp | None = None,
    ) -> str:
        return outbox.enqueue(
            db, self.identity, now, kind, body, session_id=session.id,
            drill=session.drill, hold_until=hold,
        )

    def _undo_deadline(self, now: Stamp) -> Stamp:
        window = self.rules.undo_window_min * 60
        return Stamp(utc=now.utc, mono=now.mono + window, boot=now.boot, synced=now.synced)

    def _account(self, db: Database, session: SessionRow, to: str, now: Stamp) -> None:
        spent = max(elapsed_s(session.state_since, now) or 0.0, 0.0)
        usage.account_state(db, session.id, session.state, spent, now, pausing=to == "paused")

    def _usage_body(self, db: Database, session_id: str) -> dict[str, Any]:
        used = usage.get(db, session_id)
        assert used is not None
        return used.message_body()

    # -- candidate: check-in, consent, exit, resume ------------------------------

    def _by_code(self, db: Database, purpose: str, code: str, now: Stamp) -> SessionRow:
        """The session a code opens; a wrong code counts against its prefix and the kiosk."""
        column: session_rows.HashColumn = "invite_hash" if purpose == "invite" else "resume_hash"
        session = session_rows.by_hash(db, column, hash_code(self.code_key, purpose, code))
        if session is None:
            self.limiter.failed(code, now.mono)
            raise InvalidCodeError(
                f"this {purpose} code is not known here; check it or ask staff")
        return session

    def check_in(self, code: str, language: str | None = None, *,
                 from_screen: bool = False) -> Opened:
        """Open an invited session by its invite code; on this kiosk's own screen, the code
        also takes an unfinished session up again after a lost tab (see ``recovery``)."""
        now = self.store.now()
        self.limiter.check(code, now.mono)
        with self.store.transaction() as db:
            session = self._by_code(db, "invite", code, now)
            if session.state != "invited":
                if not recovery.recoverable(session, from_screen):
                    self.limiter.failed(code, now.mono)
                    raise InvalidCodeError("this invite code is not known here; check it or"
                                           " ask staff")
                token = recovery.recover(db, session, now)
                self.limiter.succeeded(code)
                return Opened(session.id, token, session.state)
            for admit in self.admission:
                admit()
            if self.languages.gating:  # never in a language the box cannot analyse
                job = session_package(db, session).job
                self.languages.require_language(
                    language or session.language or job.language, job.languages,
                    session_id=session.id)
            token = new_token()
            # the invite code stays (hashed) until the end: a lost tab comes back with it
            updates: dict[str, Any] = {"token_hash": hash_token(token)}
            if language:
                updates["language"] = language
            state = self.transition(db, session, "check_in", Actor(CANDIDATE, session.id),
                                    now, updates=updates)
        self.limiter.succeeded(code)
        return Opened(session.id, token, state)

    def consent(
        self, session_id: str, *, accept: bool, consent_version: str,
        expression_analysis: bool = False,
    ) -> str:
        """Record the candidate's answer to the consent screen."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.get(db, session_id)
            expected = self._consent_version(db, session)
            if accept and consent_version != expected:
                raise SessionRuleError(
                    f"consent text version {consent_version!r} is not the current one "
                    f"({expected!r}); reload the consent screen"
                )
            actor = Actor(CANDIDATE, session_id)
            if not accept:
                return self.transition(db, session, "decline", actor, now,
                                       reason="candidate declined recording consent")
            return self.transition(
                db, session, "consent", actor, now,
                updates={"consent_version": consent_version,
                         "expression_consent": int(expression_analysis)},
                details={"consent_version": consent_version,
                         "expression_analysis": expression_analysis},
            )

    def _consent_version(self, db: Database, session: SessionRow) -> str:
        return str(session_package(db, session).consent.version)

    def _pause(
        self, db: Database, session: SessionRow, action: str, actor: Actor, now: Stamp,
        reason: str | None, *, keep_token: bool,
    ) -> str:
        """Pause (staff) or exit (candidate): interrupt the open answer, issue a resume code."""
        code = new_code(self.rules.code_length)
        answer_rows.interrupt_open(db, session.id, now)
        updates: dict[str, Any] = {"resume_hash": hash_code(self.code_key, "resume", code)}
        if not keep_token:
            updates["token_hash"] = None
        self.transition(db, session, action, actor, now, reason=reason, updates=updates)
        return code

    def exit(self, session_id: str, reason: str = "candidate chose to leave") -> str:
        """The candidate leaves; progress is kept. Returns the resume code to show."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.get(db, session_id)
            return self._pause(db, session, "exit", Actor(CANDIDATE, session_id), now, reason,
                               keep_token=False)

    def pause_for_device(self, session_id: str, reason: str) -> str | None:
        """A device stopped mid-interview: pause with the reason (the candidate's screen
        keeps its token and shows why); None when the session was not running."""
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.get(db, session_id)
            if session.state not in ("consented", "in_progress"):
                return None
            return self._pause(db, session, "pause", audit.SYSTEM, now, reason, keep_token=True)

    def resume_by_code(self, code: str) -> Opened:
        now = self.store.now()
        self.limiter.check(code, now.mono)
        with self.store.transaction() as db:
            session = self._by_code(db, "resume", code, now)
            if session.state == "paused" and self._pause_expired(session, now):
                self.transition(db, session, "expire", audit.SYSTEM, now,
                                reason="resume window passed")
                expired = True
            else:
                expired = False
                token = new_token()
                state = self.transition(
                    db, session, "resume", Actor(CANDIDATE, session.id), now,
                    reason="candidate resumed with code",
                    updates={"token_hash": hash_token(token), "resume_hash": None},
                )
        if expired:
            hours = self.rules.resume_window_h
            raise ExpiredCodeError(
                f"this resume code has expired (sessions can be resumed within {hours:g} h); "
                "please ask staff"
            )
        self.limiter.succeeded(code)
        return Opened(session.id, token, state)

    def _pause_expired(self, session: SessionRow, now: Stamp) -> bool:
        spent = elapsed_s(session.state_since, now)
        # An unmeasurable pause (reboot with no synchronised clock) is not held against
        # the candidate.
        return spent is not None and spent >= self.rules.resume_window_h * 3600

    # -- staff -------------------------------------------------------------------

    def staff_action(
        self, staff: Staff, action: str, session_ids: Iterable[str], reason: str
    ) -> BatchResult:
        """Pause, resume, terminate, revoke or undo a terminate, for one or many sessions.

        Each session is its own transaction: one refusal does not hold up the rest.
        """
        reason = reason.strip()
        if not reason:
            raise SessionRuleError("a reason is required for every staff action")
        result = BatchResult()
        for session_id in dict.fromkeys(session_ids):
            try:
                outcome = self._staff_one(staff, action, session_id, reason)
                result.ok.append({"session_id": session_id, **outcome})
            except KioskError as exc:
                result.failed.append({"session_id": session_id, "error": exc.code,
                                      "detail": str(exc)})
        return result

    def _staff_one(self, staff: Staff, action: str, session_id: str, reason: str
                   ) -> dict[str, Any]:
        now = self.store.now()
        with self.store.transaction() as db:
            session = self.get(db, session_id)
            authorize_session_action(staff, action, session)
            actor = staff.actor
            if action == "pause":
                code = self._pause(db, session, "pause", actor, now, reason, keep_token=True)
                return {"state": "paused", "resume_code": code}
            if action == "undo_terminate":
                return self._undo_terminate(db, session, actor, now, reason)
            if action == "resume" and session.state == "paused":
                state = self.transition(db, session, "resume", actor, now, reason=reason,
                                        updates={"resume_hash": None})
                return {"state": state}
            if action in ("resume", "terminate", "revoke"):
                return {"state": self.transition(db, session, action, actor, now, reason=reason)}
            raise SessionRuleError(f"unknown staff action {action!r}")

    def _undo_terminate(
        self, db: Database, session: SessionRow, actor: Actor, now: Stamp, reason: str
    ) -> dict[str, Any]:
        target("undo_terminate", session.state)
        spent = elapsed_s(session.state_since, now)
        window = self.rules.undo_window_min * 60
        if spent is None or spent > window:
            raise SessionRuleError(
                f"a terminate can only be undone within {self.rules.undo_window_min:g} minutes"
            )
        held = outbox.held(db, session.id)
        if any(r.status != "pending" for r in held):
            raise SessionRuleError("the terminate has already been delivered to central")
        outbox.withdraw_held(db, session.id)
        code = new_code(self.rules.code_length)
        state = self.transition(
            db, session, "undo_terminate", actor, now, reason=reason,
            updates={"resume_hash": hash_code(self.code_key, "resume", code), "ended": None},
            details={"withdrawn_messages": len(held)},
        )
        return {"state": state, "resume_code": code}

    # -- housekeeping ------------------------------------------------------------

    def expire_due(self) -> list[str]:
        """Expire paused sessions whose resume window has passed."""
        now = self.store.now()
        expired = []
        with self.store.read() as db:
            paused = session_rows.in_state(db, "paused")
        for session in paused:
            if not self._pause_expired(session, now):
                continue
            with self.store.transaction() as db:
                fresh = self.get(db, session.id)
                if fresh.state == "paused" and self._pause_expired(fresh, now):
                    self.transition(db, fresh, "expire", audit.SYSTEM, now,
                                    reason="resume window passed")
                    expired.append(session.id)
        return expired


def new_session_id() -> str:
    return str(uuid.uuid4())

