"""Server-rendered SVG charts: the geometry is computed here, ``console/svg_chart.html`` draws it.

No JavaScript and nothing fetched: every shape is a ``<rect>`` with a ``<title>``
(the browser shows it as a tooltip), so the page works offline and reads the
same in a screenshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Status colours, shared by every chart and the timeline (readable on light and dark themes).
STATUS_COLOURS = {
    "NEW": "#9aa5b1",
    "PREPARE": "#b794f4",
    "DOING": "#3b82f6",
    "ASYNC": "#f59e0b",
    "DONE": "#22a06b",
    "ERROR": "#e5484d",
    "CANCELLED": "#5f6b7a",
}
DEFAULT_COLOUR = "#9aa5b1"


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, DEFAULT_COLOUR)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    href: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = "chart-label"


@dataclass
class Chart:
    width: int
    height: int
    label: str
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    lines: list[tuple[float, float, float, float]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rects


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str


def stacked_columns(
    *,
    label: str,
    buckets: Sequence[tuple[object, str]],
    series: Sequence[Series],
    values: Mapping[tuple[object, str], int],
    width: int = 720,
    height: int = 200,
) -> Chart:
    """One column per bucket, its height split by series; ``values[(bucket, series_key)] = count``."""
    left, bottom, top = 36, 22, 8
    plot_w, plot_h = width - left - 4, height - bottom - top
    totals = [sum(values.get((key, s.key), 0) for s in series) for key, _ in buckets]
    peak = _nice_ceiling(max(totals, default=0))
    chart = Chart(width=width, height=height, label=label, legend=[(s.label, s.colour) for s in series])
    step = plot_w / max(len(buckets), 1)
    bar_w = max(step * 0.8, 1)
    for tick in (0, peak // 2, peak):
        y = top + plot_h - plot_h * tick / peak
        chart.lines.append((left, y, width - 4, y))
        chart.texts.append(Text(left - 4, y + 4, str(tick), "end"))
    for index, (key, bucket_label) in enumerate(buckets):
        x = left + index * step + (step - bar_w) / 2
        y = top + plot_h
        for s in series:
            count = values.get((key, s.key), 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            chart.rects.append(Rect(x, y, bar_w, h, s.colour, f"{bucket_label}: {s.label} {count}"))
        if index % max(len(buckets) // 8, 1) == 0:
            chart.texts.append(Text(x + bar_w / 2, height - 6, bucket_label, "middle"))
    return chart


def horizontal_bars(
    *,
    label: str,
    items: Sequence[tuple[str, int, str]],
    width: int = 480,
    row_height: int = 22,
    label_width: int = 170,
) -> Chart:
    """One bar per ``(label, value, colour)``, longest first as given, value written after the bar."""
    height = max(len(items), 1) * row_height + 4
    peak = max((value for _, value, _ in items), default=0) or 1
    plot_w = width - label_width - 50
    chart = Chart(width=width, height=height, label=label)
    for index, (item_label, value, colour) in enumerate(items):
        y = 2 + index * row_height
        bar_w = max(plot_w * value / peak, 2 if value else 0)
        chart.texts.append(Text(label_width - 6, y + row_height * 0.68, item_label, "end"))
        if bar_w:
            chart.rects.append(Rect(label_width, y + 3, bar_w, row_height - 6, colour, f"{item_label}: {value}"))
        chart.texts.append(Text(label_width + bar_w + 6, y + row_height * 0.68, str(value), "start", "chart-value"))
    return chart


def _nice_ceiling(value: int) -> int:
    """The smallest of 2, 4, 6, 10 x 10^n that is >= value (even, so the middle tick is whole)."""
    if value <= 2:
        return 2
    magnitude = 1
    while True:
        for factor in (2, 4, 6, 10):
            candidate = factor * magnitude
            if candidate >= value:
                return candidate
        magnitude *= 10
