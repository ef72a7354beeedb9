"""Who may do what to which session.

``technician``: device operations only. ``site_hr``: sessions of the jobs its token is
scoped to. ``admin``: everything. Sessions flagged important in the roster can only be
terminated by an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from device.audit import Actor
from device.errors import PermissionDeniedError

if TYPE_CHECKING:
    from device.sessions.session_rows import SessionRow


@dataclass(frozen=True)
class Staff:
    name: str
    role: str
    jobs: frozenset[str] = frozenset()

    @property
    def actor(self) -> Actor:
        return Actor(self.role, self.name)

    def sees_job(self, job_id: str) -> bool:
        return self.role == "admin" or (self.role == "site_hr" and job_id in self.jobs)


def require_role(staff: Staff, *roles: str, doing: str) -> None:
    if staff.role not in roles:
        raise PermissionDeniedError(
            f"role {staff.role} cannot {doing} (needs {' or '.join(roles)})"
        )


def authorize_session_action(staff: Staff, action: str, session: SessionRow) -> None:
    """Raise PermissionDeniedError naming why ``staff`` may not act on this session."""
    words = action.replace("_", " ")
    require_role(staff, "site_hr", "admin", doing=f"{words} sessions")
    if not staff.sees_job(session.job_id):
        raise PermissionDeniedError(
            f"token {staff.name} is not scoped to job {session.job_id}"
        )
    if action == "terminate" and session.important and staff.role != "admin":
        raise PermissionDeniedError(
            "this session is flagged important: only an admin can terminate it"
        )


def explain_refusal(staff: Staff, action: str, session: SessionRow) -> str | None:
    """Why an action is not available to this staff member, for UIs; None if it is."""
    try:
        authorize_session_action(staff, action, session)
    except PermissionDeniedError as exc:
        return str(exc)
    return None
