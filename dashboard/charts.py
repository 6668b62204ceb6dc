"""Plotly figures for the pages, with one colour per severity, status, model and group
wherever they appear. Plotly reads a few HTML tags in text, so every name or value
from the data goes through :func:`esc` and shows literally."""

from __future__ import annotations

import html
import zlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SEVERITY_COLOURS = {"critical": "#c0392b", "warning": "#e67e22", "info": "#2e86c1"}
STATUS_COLOURS = {"ok": "#27ae60", "pass": "#27ae60", "fail": "#c0392b",
                  "insufficient_data": "#95a5a6", "waived": "#8e44ad", "error": "#2c3e50",
                  "disabled": "#7f8c8d", **SEVERITY_COLOURS}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
           "#3182bd", "#31a354")
INSUFFICIENT = "#bdc3c7"
DRIFTED, STABLE = "#c0392b", "#27ae60"
LAYOUT = dict(template="plotly_white", height=360, margin=dict(l=10, r=10, t=50, b=10),
              legend=dict(orientation="h", yanchor="top", y=-0.12, x=0))
BANDS_UP_TO = 2   # confidence bands drawn when at most this many lines share a chart


def esc(text: Any) -> str:
    """Text for plotly: ``<`` and ``&`` escaped so no tag is interpreted."""
    return html.escape(str(text), quote=False)


def colour_for(name: str) -> str:
    """The same colour for the same model or group in every chart."""
    return PALETTE[zlib.crc32(str(name).encode()) % len(PALETTE)]


def _figure(title: str, **layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=esc(title), **{**LAYOUT, **layout})
    return fig


def fleet_trend(trends: pd.DataFrame, figure: str, *, percent: bool = True) -> go.Figure:
    fig = _figure(figure.capitalize() + " per window")
    for model, rows in trends[trends["figure"] == figure].groupby("model", sort=True):
        fig.add_scatter(x=rows["window_start"], y=rows["value"], mode="lines+markers",
                        name=esc(model), line=dict(color=colour_for(model)))
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def alerts_by_severity(counts: pd.DataFrame) -> go.Figure:
    fig = _figure("Active alerts by severity", barmode="stack")
    for severity in SEVERITY_COLOURS:
        rows = counts[counts["severity"] == severity]
        fig.add_bar(x=[esc(m) for m in rows["model"]], y=rows["alerts"], name=severity,
                    marker_color=SEVERITY_COLOURS[severity])
    fig.update_yaxes(dtick=1)
    return fig


def _band(fig: go.Figure, rows: pd.DataFrame, colour: str, **where: Any) -> None:
    if rows["ci_low"].notna().any():
        fig.add_scatter(x=list(rows["window_start"]) + list(rows["window_start"])[::-1],
                        y=list(rows["ci_high"]) + list(rows["ci_low"])[::-1], fill="toself",
                        fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                        showlegend=False, **where)


def performance(series: pd.DataFrame, coverage: pd.DataFrame, metrics: Sequence[str],
                order: Sequence[str]) -> go.Figure:
    """Chosen metrics over windows (fixed colour per metric name in ``order``), label
    coverage as bars on the right axis; 95% bands when few lines share the chart."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.06)
    fig.update_layout(title="Performance over time, with label coverage",
                      **{**LAYOUT, "height": 460})
    fig.add_bar(x=coverage["window_start"], y=coverage["value"], name="label coverage",
                marker_color="#aab7b8", row=2, col=1)
    for metric in metrics:
        rows = series[series["metric"] == metric]
        colour = PALETTE[list(order).index(metric) % len(PALETTE)] if metric in order \
            else colour_for(metric)
        if len(metrics) <= BANDS_UP_TO:
            _band(fig, rows, colour, row=1, col=1)
        fig.add_scatter(x=rows["window_start"], y=rows["value"], mode="lines+markers",
                        name=metric, line=dict(color=colour), row=1, col=1)
    fig.update_yaxes(title_text="metric", row=1, col=1)
    fig.update_yaxes(title_text="labelled", tickformat=".0%", range=[0, 1], row=2, col=1)
    return fig


def drift_scores(table: pd.DataFrame) -> go.Figure:
    """Per feature: score bar against its threshold (tick). p-values drift below
    their threshold, distances above it."""
    rows = table[table["score"].notna()]
    fig = _figure("Drift per feature against its threshold", height=max(300, 28 * len(rows) + 80))
    labels = [f"{esc(f)} ({'p-value' if k == 'p_value' else 'distance'})"
              for f, k in zip(rows["feature"], rows["statistic"])]
    fig.add_bar(y=labels, x=rows["score"], orientation="h", name="score",
                marker_color=[DRIFTED if d else STABLE for d in rows["drifted"]],
                customdata=[esc(m) for m in rows["method"]],
                hovertemplate="%{y}: %{x:.4g} (%{customdata})<extra></extra>")
    fig.add_scatter(y=labels, x=rows["threshold"], mode="markers", name="threshold",
                    marker=dict(symbol="line-ns-open", size=22, color="#2c3e50", line_width=3))
    fig.update_yaxes(autorange="reversed")
    return fig


def threshold_line(fig: go.Figure, value: float, label: str, colour: str) -> None:
    fig.add_hline(y=value, line_dash="dash", line_color=colour,
                  annotation_text=esc(label), annotation_position="top left")


def over_time(rows: pd.DataFrame, title: str, *, name: str, percent: bool = False,
              lines: Sequence[tuple[float, str, str]] = ()) -> go.Figure:
    """One figure over windows with its interval and threshold lines (value, label, colour)."""
    fig = _figure(title)
    colour = colour_for(name)
    _band(fig, rows, colour)
    fig.add_scatter(x=rows["window_start"], y=rows["value"], mode="lines+markers",
                    name=esc(name), line=dict(color=colour))
    for value, label, line_colour in lines:
        threshold_line(fig, value, label, line_colour)
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def group_rates(groups: pd.DataFrame, *, rate: str, floor: float | None,
                floor_label: str) -> go.Figure:
    """Per-group rate with its interval; insufficient groups hatched and grey."""
    fig = _figure(f"{rate.replace('_', ' ')} per group",
                  height=max(240, 34 * len(groups) + 130), bargap=0.35)
    labels = [esc(g) + ("" if ok else " (insufficient)")
              for g, ok in zip(groups["group"], groups["sufficient"])]
    value = groups["value"].fillna(0)
    fig.add_bar(
        y=labels, x=value, orientation="h", name=esc(rate),
        marker=dict(color=[colour_for(g) if ok else INSUFFICIENT
                           for g, ok in zip(groups["group"], groups["sufficient"])],
                    pattern_shape=["" if ok else "/" for ok in groups["sufficient"]]),
        error_x=dict(type="data", symmetric=False, array=(groups["ci_high"] - value).fillna(0),
                     arrayminus=(value - groups["ci_low"]).fillna(0), color="#34495e"),
        customdata=groups["n"], hovertemplate="%{y}: %{x:.3f} (n=%{customdata})<extra></extra>")
    if floor is not None:
        fig.add_vline(x=floor, line_dash="dash", line_color=SEVERITY_COLOURS["critical"],
                      annotation_text=esc(floor_label), annotation_position="top")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 1.05])
    return fig


def quality_columns(frame: pd.DataFrame) -> go.Figure:
    fig = _figure("Missing and out-of-range values per column", barmode="group")
    for column, colour in (("missing_rate", "#5d6d7e"), ("out_of_range_rate", "#e67e22")):
        if column in frame:
            fig.add_bar(x=[esc(c) for c in frame["column"]], y=frame[column],
                        name=column.replace("_", " "), marker_color=colour)
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    return fig


def importance(frame: pd.DataFrame) -> go.Figure:
    fig = _figure("Global feature importance (mean |SHAP|, logit units)", barmode="group",
                  height=max(320, 30 * len(frame) + 100))
    labels = [esc(f) for f in frame["feature"]]
    fig.add_bar(y=labels, x=frame["window"], orientation="h", name="this window",
                marker_color=PALETTE[0],
                error_x=dict(type="data", symmetric=False,
                             array=(frame["ci_high"] - frame["window"]).fillna(0),
                             arrayminus=(frame["window"] - frame["ci_low"]).fillna(0)))
    if frame["reference"].notna().any():
        fig.add_bar(y=labels, x=frame["reference"], orientation="h", name="reference",
                    marker_color="#aab7b8")
    fig.update_yaxes(autorange="reversed")
    return fig


def waterfall(explanation: dict[str, Any], *, top: int = 12) -> go.Figure:
    """Why this decision: from the base value to the row's logit, feature by feature."""
    parts = explanation["contributions"]
    shown, rest = parts[:top], parts[top:]
    labels = [f"{esc(p['feature'])} = {esc(p['value'])}" for p in shown]
    values = [p["shap"] for p in shown]
    if rest:
        labels.append(f"{len(rest)} other features")
        values.append(sum(p["shap"] for p in rest))
    fig = _figure("Why this decision (SHAP, logit units)", height=max(360, 30 * len(labels) + 140))
    fig.add_trace(go.Waterfall(
        orientation="h", y=["base value", *labels, "this prediction (logit)"],
        x=[explanation["base_value"], *values, explanation["logit"]],
        measure=["absolute", *["relative"] * len(values), "total"],
        increasing=dict(marker_color=SEVERITY_COLOURS["critical"]),
        decreasing=dict(marker_color=PALETTE[0]), totals=dict(marker_color="#2c3e50")))
    fig.update_yaxes(autorange="reversed")
    return fig
