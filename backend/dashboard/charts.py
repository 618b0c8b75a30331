"""Where the bars of the dashboard's charts go: plain geometry for the SVG that the templates
draw (pwa/templates/dashboard/_charts.html), so a chart needs no script, works offline and
prints. Words are the templates' (they translate); this module only places things.

Coordinates are in a viewBox WIDTH units wide, drawn about 1:1 on a 360 px phone, so a font
size here is roughly a pixel size there."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 320
# An approximate advance of a digit or Latin letter per unit of font size, to thin out labels.
_ADVANCE = 0.6


@dataclass(frozen=True)
class ColumnItem:
    item: Any  # what the template reads the words from
    label: str  # under the column (a date): drawn only when there is room, see Column.axis
    fraction: float | None  # 0..1; None: nothing to measure (no bar, a dash)


@dataclass(frozen=True)
class Column:
    item: Any
    x: float
    width: float
    y: float
    height: float
    centre: float
    axis: str  # "" where the label is left out for room


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: float
    top: float
    bottom: float
    columns: list[Column]
    grid: list[tuple[float, int]]  # (y, percent) of the horizontal guide lines
    font: int
    percent_fits: bool  # whether "100%" fits over a column, or only "100"


def column_chart(items: Sequence[ColumnItem], height: int = 180) -> ColumnChart:
    """Columns for fractions over time (the on-time rate), with guides at 0, 50 and 100 %."""
    font, left, top, right = 10, 34.0, 18.0, 12.0  # room for "100%" and the last date
    bottom = height - 20.0
    pitch = (WIDTH - left - right) / max(1, len(items))
    widest = max((len(i.label) for i in items), default=0) * font * _ADVANCE + 4
    every = max(1, math.ceil(widest / pitch))
    columns = []
    for number, entry in enumerate(items):
        x = left + number * pitch + pitch * 0.15
        fraction = 0.0 if entry.fraction is None else min(1.0, max(0.0, entry.fraction))
        # A measured 0 % still gets a sliver on the axis, so it reads as "0", not "nothing".
        tall = max(1.0, fraction * (bottom - top)) if entry.fraction is not None else 0.0
        # Thinned from the newest back, so the current step always has its date.
        shown = (len(items) - 1 - number) % every == 0
        columns.append(
            Column(
                entry.item,
                round(x, 2),
                round(pitch * 0.7, 2),
                round(bottom - tall, 2),
                round(tall, 2),
                round(left + number * pitch + pitch / 2, 2),
                entry.label if shown else "",
            )
        )
    grid = [(round(bottom - p / 100 * (bottom - top), 2), p) for p in (0, 50, 100)]
    fits = pitch >= 4 * font * _ADVANCE + 4
    return ColumnChart(WIDTH, height, left, top, bottom, columns, grid, font, fits)


@dataclass(frozen=True)
class Segment:
    kind: str
    value: float
    x: float
    width: float


@dataclass(frozen=True)
class BarRow:
    item: Any
    label_y: float  # baseline of the row's label (left) and value (right)
    bar_y: float
    segments: list[Segment]


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bar_height: int
    rows: list[BarRow]


ROW = 40  # a label line over a bar, and a gap


def bar_chart(
    rows: Sequence[tuple[Any, Sequence[tuple[str, float]]]], top: float | None = None
) -> BarChart:
    """Horizontal bars, a label over each so long names never squeeze the bar; each bar is one
    or more stacked segments (general and major hazards), scaled to `top` (default: the
    longest bar)."""
    totals = [sum(value for _, value in parts) for _, parts in rows]
    scale = top if top is not None else max(totals, default=0)
    placed = []
    for number, (item, parts) in enumerate(rows):
        y = number * ROW
        x = 0.0
        segments = []
        for kind, value in parts:
            width = 0.0 if scale <= 0 else WIDTH * value / scale
            segments.append(Segment(kind, value, round(x, 2), round(width, 2)))
            x += width
        placed.append(BarRow(item, y + 14, y + 20, segments))
    return BarChart(WIDTH, max(ROW, ROW * len(rows)), 13, placed)
