"""Byte ranges for seeking in a recording: what a player asks for, what is served, and what
is refused with 416."""

from __future__ import annotations

import pytest

from device.api.staff_page.byte_range import RangeNotSatisfiable, requested

SIZE = 1000


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("bytes=0-", (0, 999)),
    ("bytes=0-99", (0, 99)),
    ("bytes=500-", (500, 999)),
    ("bytes=990-5000", (990, 999)),  # the end is cut to the recording's end
    ("bytes=-100", (900, 999)),
    ("bytes=-5000", (0, 999)),
    ("bytes=999-999", (999, 999)),
    ("items=0-10", None),  # another unit: ignored, the whole recording
    ("bytes=0-10,20-30", None),  # several ranges: ignored
    ("bytes=50-10", None),  # last before first: invalid, ignored
    ("bytes=abc", None),
    ("bytes=-", None),
])
def test_a_satisfiable_or_ignored_range(header: str | None, expected: tuple[int, int] | None
                                        ) -> None:
    assert requested(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1005", "bytes=5000-6000",
                                    "bytes=-0"])
def test_a_range_past_the_end_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        requested(header, SIZE)


def test_nothing_is_satisfiable_in_an_empty_recording() -> None:
    for header in ("bytes=0-", "bytes=-10"):
        with pytest.raises(RangeNotSatisfiable):
            requested(header, 0)
