"""Who is looking at a staff page: the login behind the cookie, re-checked on each request,
the page language, and the CSRF check of every form.

No valid login means a redirect to the login page. A technician's token is refused with a
page that says why. The token behind a login is looked up again on each request, so a
revoked token or a changed scope takes effect at once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from device.api.deps import KioskDep
from device.api.staff_page.strings import LANGUAGES, PageLanguage
from device.composition import Kiosk
from device.errors import AuthenticationError
from device.staff import tokens
from device.staff.logins import Login, Logins
from device.staff.policy import Staff

COOKIE = "kiosk_staff"
LOGIN_FORM_COOKIE = "kiosk_staff_form"
CONTENT_ROLES = ("site_hr", "admin")
FORM_TYPE = "application/x-www-form-urlencoded"


class LoginRequired(Exception):
    """No live login: the browser is sent to the login page."""


class PageRefused(Exception):
    """A request the staff page answers with a page saying why (``status``)."""

    def __init__(self, status: int, title_key: str, body_key: str) -> None:
        super().__init__(body_key)
        self.status = status
        self.title_key = title_key
        self.body_key = body_key


def logins(request: Request) -> Logins:
    found: Logins = request.app.state.staff_logins
    return found


def default_language(k: Kiosk) -> PageLanguage:
    configured = k.config.analysis.report_language
    return "zh-CN" if configured == "session" else configured


def as_language(value: str | None) -> PageLanguage | None:
    """``value`` if it is a language of the staff page, else None."""
    return next((lang for lang in LANGUAGES if lang == value), None)


def asked_language(request: Request) -> PageLanguage | None:
    return as_language(request.query_params.get("lang"))


def here(request: Request) -> str:
    """This page's URL without its language choice."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


@dataclass(frozen=True)
class Viewer:
    """A staff member with a live login who may see candidate content."""

    login: Login
    staff: Staff
    language: PageLanguage
    here: str
    explicit_language: bool


def _viewer(request: Request, k: Kiosk) -> Viewer:
    cookie = request.cookies.get(COOKIE)
    found = logins(request).find(cookie, k.store.now().mono)
    if found is None:
        raise LoginRequired
    try:
        staff = tokens.by_name(k.store, found.staff.name)
    except AuthenticationError:
        logins(request).end(cookie)
        raise LoginRequired from None
    found.staff = staff
    request.state.staff_login = found
    asked = asked_language(request)
    if asked is not None:
        found.language = asked
    chosen = as_language(found.language)
    request.state.staff_language = chosen or default_language(k)
    if staff.role not in CONTENT_ROLES:
        raise PageRefused(403, "refused.title", "refused.technician")
    return Viewer(found, staff, chosen or default_language(k), here(request), chosen is not None)


async def viewer(request: Request, k: KioskDep) -> Viewer:
    return await run_in_threadpool(_viewer, request, k)


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def form_fields(request: Request) -> dict[str, list[str]]:
    """A posted form's fields (URL-encoded, as browsers send forms without files)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise PageRefused(415, "csrf.title", "csrf.body")
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=True, max_num_fields=400)


FormDep = Annotated[dict[str, list[str]], Depends(form_fields)]


def first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def same(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two secrets, false when either is missing."""
    return bool(given and expected) and hmac.compare_digest(
        str(given).encode(), str(expected).encode())


def check_csrf(login: Login, form: dict[str, list[str]]) -> None:
    """Refuse a form that does not carry this login's CSRF token."""
    if not login.csrf_ok(first(form, "csrf")):
        raise PageRefused(403, "csrf.title", "csrf.body")
