"""What each staff role may do, mirrored from the box's policy so the UI can disable an
action and say why before asking. The API stays the judge: a refusal it returns is shown
as it words it."""

from __future__ import annotations

#: what a role without "results" is told on the Reports screen
REPORTS_FOR = "Reports are for site HR and admins."

#: action group -> (roles allowed, what the refusal says the role cannot do)
RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("site_hr", "admin"), "pause sessions"),
    "resume": (("site_hr", "admin"), "resume sessions"),
    "terminate": (("site_hr", "admin"), "terminate sessions"),
    "revoke": (("site_hr", "admin"), "revoke sessions"),
    "undo_terminate": (("site_hr", "admin"), "undo terminate sessions"),
    "results": (("site_hr", "admin"), "see or score a candidate's results"),
    "sync": (("technician", "admin"), "change delivery to central"),
    "logs": (("technician", "admin"), "read the logs"),
    "selftest": (("technician", "admin"), "run self-tests"),
    "enrol": (("technician", "admin"), "enrol the box"),
}


def refusal(role: str | None, action: str) -> str | None:
    """Why ``role`` may not do ``action`` (the API's wording), or None if it may."""
    roles, doing = RULES[action]
    if role is None or role in roles:
        return None
    return f"role {role} cannot {doing} (needs {' or '.join(roles)})"
