"""An answer's STAR structure as one figure: the structure score, the elements heard and
whether they came in order, so that every sentence about the order is read from the same
value as the percentage beside it.

The order of STAR elements can only be judged between two or more elements heard: an answer
with none or one is "too few to judge the order" — never "in order", which would sit beside a
structure score that gives no marks for order (see ``inference.content.star``: with fewer than
two elements the order share is 0, so the structure score is at most 0.15 + 0.60 x 1/4).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from inference.findings import StarCoverage
from inference.scoring.models import Note

OrderState = Literal["in_order", "out_of_order", "too_few"]
MIN_FOR_ORDER = 2
"""Fewest STAR elements whose order can be judged."""
_IN_ORDER_FLOOR = 0.55
"""Lowest structure score an answer told in order can have (two elements, in order: 0.60 x
1/2 + 0.25); used only for notes stored before the element count was kept."""


class Structure(NamedTuple):
    """The structure figure of one answer: the 0-1 score, the elements heard and the order."""

    share: float
    covered: int | None
    """STAR elements heard; None in a note stored before the count was kept."""
    order: OrderState


def order_state(covered: int, in_order: bool) -> OrderState:
    if covered < MIN_FOR_ORDER:
        return "too_few"
    return "in_order" if in_order else "out_of_order"


def of_star(star: StarCoverage) -> Structure:
    covered = len(star.covered)
    return Structure(star.structure, covered, order_state(covered, star.in_order))


def note(star: StarCoverage) -> Note:
    """The "structure" note of an answer: its score, the elements heard and the order."""
    s = of_star(star)
    values = {
        "pct": s.share,
        "covered": float(len(star.covered)),
        "in_order": float(s.order == "in_order"),
    }
    return Note(code="structure", values=values)


def of_note(n: Note) -> Structure:
    """The structure figure a "structure" note states (also for notes stored before the element
    count was kept: an answer "in order" below the lowest in-order score had too few)."""
    share = n.values.get("pct", 0.0)
    in_order = bool(n.values.get("in_order", 0.0))
    if "covered" in n.values:
        covered = int(n.values["covered"])
        return Structure(share, covered, order_state(covered, in_order))
    judged = not in_order or share >= _IN_ORDER_FLOOR
    order = order_state(MIN_FOR_ORDER if judged else 0, in_order)
    return Structure(share, None, order)
