"""Endpoints the touchscreen calls. Every timing decision is the engine's."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from device.api.deps import KioskDep, SessionDep, session_header
from device.audit import SYSTEM
from device.clock import elapsed_s
from device.composition import Kiosk
from device.errors import AuthenticationError
from device.jobs.installed import session_package
from device.sessions import session_rows
from device.sessions.codes import hash_token
from device.sessions.interview import ItemView
from device.sessions.receipt import RECEIPT_WINDOW_MIN, receipt
from device.sessions.recovery import from_screen
from device.sessions.session_rows import SessionRow

router = APIRouter(prefix="/api/v1", tags=["candidate"])

Language = Literal["zh-CN", "en", "ko"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeIn(_Body):
    code: str = Field(min_length=4, max_length=40, description="Invite or resume code.")
    language: Language | None = Field(None, description="Interview language chosen on screen.")


class OpenedOut(BaseModel):
    session_id: str
    token: str = Field(description="Send as X-Session-Token on every further call.")
    state: str


class ConsentIn(_Body):
    accept: bool = Field(description="True: agree to be recorded. False: decline and end.")
    consent_version: str = Field(min_length=1, max_length=32,
                                 description="Version of the consent text that was shown.")
    expression_analysis: bool = Field(
        False, description="Separate, optional consent to facial-expression analysis.")


class StateOut(BaseModel):
    state: str


class ExitOut(BaseModel):
    state: str
    resume_code: str = Field(description="Show it as text and QR code; needed to come back.")
    resume_window_h: float
    resume_qr_svg: str = Field(description="The resume code as a QR code (SVG document).")


class LanguagesOut(BaseModel):
    languages: list[Language] = Field(
        description="Interview languages this box can analyse now (a speech model serves"
        " each), in the touchscreen's order; all of them when analysis is off or no model is"
        " installed yet.")


@router.get("/languages", response_model=LanguagesOut,
            summary="Languages the touchscreen offers: those the box can analyse")
def languages(k: KioskDep) -> LanguagesOut:
    return LanguagesOut.model_validate({"languages": k.engine.languages.languages()})


@router.post("/checkin", response_model=OpenedOut, summary="Check in with an invite code")
def check_in(body: CodeIn, k: KioskDep, request: Request) -> OpenedOut:
    """The invite code opens an invited session; on this kiosk's own screen it also takes an
    unfinished one up again after a lost tab, with a new token (the old one stops working)."""
    screen = from_screen(request.client.host if request.client else None)
    opened = k.engine.check_in(body.code, language=body.language, from_screen=screen)
    return OpenedOut(session_id=opened.session_id, token=opened.token, state=opened.state)


@router.post("/resume", response_model=OpenedOut, summary="Come back with a resume code")
def resume(body: CodeIn, k: KioskDep) -> OpenedOut:
    opened = k.engine.resume_by_code(body.code)
    return OpenedOut(session_id=opened.session_id, token=opened.token, state=opened.state)


@router.get("/session", summary="The session, its consent text and the current item")
def get_session(session: SessionDep, k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        package = session_package(db, session)
    return {
        "session_id": session.id,
        "state": session.state,
        "language": session.language or package.job.language,
        "languages": list(k.engine.languages.coverage(package.job.languages).available),
        "job": {"id": package.job.id, "title": package.job.title},
        "consent": package.consent.model_dump(mode="json"),
        "drill": session.drill,
        "extra_time_pct": session.extra_time_pct,
        "pause_reason": pause_reason(session),
        "current": k.interview.view(session.id).to_dict(),
    }


def pause_reason(session: SessionRow) -> str | None:
    """Why a paused session is paused, as a code the touchscreen words in its language:
    ``microphone-lost``/``camera-lost`` (the box paused it), ``staff`` or ``candidate``."""
    if session.state != "paused":
        return None
    reason = session.state_reason or ""
    if session.state_actor == SYSTEM.label():
        code = reason.split(":", 1)[0]
        return code if code in ("microphone-lost", "camera-lost") else "system"
    return "candidate" if (session.state_actor or "").startswith("candidate") else "staff"


def _sync(k: Kiosk) -> None:
    """Let capture follow the engine at once (start or stop the answer's recording)."""
    if k.capture is not None and k.capture.running:
        k.capture.sync()


@router.post("/session/consent", response_model=StateOut, summary="Agree or decline")
def consent(body: ConsentIn, session: SessionDep, k: KioskDep) -> StateOut:
    state = k.engine.consent(session.id, accept=body.accept,
                             consent_version=body.consent_version,
                             expression_analysis=body.expression_analysis)
    return StateOut(state=state)


@router.post("/session/present", response_model=ItemView, summary="Show the current item")
def present(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.present(session.id)


@router.post("/session/answer/start", response_model=ItemView, summary="Start recording")
def start_answer(session: SessionDep, k: KioskDep) -> ItemView:
    if k.capture is not None and k.capture.running:
        k.capture.require_ready()  # 503 capture-unavailable; staff are alerted
    view = k.interview.start_answer(session.id)
    _sync(k)
    return view


@router.post("/session/answer/finish", response_model=ItemView, summary="Stop recording")
def finish_answer(session: SessionDep, k: KioskDep) -> ItemView:
    view = k.interview.finish_answer(session.id)
    _sync(k)
    return view


@router.post("/session/answer/retake", response_model=ItemView, summary="Record again")
def retake(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.retake(session.id)


@router.post("/session/next", response_model=ItemView, summary="Go to the next item")
def advance(session: SessionDep, k: KioskDep) -> ItemView:
    view = k.interview.advance(session.id)
    _sync(k)
    return view


@router.post("/session/exit", response_model=ExitOut, summary="Leave now, come back later")
def exit_session(session: SessionDep, k: KioskDep) -> ExitOut:
    code = k.engine.exit(session.id)
    _sync(k)
    return ExitOut(state="paused", resume_code=code,
                   resume_window_h=k.config.session.resume_window_h,
                   resume_qr_svg=qr_svg(code))


def qr_svg(code: str) -> str:
    """The code as a QR image, dark on light with a quiet zone, for phones to read."""
    qr = segno.make(code, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", xmldecl=False, scale=8, border=4, dark="#000", light="#fff")
    return out.getvalue().decode()


@router.get("/session/receipt", summary="What was recorded and shared; how to ask for deletion")
def get_receipt(k: KioskDep, token: Annotated[str | None, Depends(session_header)]
                ) -> dict[str, Any]:
    if not token:
        raise AuthenticationError("missing X-Session-Token header")
    session = receipt_session(k, token)
    with k.store.read() as db:
        return receipt(k.store, db, session)


def receipt_session(k: Kiosk, token: str) -> SessionRow:
    """The session of a live token, or of a token whose session ended a few minutes ago."""
    with k.store.read() as db:
        found = session_rows.by_hash(db, "token_hash", hash_token(token))
    if found is not None:
        return found
    with k.store.read() as db:
        found = session_rows.by_hash(db, "receipt_hash", hash_token(token))
    ended = found.ended if found else None
    spent = elapsed_s(ended, k.store.now()) if ended else None
    if found is None or spent is None or spent > RECEIPT_WINDOW_MIN * 60:
        raise AuthenticationError("this session link is no longer valid")
    return found
