"""The frame of every staff page: head, header with the language switch and logout, and the
security headers each response carries.

Pages carry a strict Content-Security-Policy: scripts, styles and media only from this box,
no inline code, forms posting only here, never framed. The one exception is the report
frame, which shows the report page exactly as analysis renders it (its own inline styles)
inside a sandbox, framed only by the staff page itself.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from device.api.staff_page.strings import LANGUAGES, NATIVE, PageLanguage, t
from device.staff.logins import Login

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: The report as analysis renders it: inline styles and inline images only, no scripts.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HEADERS = {**COMMON, "Content-Security-Policy": CSP, "X-Frame-Options": "DENY"}
REPORT_HEADERS = {**COMMON, "Content-Security-Policy": REPORT_CSP,
                  "X-Frame-Options": "SAMEORIGIN"}
PREFIX = "/staff"


def e(text: object) -> str:
    """Text made safe for HTML content and attribute values."""
    return escape(str(text), quote=True)


def url(path: str, **query: str | None) -> str:
    """A staff page URL with the given query (empty values left out)."""
    kept = {k: v for k, v in query.items() if v}
    return PREFIX + path + (f"?{urlencode(kept)}" if kept else "")


def csrf_field(login: Login) -> str:
    return f'<input type="hidden" name="csrf" value="{e(login.csrf)}">'


def _switch(language: PageLanguage, here: str) -> str:
    links = []
    for lang in LANGUAGES:
        current = ' aria-current="true"' if lang == language else ""
        sep = "&" if "?" in here else "?"
        links.append(f'<li><a href="{e(here + sep + "lang=" + lang)}" lang="{lang}"'
                     f' hreflang="{lang}"{current}>{e(NATIVE[lang])}</a></li>')
    return (f'<nav class="languages" aria-label="{e(t("language", language))}">'
            f'<ul>{"".join(links)}</ul></nav>')


def page(title: str, body: str, language: PageLanguage, *, here: str,
         login: Login | None = None, status: int = 200) -> HTMLResponse:
    """A whole staff page: ``here`` is its own URL (for the language switch)."""
    account = ""
    if login is not None:
        who = t("signed_in_as", language, name=login.staff.name, role=login.staff.role)
        account = (
            f'<p class="who">{e(who)}</p>'
            f'<form method="post" action="{PREFIX}/logout" class="logout">{csrf_field(login)}'
            f'<button type="submit">{e(t("logout", language))}</button></form>'
        )
    html = (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)} · {e(t('app', language))}</title>\n"
        f'<link rel="stylesheet" href="{PREFIX}/static/staff.css">\n'
        f'<script src="{PREFIX}/static/staff.js" defer></script>\n</head>\n<body>\n'
        f'<header class="bar"><p class="app">{e(t("app", language))}</p>'
        f"{_switch(language, here)}{account}</header>\n"
        f'<main id="main">\n<h1>{e(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n'
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def message_page(title_key: str, body_key: str, language: PageLanguage, *, here: str,
                 status: int, login: Login | None = None, link: str | None = None) -> HTMLResponse:
    """A page that only says something: a refusal, a missing page, an expired form."""
    back = (f'<p><a href="{e(link)}">{e(t("back", language))}</a></p>' if link else "")
    return page(t(title_key, language), f'<p class="notice" role="alert">'
                f"{e(t(body_key, language))}</p>{back}", language, here=here, login=login,
                status=status)
