"""Charts span the item's actual duration: a 15 s task allowed 10 min fills its chart, and the
time limit is drawn only when the task reached it."""

from __future__ import annotations

import re

from scoring_fixtures import demo, vision

from inference.report import charts

TEXT = charts.ChartText("c", "title", "desc")
NAMES = {"neutral": "neutral", "happy": "happy"}


def tick_labels(svg: str) -> list[str]:
    """The numbers written on the chart (axis ticks), in order."""
    return re.findall(r">\s*(\d+(?:\.\d+)?)\s*</text>", svg)


def test_a_short_task_fills_its_activity_chart_and_no_limit_is_drawn() -> None:
    short = demo({}, duration=15.0, limit=600.0).activity
    svg = charts.activity_chart(short, ("Motion", "Idle", "Time limit"), "s", "motion", TEXT)
    ticks = [float(x) for x in tick_labels(svg)]
    assert max(ticks) <= 16 and 600 not in ticks  # seconds of the task, not of the limit
    assert "Time limit" not in svg


def test_a_task_over_its_limit_shows_the_limit() -> None:
    late = demo({}, duration=700.0, limit=600.0).activity
    svg = charts.activity_chart(late, ("Motion", "Idle", "Time limit"), "s", "motion", TEXT)
    assert "Time limit" in svg
    assert max(float(x) for x in tick_labels(svg)) <= 700


def test_attention_and_expression_charts_span_the_answer() -> None:
    v = vision(expressions=True, seconds=12)
    rows, legend = ("face", "facing"), ("y", "n", "?")
    attention = charts.attention_chart(v.timeline, 12.5, rows, legend, "s", TEXT)
    expression = charts.expression_chart(v.timeline, 12.5, NAMES, "s", "share", TEXT)
    assert expression is not None
    for svg in (attention, expression):
        seconds = [float(x) for x in tick_labels(svg) if float(x) > 1]
        assert max(seconds) <= 12.5  # not rounded up to a whole time window (15 s)
    assert charts.span(12.5, [0.0, 13.0]) == 13.0  # never cuts off data
    assert charts.span(0.0, []) == 1.0
