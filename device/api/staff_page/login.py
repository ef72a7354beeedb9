"""Logging in to the staff page with a staff token (posted once, never in a URL) and out.

The login form carries a one-time value that must match a cookie set with the form (a
CSRF check before there is a login). A good token of site HR or an admin starts a login:
the browser gets an HttpOnly, SameSite=Strict cookie for ``/staff`` holding a random id,
and the box keeps the rest. Logins and logouts are audited.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from device import audit
from device.api.deps import KioskDep
from device.api.staff_page.access import (
    CONTENT_ROLES,
    COOKIE,
    LOGIN_FORM_COOKIE,
    FormDep,
    PageRefused,
    ViewerDep,
    as_language,
    asked_language,
    check_csrf,
    default_language,
    first,
    logins,
    same,
)
from device.api.staff_page.layout import PREFIX, e, message_page, page, url
from device.api.staff_page.strings import PageLanguage, t
from device.composition import Kiosk
from device.errors import AuthenticationError
from device.staff import tokens
from device.staff.logins import Login
from device.staff.policy import Staff

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FORM_COOKIE_S = 1800


def _form(k: Kiosk, language: PageLanguage, *, explicit: bool, error: str | None = None,
          status: int = 200) -> HTMLResponse:
    value = secrets.token_urlsafe(24)
    cfg = k.config.staff_page
    hint = t("login.hint", language, hours=f"{cfg.max_h:g}", minutes=f"{cfg.idle_min:g}")
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'{alert}<form method="post" action="{PREFIX}/login" class="login">'
        f'<input type="hidden" name="form" value="{e(value)}">'
        + (f'<input type="hidden" name="lang" value="{language}">' if explicit else "") +
        f'<label for="token">{e(t("login.token", language))}</label>'
        f'<input id="token" name="token" type="password" autocomplete="current-password"'
        f' required aria-describedby="login-hint" maxlength="200">'
        f'<p id="login-hint" class="hint">{e(hint)}</p>'
        f'<button type="submit">{e(t("login.submit", language))}</button></form>'
    )
    response = page(t("login.title", language), body, language, here=f"{PREFIX}/login",
                    status=status)
    response.set_cookie(LOGIN_FORM_COOKIE, value, max_age=FORM_COOKIE_S, path=PREFIX,
                        httponly=True, samesite="strict")
    return response


@router.get("/login")
def login_form(request: Request, k: KioskDep) -> HTMLResponse:
    asked = asked_language(request)
    return _form(k, asked or default_language(k), explicit=asked is not None)


def _audited_login(k: Kiosk, staff: Staff, action: str) -> None:
    now = k.store.now()
    with k.store.transaction() as db:
        audit.append(db, now, staff.actor, action, subject=staff.name)


@router.post("/login")
async def login(request: Request, k: KioskDep, form: FormDep) -> Response:
    asked = as_language(first(form, "lang"))
    language = asked or default_language(k)
    explicit = asked is not None
    if not same(first(form, "form"), request.cookies.get(LOGIN_FORM_COOKIE)):
        return _form(k, language, explicit=explicit, error=t("login.expired_form", language),
                     status=403)
    token = (first(form, "token") or "").strip()
    try:
        staff = await run_in_threadpool(tokens.authenticate, k.store, token)
    except AuthenticationError:
        return _form(k, language, explicit=explicit, error=t("login.bad_token", language),
                     status=401)
    if staff.role not in CONTENT_ROLES:
        return message_page("refused.title", "refused.technician", language,
                            here=f"{PREFIX}/login", status=403)
    logins(request).end(request.cookies.get(COOKIE))  # a new login never reuses an id
    login_id, made = logins(request).begin(staff, k.store.now().mono)
    made.language = asked
    await run_in_threadpool(_audited_login, k, staff, "staff_page.login")
    response = RedirectResponse(url("/"), status_code=303)
    response.set_cookie(COOKIE, login_id, path=PREFIX, httponly=True, samesite="strict")
    response.delete_cookie(LOGIN_FORM_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep, form: FormDep, k: KioskDep) -> Response:
    check_csrf(viewer.login, form)
    logins(request).end(request.cookies.get(COOKIE))
    _audited_login(k, viewer.staff, "staff_page.logout")
    response = RedirectResponse(url("/login", lang=viewer.language), status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


def refused(exc: PageRefused, language: PageLanguage, where: str,
            signed_in: Login | None) -> HTMLResponse:
    """The page for a refused request (with the logout button when logged in)."""
    back = url("/") if signed_in is not None and signed_in.staff.role in CONTENT_ROLES else None
    return message_page(exc.title_key, exc.body_key, language, here=where, status=exc.status,
                        login=signed_in, link=back)
