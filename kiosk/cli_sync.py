"""``kiosk sync``: the sync agent (store-and-forward to central HR) and its status."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("sync", help="Deliver the outbox to central and apply what it sends.",
                       description="Deliver the outbox to central and apply what it sends.")
    p.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace, config: Any) -> int:
    raise SystemExit("kiosk sync: not wired yet")
