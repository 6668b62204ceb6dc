"""Line charts as inline SVG geometry, computed here and drawn by the templates (which
escape every label): no plotting library, no image export, nothing fetched, the same
chart in the browser and in the PDF. Each window is a point; its confidence interval
is a shaded band; policy thresholds are dashed lines; a window whose figure is not
usable (insufficient data) is a hollow point and a missing value breaks the line."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from raigov.reports.formatting import format_value

WIDTH, HEIGHT = 330.0, 150.0
LEFT, RIGHT, TOP, BOTTOM = 40.0, 14.0, 8.0, 20.0


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    usable: bool
    label: str


@dataclass(frozen=True)
class Threshold:
    y: float
    label: str


@dataclass
class Chart:
    title: str
    segment: str
    lines: list[str] = field(default_factory=list)      # polyline "x,y x,y" runs
    bands: list[str] = field(default_factory=list)      # polygon "x,y ..." runs
    markers: list[Marker] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]."""
    span = high - low if high > low else abs(high) or 1.0
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, max(last, first + 1) + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _y_range(series: dict[str, Any]) -> tuple[float, float]:
    values = [v for p in series["points"] for v in (p["value"], p["ci_low"], p["ci_high"])
              if v is not None]
    values += [t["threshold"] for t in series["thresholds"]]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 if high - low > 1e-9 else (abs(high) * 0.1 or 0.5)
    low, high = low - pad if low < 0 else max(low - pad, 0.0), high + pad
    if high - pad <= 1.0 < high:   # a share or a rate: the axis ends at 1
        high = 1.0
    ticks = nice_ticks(low, high)
    return ticks[0], ticks[-1]


def has_values(series: dict[str, Any]) -> bool:
    return any(p["value"] is not None for p in series["points"])


def build_chart(series: dict[str, Any]) -> Chart:
    """The chart of one metric series (``facts["metric_series"][i]``)."""
    chart = Chart(title=series["metric"], segment=series["segment"])
    points = series["points"]
    times = [_when(p["window_start"]).timestamp() for p in points]
    t0, t1 = min(times), max(times)
    y0, y1 = _y_range(series)

    def x(t: float) -> float:
        return chart.left + (0.5 if t1 == t0 else (t - t0) / (t1 - t0)) * (chart.right - chart.left)

    def y(v: float) -> float:
        return chart.bottom - (v - y0) / (y1 - y0) * (chart.bottom - chart.top)

    chart.y_ticks = [Tick(y(v), _tick_label(v)) for v in nice_ticks(y0, y1)]
    _draw_runs(chart, points, times, x, y)
    chart.thresholds = [Threshold(y(t["threshold"]), f"{t['rule_id']} {t['op'] or ''} "
                                  f"{format_value(t['threshold'], series['metric'])}")
                        for t in series["thresholds"] if y0 <= t["threshold"] <= y1]
    chart.x_ticks = _x_ticks(points, times, x)
    return chart


def _draw_runs(chart: Chart, points: list[dict[str, Any]], times: list[float],
               x: Any, y: Any) -> None:
    line: list[str] = []
    upper: list[str] = []
    lower: list[str] = []
    for p, t in zip(points + [None], times + [0.0]):  # a None ends the last run
        if p is None or p["value"] is None:
            if len(line) > 1:
                chart.lines.append(" ".join(line))
            if len(upper) > 1:
                chart.bands.append(" ".join(upper + lower[::-1]))
            line, upper, lower = [], [], []
            continue
        px, py = x(t), y(p["value"])
        line.append(f"{px:.1f},{py:.1f}")
        if p["ci_low"] is not None and p["ci_high"] is not None:
            upper.append(f"{px:.1f},{y(p['ci_high']):.1f}")
            lower.append(f"{px:.1f},{y(p['ci_low']):.1f}")
        chart.markers.append(Marker(px, py, p["status"] == "ok",
                                    f"{p['window_start'][:10]}: "
                                    f"{format_value(p['value'], p['metric'])}"))


def _x_ticks(points: list[dict[str, Any]], times: list[float], x: Any) -> list[Tick]:
    step = max(1, math.ceil(len(points) / 6))
    return [Tick(x(t), p["window_start"][5:10]) for i, (p, t) in
            enumerate(zip(points, times)) if i % step == 0]
