"""The staff page at ``/staff/``: site HR and admins review interviews in a browser on the
box (log in with a staff token, the day's sessions, each report with its recordings, the
demonstration checklists). See docs/staff-page.md."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from device.api.staff_page import day_list, login, recording, report_view
from device.api.staff_page.access import (
    LoginRequired,
    PageRefused,
    asked_language,
    default_language,
    here,
)
from device.api.staff_page.layout import HEADERS, PREFIX, url
from device.api.staff_page.strings import PageLanguage
from device.composition import Kiosk
from device.staff.logins import Login, Logins
from device.ui import STAFF_DIR

MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.(js|css)$")


def _language(request: Request) -> PageLanguage:
    chosen: PageLanguage | None = getattr(request.state, "staff_language", None)
    kiosk: Kiosk = request.app.state.kiosk
    return chosen or asked_language(request) or default_language(kiosk)


def install(app: FastAPI, kiosk: Kiosk) -> None:
    """Add the staff page's routes, its login store and its error pages to the app."""
    settings = kiosk.config.staff_page
    app.state.staff_logins = Logins(settings.idle_min * 60, settings.max_h * 3600)
    for module in (login, day_list, report_view, recording):
        app.include_router(module.router)

    @app.get(f"{PREFIX}/static/{{name}}", include_in_schema=False)
    def static(name: str) -> Response:
        match = _NAME.match(name)
        path = STAFF_DIR / name
        if match is None or not path.is_file():
            raise PageRefused(404, "not_found.title", "not_found.body")
        return FileResponse(path, media_type=MEDIA_TYPES[match.group(1)],
                            headers={**HEADERS, "Cache-Control": "no-cache"})

    @app.get(PREFIX, include_in_schema=False)
    def bare() -> Response:
        return RedirectResponse(url("/"), status_code=308)

    async def to_login(request: Request, exc: Exception) -> Response:
        return RedirectResponse(url("/login", lang=asked_language(request)), status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        signed_in: Login | None = getattr(request.state, "staff_login", None)
        return login.refused(exc, _language(request), here(request), signed_in)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(PageRefused, refused)
