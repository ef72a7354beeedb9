"""Confirming a destructive command by typing the box's device id."""

from __future__ import annotations

import sys


def device_id_typed(given: str | None, device_id: str, unchanged: str) -> bool:
    """Whether the technician confirmed with ``device_id``: ``given`` (from the command's
    option) or typed at the prompt. When not, says so naming ``unchanged`` (what was left
    alone, e.g. "nothing was deleted") on stderr."""
    typed = given
    if typed is None:
        try:
            typed = input("type the device id to confirm: ")
        except EOFError:
            typed = ""
    if typed.strip() == device_id:
        return True
    print(f"kiosk: the text typed does not match the device id {device_id}: {unchanged}",
          file=sys.stderr)
    return False


__all__ = ["device_id_typed"]
