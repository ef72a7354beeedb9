"""How the report and the explanations write figures: rounding half up (never to even),
percentages, recognition quality and clock times. One function per kind of figure, so a number
in a sentence and the same number in a table are written alike."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def _half_up(value: float, places: int) -> Decimal:
    exponent = Decimal(1).scaleb(-places)
    return Decimal(repr(value)).quantize(exponent, rounding=ROUND_HALF_UP)


def round_half_up(value: float, places: int) -> float:
    return float(_half_up(value, places))


def num(value: float) -> str:
    """An integer when whole, else one decimal."""
    rounded = _half_up(value, 1)
    return str(int(rounded)) if rounded == rounded.to_integral_value() else str(rounded)


def pct(share: float) -> str:
    return str(int(_half_up(share * 100, 0)))


def quality(value: float) -> str:
    """A recognition-quality figure, 0-1, with two decimals ("0.38")."""
    return str(_half_up(value, 2))


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), seconds rounded down."""
    total = max(int(seconds + 1e-9), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
