"""Report charts as inline SVG, drawn with matplotlib without pyplot's global state.

Text is left as SVG ``<text>`` (``svg.fonttype: none``) so the reviewer's browser renders CJK
labels with its own fonts; layout is measured with DejaVu Sans and matplotlib's Last Resort font
(no missing-glyph warnings on a box without CJK fonts). Output is deterministic (fixed hash salt,
no date) and ready to inline: no XML prolog, no metadata, ids prefixed per chart, ``role="img"``
with a ``<title>`` and ``<desc>``. matplotlib reads its settings from process-wide ``rcParams``,
so drawing is serialised by a lock while the chart settings are in force.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.typing import RcKeyType

from inference.findings import EXPRESSIONS, ActivitySummary, TimelinePoint

_LOCK = threading.Lock()
_FALLBACK_FONT = "Last Resort High-Efficiency"
YES, NO, UNKNOWN = "#0072B2", "#E69F00", "#D9D9D9"
EXPRESSION_COLOURS: dict[str, str] = {
    "angry": "#D55E00",
    "disgust": "#8C564B",
    "fear": "#CC79A7",
    "happy": "#009E73",
    "sad": "#56B4E9",
    "surprise": "#F0E442",
    "neutral": "#BBBBBB",
}
WIDTH_IN, HEIGHT_IN, LEGEND_IN = 7.0, 2.1, 1.8


@dataclass(frozen=True)
class ChartText:
    """Accessible title and description of one chart, in the report's language."""

    id: str
    title: str
    desc: str


def _rc() -> dict[RcKeyType, object]:
    families = ["DejaVu Sans"]
    if any(f.name == _FALLBACK_FONT for f in font_manager.fontManager.ttflist):
        families.append(_FALLBACK_FONT)
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": "kiosk-report",
        "svg.id": None,
        "font.family": families,
        "font.size": 8.5,
        "text.parse_math": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "legend.frameon": False,
    }


def _finish(svg: str, text: ChartText) -> str:
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = re.sub(r"font-family: [^;\"]*", "font-family: system-ui, sans-serif", svg)
    p = text.id
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{p}-\1"', svg)
    svg = svg.replace('href="#', f'href="#{p}-').replace("url(#", f"url(#{p}-")
    head_end = svg.index(">") + 1
    opening = svg[:head_end].replace(
        "<svg", f'<svg role="img" aria-labelledby="{p}-title {p}-desc" class="chart"', 1
    )
    accessible = (
        f'<title id="{p}-title">{escape(text.title)}</title>'
        f'<desc id="{p}-desc">{escape(text.desc)}</desc>'
    )
    return opening + accessible + svg[head_end:].rstrip() + "\n"


def _render(fig: Figure, text: ChartText) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _finish(buf.getvalue(), text)


def _figure(height: float = HEIGHT_IN, left_in: float = 0.65) -> tuple[Figure, Axes]:
    """A figure with fixed margins (in inches) and room for a legend on the right.

    Fixed margins rather than a layout engine: the figure is drawn once, not twice.
    """
    fig = Figure(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(
        left=left_in / WIDTH_IN,
        right=1 - LEGEND_IN / WIDTH_IN,
        bottom=0.5 / height,
        top=1 - 0.1 / height,
    )
    return fig, fig.add_subplot()


def _legend(fig: Figure, handles: Sequence[Artist] | None = None) -> None:
    height = fig.get_size_inches()[1]
    anchor = (1 - (LEGEND_IN - 0.1) / WIDTH_IN, 1 - 0.1 / height)
    if handles is None:
        if not any(ax.get_legend_handles_labels()[0] for ax in fig.axes):
            return  # nothing labelled was drawn (e.g. no frame was seen): no empty legend
        fig.legend(loc="upper left", bbox_to_anchor=anchor)
    else:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=anchor)


def _segments(
    times: Sequence[float], states: Sequence[bool | None], end: float
) -> list[tuple[float, float, bool | None]]:
    """Runs of equal state: each point holds until the next one; the last for one sample gap
    (the median gap between points), at most until ``end``. After that there is no data."""
    gaps = sorted(b - a for a, b in pairwise(times) if b > a)
    last_gap = gaps[len(gaps) // 2] if gaps else 1.0
    runs: list[tuple[float, float, bool | None]] = []
    for i, (t, state) in enumerate(zip(times, states, strict=True)):
        stop = times[i + 1] if i + 1 < len(times) else max(min(end, t + last_gap), t)
        if runs and runs[-1][2] == state and math.isclose(runs[-1][1], t):
            runs[-1] = (runs[-1][0], stop, state)
        elif stop > t:
            runs.append((t, stop, state))
    return runs


def span(duration_s: float, times: Sequence[float]) -> float:
    """The x-axis end of an item's chart: its actual duration (never shorter than its data,
    and at least a second so an empty item still draws)."""
    return max([duration_s, *times, 1.0])


def _colour(state: bool | None) -> str:
    return UNKNOWN if state is None else YES if state else NO


def attention_chart(
    timeline: Sequence[TimelinePoint],
    duration_s: float,
    rows: tuple[str, str],
    legend: tuple[str, str, str],
    axis: str,
    text: ChartText,
) -> str:
    """Two bands over time: face present (top) and facing the screen (bottom)."""
    times = [p.t for p in timeline]
    end = span(duration_s, times)
    with _LOCK, mpl.rc_context(_rc()):
        fig, ax = _figure(1.6, left_in=1.3)
        facing: list[bool | None] = [p.facing_screen for p in timeline]
        present: list[bool | None] = [p.face for p in timeline]
        for row, states in enumerate((facing, present)):
            runs = _segments(times, states, end)
            ax.broken_barh(
                [(a, b - a) for a, b, _ in runs],
                (row + 0.15, 0.7),
                facecolors=[_colour(s) for *_, s in runs],
            )
        ax.set_yticks([0.5, 1.5], [rows[1], rows[0]])
        ax.set_ylim(0, 2)
        ax.set_xlim(0, end)
        ax.set_xlabel(axis)
        handles = [
            Patch(color=c, label=lbl) for c, lbl in zip((YES, NO, UNKNOWN), legend, strict=True)
        ]
        _legend(fig, handles)
        return _render(fig, text)


def expression_chart(
    timeline: Sequence[TimelinePoint],
    duration_s: float,
    names: dict[str, str],
    axis: str,
    share_axis: str,
    text: ChartText,
) -> str | None:
    """Share of each top expression class per time window (stacked); None without data.

    The x-axis spans the item's actual duration; the last window is cut at its end."""
    points = [(p.t, p.expression) for p in timeline if p.expression is not None]
    if not points:
        return None
    end = span(duration_s, [t for t, _ in points])
    width = max(5.0, end / 20)
    bins = max(1, math.ceil(end / width))
    classes = [c for c in EXPRESSIONS if any(e == c for _, e in points)]
    classes += sorted({e for _, e in points} - set(classes))
    shares: dict[str, list[float]] = {c: [0.0] * bins for c in classes}
    counts = [0] * bins
    for t, _ in points:
        counts[min(int(t // width), bins - 1)] += 1
    for t, e in points:
        b = min(int(t // width), bins - 1)
        shares[e][b] += 1 / counts[b]
    edges = [min(b * width, end) for b in range(bins + 1)]
    with _LOCK, mpl.rc_context(_rc()):
        fig, ax = _figure()
        ax.stackplot(
            edges,
            *[[*shares[c], shares[c][-1]] for c in classes],
            step="post",
            colors=[EXPRESSION_COLOURS.get(c, UNKNOWN) for c in classes],
            labels=[names.get(c, c) for c in classes],
            linewidth=0,
        )
        ax.set_xlim(0, end)
        ax.set_ylim(0, 1)
        ax.set_xlabel(axis)
        ax.set_ylabel(share_axis)
        _legend(fig)
        return _render(fig, text)


def rate_chart(
    bars: Sequence[tuple[str, float, tuple[float, float]]],
    band_label: str,
    unit: str,
    text: ChartText,
) -> str:
    """Speaking rate per answer, with each answer's comfortable band shaded."""
    with _LOCK, mpl.rc_context(_rc()):
        fig, ax = _figure()
        xs = list(range(len(bars)))
        for x, (_, _, (low, high)) in zip(xs, bars, strict=True):
            ax.fill_between([x - 0.45, x + 0.45], low, high, color="#CDE8D6", zorder=0)
        ax.bar(xs, [rate for _, rate, _ in bars], width=0.5, color=YES, zorder=2)
        ax.set_xticks(xs, [label for label, _, _ in bars])
        ax.set_xlim(-0.6, max(len(bars) - 0.4, 0.6))
        ax.set_ylabel(unit)
        _legend(fig, [Patch(color="#CDE8D6", label=band_label)])
        return _render(fig, text)


def activity_chart(
    activity: ActivitySummary,
    labels: tuple[str, str, str],
    axis: str,
    energy_axis: str,
    text: ChartText,
) -> str:
    """Motion energy over the time the task took, idle periods shaded; the time limit is marked
    only when it is in view (the task reached it): a 15 s task allowed 10 min fills the chart."""
    with _LOCK, mpl.rc_context(_rc()):
        fig, ax = _figure()
        for i, idle in enumerate(activity.idle_periods):
            ax.axvspan(
                idle.start, idle.end, color=UNKNOWN, label=labels[1] if i == 0 else None, zorder=0
            )
        times = [p.t for p in activity.timeline]
        energy = [p.energy for p in activity.timeline]
        if times:
            ax.fill_between(times, 0, energy, color=YES, alpha=0.35, linewidth=0)
            ax.plot(times, energy, color=YES, linewidth=1, label=labels[0])
        end = span(activity.duration_s, times)
        if 0 < activity.time_limit_s <= end:
            ax.axvline(activity.time_limit_s, color="#D55E00", linestyle="--", label=labels[2])
        ax.set_xlim(0, end)
        ax.set_ylim(0, 1)
        ax.set_xlabel(axis)
        ax.set_ylabel(energy_axis)
        _legend(fig)
        return _render(fig, text)
