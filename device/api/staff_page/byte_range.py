"""HTTP byte ranges (RFC 9110 §14) for playing recordings: one range per request, which is
what ``<audio>`` and ``<video>`` ask for when they seek."""

from __future__ import annotations

import re

_ONE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The range asks for bytes the recording does not have (416)."""


def requested(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) asked for, or None for the whole recording.

    A header that is missing, malformed, in another unit or asks for several ranges is
    ignored (the whole recording, as RFC 9110 allows). A range starting at or past the end,
    or a suffix of zero bytes, raises RangeNotSatisfiable; a last byte past the end is cut
    to the end."""
    if header is None:
        return None
    found = _ONE.match(header.strip())
    if found is None:
        return None
    first_s, last_s = found.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # the last N bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"bytes=-{suffix} of {size}")
        return max(0, size - suffix), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None  # invalid: ignored
    if first >= size:
        raise RangeNotSatisfiable(f"bytes={first}- of {size}")
    return first, min(last, size - 1)
