"""``kiosk tui``: the technician's terminal UI, a client of the local API."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from device.config import KioskConfig

TOKEN_FILE = Path("~/.config/kiosk/token")
CREATE_HINT = "create one on the box with: kiosk token create --role technician --name NAME"


def register(sub: Any) -> None:
    """Add the ``tui`` subcommand."""
    p = sub.add_parser(
        "tui", help="The technician's terminal UI (sessions, sync, audit, self-test, logs).",
        description="Run the technician's terminal UI against the local API of kiosk-device."
        " The staff token comes from --token, else $KIOSK_TOKEN, else ~/.config/kiosk/token.")
    p.add_argument("--url", help="the local API: http://HOST:PORT or unix:/path/to.sock"
                   " (default from config: [api] unix_socket, else host and port)")
    p.add_argument("--token", help="a staff token (default: $KIOSK_TOKEN, else"
                   " ~/.config/kiosk/token)")
    p.set_defaults(handler=cmd_tui)


def default_url(config: KioskConfig) -> str:
    if config.api.unix_socket:
        return f"unix:{config.api.unix_socket}"
    host = config.api.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.api.port}"


def find_token(given: str | None, env: dict[str, str], home_file: Path) -> str | None:
    if given:
        return given.strip()
    if env.get("KIOSK_TOKEN", "").strip():
        return env["KIOSK_TOKEN"].strip()
    path = home_file.expanduser()
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def cmd_tui(args: argparse.Namespace, config: KioskConfig) -> int:
    from tui.app import KioskApp
    from tui.client import ApiClient, ApiError, Unauthorized, Unreachable

    token = find_token(args.token, dict(os.environ), TOKEN_FILE)
    if token is None:
        print(f"kiosk tui: no staff token (--token, $KIOSK_TOKEN or {TOKEN_FILE});"
              f" {CREATE_HINT}", file=sys.stderr)
        return 2
    url = args.url or default_url(config)

    async def check() -> None:
        probe = ApiClient(url, token, timeout_s=5.0)
        try:
            await probe.whoami()
        finally:
            await probe.aclose()

    try:
        asyncio.run(check())
    except Unauthorized as exc:
        print(f"kiosk tui: kiosk-device refused the staff token ({exc.detail}); {CREATE_HINT}",
              file=sys.stderr)
        return 2
    except Unreachable:
        pass  # the UI starts anyway, says so and keeps retrying
    except ApiError as exc:
        print(f"kiosk tui: {exc.detail}", file=sys.stderr)
        return 1
    KioskApp(ApiClient(url, token)).run()
    return 0
