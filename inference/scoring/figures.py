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


def on_scale(share: float, low: float, high: float) -> float:
    """A 0-1 share on the ``low``-``high`` scale, one decimal, rounded half up on the decimal
    figures (so a 57.5 % mean is 5.8 of 10, as its percentage is 58 %)."""
    lo, hi = Decimal(repr(low)), Decimal(repr(high))
    scaled = lo + Decimal(repr(share)) * (hi - lo)
    return float(scaled.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def num(value: float) -> str:
    """An integer when whole, else one decimal."""
    rounded = _half_up(value, 1)
    return str(int(rounded)) if rounded == rounded.to_integral_value() else str(rounded)


def pct(share: float) -> str:
    """A 0-1 share as a whole percentage, rounded half up on the decimal figure (0.575 is 58,
    as 5.75 is 5.8 on a 0-10 scale: float multiplication would make it 57.49999)."""
    percent = Decimal(repr(share)).scaleb(2)
    return str(int(percent.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def marks(share: float) -> str:
    """A metric's 0-1 value as marks out of 100 ("67/100"): not a percentage, which the
    explanations keep for measured shares (a pause ratio of 10 % earns 100/100)."""
    return f"{pct(share)}/100"


def quality(value: float) -> str:
    """A recognition-quality figure, 0-1, with two decimals ("0.38")."""
    return str(_half_up(value, 2))


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), seconds rounded down."""
    total = max(int(seconds + 1e-9), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
