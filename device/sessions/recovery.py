"""Taking an interview up again on the same kiosk after its tab was lost.

The touchscreen keeps the session token in the tab only; when the tab is lost (Chromium
restarted, the page closed), the candidate has nothing but their invite code. Re-entering it
at check-in opens the session again, without staff, only when:

- the session is unfinished and running (checked in, consented or in progress: a paused one
  has its resume code, a finished one is over),
- the request comes from this kiosk's own screen (a loopback connection: the touchscreen is
  Chromium on the box; another kiosk or a laptop on the network is refused),
- and the code is right (a wrong one counts against the wrong-code limiter as always).

A new token is issued and the old one stops working at once, so a tab that was only hidden
cannot go on beside the new one. Every recovery is audited.
"""

from __future__ import annotations

import ipaddress

from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.clock import Stamp
from device.sessions import session_rows
from device.sessions.codes import hash_token, new_token
from device.sessions.session_rows import SessionRow

#: Sessions a lost tab may take up again with the invite code.
RECOVERABLE = ("checked_in", "consented", "in_progress")
CANDIDATE = "candidate"


def from_screen(host: str | None) -> bool:
    """Whether a request came from this kiosk's own screen (a loopback address)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def recoverable(session: SessionRow, screen: bool) -> bool:
    return screen and session.state in RECOVERABLE


def recover(db: Database, session: SessionRow, now: Stamp) -> str:
    """Issue the session a new token in the caller's transaction, revoking the old one;
    return the new token."""
    token = new_token()
    session_rows.update(db, session.id, {"token_hash": hash_token(token)})
    audit.append(db, now, Actor(CANDIDATE, session.id), "session.recovered",
                 subject=session.id,
                 reason="the invite code was entered again on this kiosk's screen",
                 details={"state": session.state, "old_token_revoked": True})
    return token
