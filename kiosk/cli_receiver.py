"""``kiosk hr-receiver``: the reference central receiver (the central side of the contract)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("hr-receiver", help="Run the reference central receiver.",
                       description="Run the reference central receiver.")
    p.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace, config: Any) -> int:
    raise SystemExit("kiosk hr-receiver: not wired yet")
