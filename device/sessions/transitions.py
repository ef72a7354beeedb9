"""The interview session's state machine, as data.

``invited → checked_in → consented → in_progress ⇄ paused → completed``, plus
``terminated`` (staff, final, data kept; undoable for a short window), ``revoked``
(cancelled before it started), ``expired`` (pause window passed) and ``declined``
(the candidate declined to be recorded).
"""

from __future__ import annotations

from device.errors import SessionStateError

PAUSABLE = ("checked_in", "consented", "in_progress")

#: action -> {from state: to state}; "resume" goes back to where the interview stood,
#: derived from the session's record (see :func:`resume_state`).
TRANSITIONS: dict[str, dict[str, str]] = {
    "check_in": {"invited": "checked_in"},
    "consent": {"checked_in": "consented"},
    "decline": {"checked_in": "declined"},
    "begin": {"consented": "in_progress"},
    "complete": {"in_progress": "completed"},
    "pause": {s: "paused" for s in PAUSABLE},
    "exit": {s: "paused" for s in PAUSABLE},
    "resume": {"paused": "@resume"},
    "terminate": {s: "terminated" for s in (*PAUSABLE, "paused")},
    "revoke": {"invited": "revoked", "checked_in": "revoked", "consented": "revoked"},
    "undo_terminate": {"terminated": "paused"},
    "expire": {"paused": "expired"},
}

FINAL_STATES = ("completed", "terminated", "revoked", "expired", "declined")

#: Actions staff may take from the local API or the terminal UI.
STAFF_ACTIONS = ("pause", "resume", "terminate", "revoke", "undo_terminate")


def allowed_actions(state: str) -> list[str]:
    return [action for action, table in TRANSITIONS.items() if state in table]


def resume_state(started: bool, consented: bool) -> str:
    """Where a paused session continues: never past a step the candidate has not taken."""
    if started:
        return "in_progress"
    return "consented" if consented else "checked_in"


def target(action: str, state: str, resume_to: str = "checked_in") -> str:
    """The state ``action`` leads to from ``state``, or SessionStateError."""
    table = TRANSITIONS[action]
    if state not in table:
        allowed = allowed_actions(state)
        raise SessionStateError(
            f"cannot {action.replace('_', ' ')} a session that is {state}; "
            f"allowed from {state}: {', '.join(allowed) or 'nothing (it is final)'}",
            state=state,
            allowed=allowed,
        )
    to = table[state]
    return resume_to if to == "@resume" else to
