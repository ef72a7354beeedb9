"""Wrong invite codes over HTTP: limited by what is typed and across the kiosk, never by a
forwarded address, and reported so the touchscreen can say it in the candidate's language."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from api_helpers import assert_problem, check_in
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from conftest import InviteFn, free_port
from device.api.serving import server_options
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import ApiConfig
from device.sessions.codes import ALPHABET

I18N = Path(__file__).parents[3] / "device" / "ui" / "static" / "i18n.json"


def wrong_code(n: int, avoid: str = "") -> str:
    """The n-th of many different wrong codes, none sharing ``avoid``'s first four."""
    base = len(ALPHABET)
    head = "".join(ALPHABET[(n // base ** i) % base] for i in range(4))
    if head == avoid[:4]:
        head = ALPHABET[(ALPHABET.index(head[0]) + 1) % base] + head[1:]
    return head + "ZZZZ"


def test_sixty_wrong_codes_with_rotating_forwarded_addresses_lock(
    http: httpx.Client, invite: InviteFn
) -> None:
    code = invite().invite_code
    assert code
    statuses = []
    for n in range(60):
        r = http.post("/api/v1/checkin", json={"code": wrong_code(n, avoid=code)},
                      headers={"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"})
        statuses.append(r.status_code)
    assert statuses[:10] == [404] * 10  # the kiosk-wide allowance
    assert statuses.count(429) >= 45, statuses
    body = assert_problem(
        http.post("/api/v1/checkin", json={"code": code},
                  headers={"X-Forwarded-For": "10.9.9.9"}), 429, "rate-limited")
    assert body["limit"] == "kiosk" and body["retry_after_s"] > 0


def test_one_candidates_typos_do_not_lock_out_the_next(
    http: httpx.Client, invite: InviteFn
) -> None:
    first, second = invite().invite_code, invite().invite_code
    assert first and second and first[:4] != second[:4]
    typo = first[:4] + ("2222" if first[4:] != "2222" else "3333")
    for _ in range(5):
        assert_problem(http.post("/api/v1/checkin", json={"code": typo}), 404, "invalid-code")
    locked = assert_problem(http.post("/api/v1/checkin", json={"code": first}), 429,
                            "rate-limited")
    assert locked["limit"] == "code" and locked["retry_after_s"] > 0
    check_in(http, second)  # the next candidate's right code goes straight in


def test_the_kiosk_wide_pause_grows_is_capped_and_says_how_long(
    http: httpx.Client, invite: InviteFn, kiosk: Kiosk, clock: ManualClock
) -> None:
    code = invite().invite_code
    assert code
    rules = kiosk.config.session
    n = 0
    for n in range(rules.checkin_global_free):
        assert_problem(http.post("/api/v1/checkin", json={"code": wrong_code(n, code)}), 404,
                       "invalid-code")
    waits = []
    while True:
        n += 1
        assert_problem(http.post("/api/v1/checkin", json={"code": wrong_code(n, code)}), 404,
                       "invalid-code")
        r = http.post("/api/v1/checkin", json={"code": code})
        body = assert_problem(r, 429, "rate-limited")
        assert body["limit"] == "kiosk" and int(r.headers["Retry-After"]) >= 1
        assert "pauses for" in body["detail"]
        waits.append(body["retry_after_s"])
        clock.advance(body["retry_after_s"])
        if len(waits) > 2 and waits[-1] == waits[-2]:
            break
    assert waits[:4] == [1, 2, 4, 8]
    assert waits[-1] == rules.checkin_backoff_max_s
    check_in(http, code)  # once the pause is over, a right code goes in


def test_wrong_codes_stop_counting_after_a_quiet_spell(
    http: httpx.Client, invite: InviteFn, kiosk: Kiosk, clock: ManualClock
) -> None:
    code = invite().invite_code
    assert code
    rules = kiosk.config.session
    for n in range(rules.checkin_global_free):
        http.post("/api/v1/checkin", json={"code": wrong_code(n, code)})
    clock.advance(rules.checkin_lockout_s + 1)
    for n in range(rules.checkin_global_free):
        assert_problem(http.post("/api/v1/checkin", json={"code": wrong_code(100 + n, code)}),
                       404, "invalid-code")
    check_in(http, code)


def test_the_touchscreen_has_words_for_each_limit_in_every_language() -> None:
    # which words it picks, in a real browser: tests/test_device/ui/test_ui_faults.py
    strings = json.loads(I18N.read_text())
    for language, table in strings.items():
        for key in ("rateLimited", "rateLimitedKiosk"):
            assert "{seconds}" in table[key], (language, key)


# -- forwarded headers ---------------------------------------------------------------------


async def _who(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.client.host if request.client else "")


@pytest.fixture
def serve_echo() -> Iterator[Callable[[ApiConfig], str]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(api: ApiConfig) -> str:
        port = free_port()
        app = Starlette(routes=[Route("/who", _who)])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", **server_options(api)))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_forwarded_addresses_are_ignored_unless_a_proxy_is_configured(
    serve_echo: Callable[[ApiConfig], str],
) -> None:
    start = serve_echo
    forged = {"X-Forwarded-For": "203.0.113.7"}
    plain = start(ApiConfig())
    assert httpx.get(plain + "/who", headers=forged).text == "127.0.0.1"
    behind_proxy = start(ApiConfig(forwarded_allow_ips="127.0.0.1"))
    assert httpx.get(behind_proxy + "/who", headers=forged).text == "203.0.113.7"
