"""Canonical JSON: one spelling of a value, so equal values are equal text."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept readable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
