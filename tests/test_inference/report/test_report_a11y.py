"""The reviewer's page is accessible in real Chromium: axe-core finds no violation in a full
report, in every language, with the "observations, not scored" section closed and open."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser
from report_helpers import report
from scoring_fixtures import session

from inference.findings import Language
from inference.report.build import render_html

pytestmark = pytest.mark.integration

LANGS: tuple[Language, ...] = ("zh-CN", "en", "ko")


def violations(axe: Axe, browser: Browser, page_html: str, *, open_details: bool) -> list[str]:
    # the page forbids every script (CSP default-src 'none'); axe is injected past it
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.set_content(page_html)
        if open_details:
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.evaluate("() => document.querySelector('details').open")
        found = axe.run(page).response["violations"]
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[', '.join(n['target']) for n in v['nodes']][:5]}"
            for v in found
        ]
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_full_report_has_no_axe_violation(browser: Browser, lang: Language) -> None:
    page_html = render_html(report(session(expressions=True)), lang)
    axe = Axe()
    problems = [
        f"details {'open' if opened else 'closed'}: {problem}"
        for opened in (False, True)
        for problem in violations(axe, browser, page_html, open_details=opened)
    ]
    assert not problems, "\n".join(problems)
