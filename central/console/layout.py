"""The console's page frame, its stylesheet and small HTML helpers.

Every text that reaches a page goes through :func:`esc`: names and reasons come from
people, report texts from candidates.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from central.console.i18n import LANGS, Lang, t
from central.console.users import User

CSS = """
:root{--fg:#1b1f24;--muted:#4a5360;--line:#c9ced6;--accent:#0b57d0;--bg:#fff;--warn:#8a1c00}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,
textarea:focus-visible,summary:focus-visible{outline:3px solid #f29900;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.5rem 1rem;
border-bottom:1px solid var(--line)}
header nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
header .who{margin-left:auto;color:var(--muted)}
main{padding:1rem;max-width:80rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.na{color:var(--muted);font-style:italic}
.error{color:var(--warn);font-weight:600}
form.inline{display:inline}
label{display:block;margin:.25rem 0}
button{font:inherit;padding:.25rem .75rem}
iframe{width:100%;height:70vh;border:1px solid var(--line)}
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def query(**params: str | None) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def _nav(user: User, lang: Lang) -> str:
    links: list[tuple[str, str]] = []
    if user.sees_candidates():
        links.append(("/jobs", t("jobs", lang)))
    if user.role in ("general_manager", "admin"):
        links.append(("/stats", t("stats", lang)))
    if user.role == "admin":
        links += [("/fleet", t("fleet", lang)), ("/users", t("users", lang)),
                  ("/audit", t("audit", lang))]
    items = "".join(f'<li><a href="{h}">{esc(label)}</a></li>' for h, label in links)
    return f'<nav aria-label="{esc(t("main_nav", lang))}"><ul>{items}</ul></nav>'


def page(lang: Lang, title: str, body: str, user: User | None = None,
         csrf: str | None = None) -> str:
    """A whole page: the header (navigation, language switch, sign-out) and ``body``."""
    links = []
    for code in LANGS:
        current = ' aria-current="true"' if code == lang else ""
        label = "中文" if code == "zh-CN" else "English"
        links.append(f'<a href="{query(lang=code)}" lang="{code}" hreflang="{code}"{current}>'
                     f"{label}</a>")
    switch = " ".join(links)
    head = f'<span><strong>{esc(t("console", lang))}</strong></span>'
    if user is not None:
        head += _nav(user, lang)
        who = t("signed_in_as", lang, who=user.display_name, role=t(f"role.{user.role}", lang))
        head += f'<span class="who">{esc(who)}</span>'
        if csrf is not None:
            head += (f'<form class="inline" method="post" action="/logout">{csrf_field(csrf)}'
                     f'<button type="submit">{esc(t("logout", lang))}</button></form>')
    head += f'<span aria-label="{esc(t("language", lang))}" role="group">{switch}</span>'
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{esc(title)} · {esc(t("console", lang))}</title>\n'
        '<link rel="stylesheet" href="/static/console.css">\n</head>\n<body>\n'
        f'<a class="skip" href="#main">{esc(t("skip", lang))}</a>\n'
        f"<header>{head}</header>\n"
        f'<main id="main" tabindex="-1">\n<h1>{esc(title)}</h1>\n{body}\n</main>\n'
        "</body>\n</html>\n"
    )


def table(head: list[str], rows: list[list[str]], caption: str | None = None) -> str:
    """A table whose cells are already escaped HTML; the first cell of each row heads it."""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join(
        f'<tr><th scope="row">{r[0]}</th>{"".join(f"<td>{c}</td>" for c in r[1:])}</tr>'
        for r in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def score_cell(score: float | None, status: str | None, lang: Lang) -> str:
    """A score, or why there is none: "not assessed" is never shown as 0."""
    if score is not None:
        return esc(f"{score:g}")
    if status is None:
        return f'<span class="na">{esc(t("no_report", lang))}</span>'
    key = "pending" if status == "awaiting_staff" else "not_assessed"
    return f'<span class="na">{esc(t(key, lang))}</span>'


def localized(texts: dict[str, str], lang: Lang, fallback: str) -> str:
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), fallback)
