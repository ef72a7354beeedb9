"""Central HR's console: an app of its own, served on its own port apart from device
ingest (``kiosk central console``).

Pages are rendered on the server; the only script-free stylesheet is ``/static/console.css``.
Every route but ``/login`` needs a session; every form POST carries the session's CSRF
token (the login form a cookie-bound one). Role and job-scope checks are in
:mod:`central.console.routes`; each refusal is a 403, for pages and the JSON API alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from central.console import auth, users
from central.console.auth import COOKIE, Login, LoginLimiter
from central.console.i18n import LANG_COOKIE, LANGS, Lang, choose, t
from central.console.layout import CSS, csrf_field, esc, page
from central.console.users import Role
from central.store import ReceiverStore

LOGIN_CSRF_COOKIE = "console_login_csrf"
MAX_FORM = 16 * 1024
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self';"
                               " form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """Answered 401 (no session), 403 (role or scope) or 404."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Ctx:
    """One request's signed-in user, language and store."""

    login: Login
    lang: Lang
    store: ReceiverStore

    @property
    def user(self) -> users.User:
        return self.login.user


@dataclass
class Console:
    store: ReceiverStore
    secure: bool
    limiter: LoginLimiter


def lang_of(request: Request) -> Lang:
    return choose(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                  request.headers.get("accept-language"))


def require(request: Request, *roles: Role) -> Ctx:
    """The signed-in user, refused unless their role is one of ``roles``."""
    console: Console = request.app.state.console
    login = auth.current(console.store, request.cookies.get(COOKIE))
    if login is None:
        raise Refused(401, "sign in first")
    if login.user.role not in roles:
        raise Refused(403, f"the {login.user.role} role may not use this")
    return Ctx(login, lang_of(request), console.store)


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form body (at most :data:`MAX_FORM` bytes), one value per field."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(413, "form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                         keep_blank_values=True).items()}


def check_csrf(ctx: Ctx, fields: dict[str, str]) -> None:
    if not auth.csrf_ok(ctx.login, fields.get("csrf")):
        raise Refused(403, "the form's CSRF token is missing or wrong")


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _login_form(lang: Lang, token: str, error: str | None = None) -> str:
    err = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = (f'{err}<form method="post" action="/login">{csrf_field(token)}'
            f'<label for="username">{esc(t("username", lang))}</label>'
            '<input id="username" name="username" autocomplete="username" required>'
            f'<label for="password">{esc(t("password", lang))}</label>'
            '<input id="password" name="password" type="password"'
            ' autocomplete="current-password" required>'
            f'<p><button type="submit">{esc(t("login", lang))}</button></p></form>')
    return page(lang, t("login", lang), body)


def _login_page(console: Console, lang: Lang, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = html(_login_form(lang, token, error), status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=console.secure, path="/login")
    return response


def home_of(role: str) -> str:
    return "/jobs" if role in users.CANDIDATE_ROLES else "/stats"


def create_app(store: ReceiverStore, *, secure: bool = False,
               limiter: LoginLimiter | None = None) -> FastAPI:
    """The console over ``store``; ``secure`` when served over TLS (Secure cookies)."""
    from central.console import routes

    app = FastAPI(title="Hiring console", docs_url=None, redoc_url=None, openapi_url=None)
    console = Console(store, secure, limiter or LoginLimiter())
    app.state.console = console

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        asked = request.query_params.get("lang")
        if asked in LANGS:
            response.set_cookie(LANG_COOKIE, str(asked), samesite="strict",
                                secure=console.secure, max_age=365 * 86400)
        return response

    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        if exc.status == 401:
            return RedirectResponse("/login", status_code=303)
        lang = lang_of(request)
        key = "forbidden" if exc.status == 403 else "not_found"
        return html(page(lang, t(key, lang), f"<p>{esc(exc.detail)}</p>"), exc.status)

    @app.get("/static/console.css", include_in_schema=False)
    def css() -> Response:
        return Response(CSS, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        login = auth.current(store, request.cookies.get(COOKIE))
        return RedirectResponse(home_of(login.user.role) if login else "/login", 303)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return _login_page(console, lang_of(request))

    @app.post("/login")
    async def login(request: Request) -> Response:
        fields, lang = await form(request), lang_of(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not expected or not secrets.compare_digest(expected, fields.get("csrf", "")):
            raise Refused(403, "the form's CSRF token is missing or wrong")
        username = fields.get("username", "").strip()
        address = request.client.host if request.client else "unknown"
        if not console.limiter.allowed(username, address):
            return _login_page(console, lang, t("too_many", lang), 429)
        user = await run_in_threadpool(users.authenticate, store, username,
                                       fields.get("password", ""))
        if user is None:
            console.limiter.failed(username, address)
            return _login_page(console, lang, t("bad_login", lang), 401)
        console.limiter.succeeded(username)
        token = await run_in_threadpool(auth.start, store, user)
        response = RedirectResponse(home_of(user.role), status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                            secure=console.secure, max_age=auth.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        fields, token = await form(request), request.cookies.get(COOKIE)
        login = await run_in_threadpool(auth.current, store, token)
        if login is not None:
            if not auth.csrf_ok(login, fields.get("csrf")):
                raise Refused(403, "the form's CSRF token is missing or wrong")
            await run_in_threadpool(auth.end, store, token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    app.include_router(routes.router)
    app.include_router(routes.api)
    return app
