"""Strict JSON for documents the box accepts: no duplicate keys, no NaN or Infinity.

Python's ``json`` module accepts both by default; a signed or imported document that
says one thing to us and another to a different parser must be refused instead.
"""

from __future__ import annotations

import json
import math
from typing import Any


class StrictJsonError(ValueError):
    """Well-formed JSON that is still not acceptable (duplicate keys, NaN, huge numbers)."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StrictJsonError(f"duplicate key '{key}' in a JSON object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a valid JSON number")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJsonError(f"number {text[:40]} is out of range")
    return value


def loads(text: str) -> Any:
    """``json.loads`` that raises :class:`StrictJsonError` for what it refuses.

    Malformed text still raises ``json.JSONDecodeError``; very deep nesting raises
    ``RecursionError``.
    """
    return json.loads(text, object_pairs_hook=_reject_duplicate_keys,
                      parse_constant=_reject_constant, parse_float=_parse_float)
