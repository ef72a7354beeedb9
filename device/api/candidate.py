"""Endpoints the touchscreen calls. Every timing decision is the engine's."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from device.api.deps import KioskDep, SessionDep
from device.interview import ItemView
from device.jobs import active_package

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


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/checkin", response_model=OpenedOut, summary="Check in with an invite code")
def check_in(body: CodeIn, request: Request, k: KioskDep) -> OpenedOut:
    opened = k.engine.check_in(body.code, client=_client(request), language=body.language)
    return OpenedOut(session_id=opened.session_id, token=opened.token, state=opened.state)


@router.post("/resume", response_model=OpenedOut, summary="Come back with a resume code")
def resume(body: CodeIn, request: Request, k: KioskDep) -> OpenedOut:
    opened = k.engine.resume_by_code(body.code, client=_client(request))
    return OpenedOut(session_id=opened.session_id, token=opened.token, state=opened.state)


@router.get("/session", summary="The session, its consent text and the current item")
def get_session(session: SessionDep, k: KioskDep) -> dict[str, Any]:
    package = active_package(k.store, session["job_id"])
    return {
        "session_id": session["id"],
        "state": session["state"],
        "language": session["language"] or package.job.language,
        "languages": list(package.job.languages),
        "job": {"id": package.job.id, "title": package.job.title},
        "consent": package.consent.model_dump(mode="json"),
        "drill": bool(session["drill"]),
        "current": k.interview.view(session["id"]).to_dict(),
    }


@router.post("/session/consent", response_model=StateOut, summary="Agree or decline")
def consent(body: ConsentIn, session: SessionDep, k: KioskDep) -> StateOut:
    state = k.engine.consent(session["id"], accept=body.accept,
                             consent_version=body.consent_version,
                             expression_analysis=body.expression_analysis)
    return StateOut(state=state)


@router.post("/session/present", response_model=ItemView, summary="Show the current item")
def present(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.present(session["id"])


@router.post("/session/answer/start", response_model=ItemView, summary="Start recording")
def start_answer(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.start_answer(session["id"])


@router.post("/session/answer/finish", response_model=ItemView, summary="Stop recording")
def finish_answer(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.finish_answer(session["id"])


@router.post("/session/answer/retake", response_model=ItemView, summary="Record again")
def retake(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.retake(session["id"])


@router.post("/session/next", response_model=ItemView, summary="Go to the next item")
def advance(session: SessionDep, k: KioskDep) -> ItemView:
    return k.interview.advance(session["id"])


@router.post("/session/exit", response_model=ExitOut, summary="Leave now, come back later")
def exit_session(session: SessionDep, k: KioskDep) -> ExitOut:
    code = k.engine.exit(session["id"])
    return ExitOut(state="paused", resume_code=code,
                   resume_window_h=k.config.session.resume_window_h)
