"""Authentication for the local API: session tokens for candidates, bearer for staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from device.composition import Kiosk
from device.errors import AuthenticationError, NotFoundError
from device.sessions.session_rows import SessionRow
from device.staff import tokens
from device.staff.policy import Staff

session_header = APIKeyHeader(
    name="X-Session-Token", auto_error=False,
    description="The candidate's session token, issued at check-in or resume.",
)
staff_bearer = HTTPBearer(auto_error=False, description="A staff token (kiosk token create).")


def kiosk(request: Request) -> Kiosk:
    found: Kiosk = request.app.state.kiosk
    return found


KioskDep = Annotated[Kiosk, Depends(kiosk)]


def candidate_session(
    k: KioskDep, token: Annotated[str | None, Depends(session_header)]
) -> SessionRow:
    if not token:
        raise AuthenticationError("missing X-Session-Token header")
    try:
        return k.engine.by_token(token)
    except NotFoundError as exc:  # a failing store stays a 503, not a bad token
        raise AuthenticationError(str(exc)) from None


def staff(
    k: KioskDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(staff_bearer)]
) -> Staff:
    if creds is None or not creds.credentials:
        raise AuthenticationError("missing bearer token (Authorization: Bearer ...)")
    return tokens.authenticate(k.store, creds.credentials)


SessionDep = Annotated[SessionRow, Depends(candidate_session)]
StaffDep = Annotated[Staff, Depends(staff)]
