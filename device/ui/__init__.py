"""The candidate's touchscreen: a static page (HTML, ES modules, CSS, strings) with no build
step, served by the local API (``device.api.ui``) and driven entirely by the session engine.

The page never decides timing: it shows the countdowns the engine reports, polls
``GET /api/v1/session`` while an item is on screen, and moves on only when the engine says
so. Strings for zh-CN, en and ko live in ``static/i18n.json``.
"""

from __future__ import annotations

from pathlib import Path

#: Directory of index.html and the files served under ``/ui/``.
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Languages the touchscreen speaks (the job package's languages are a subset).
LANGUAGES = ("zh-CN", "en", "ko")

#: The staff page's script and stylesheet, served under ``/staff/static/``
#: (the page itself is built by ``device.api.staff_page``).
STAFF_DIR = Path(__file__).resolve().parent / "staff"
