"""Performance over time with label coverage, and the chosen window's figures."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import charts, ui
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import model as shape

NO_LABELS = ("No performance figures yet: they need ground-truth labels "
             "(POST /v1/models/<model>/feedback).")
DEFAULT_METRICS = ["accuracy", "roc_auc"]


def draw(view: ModelView) -> None:
    series = shape.performance_series(view.metrics)
    coverage = shape.series(view.metrics, "quality.label_coverage")
    if series.empty:
        st.info(NO_LABELS)
        return
    available = sorted(series["metric"].unique())
    chosen = st.multiselect("Metrics", available, key=f"perf_metrics_{view.key}",
                            default=[m for m in DEFAULT_METRICS if m in available])
    ui.chart(charts.performance(series, coverage, chosen, shape.PERFORMANCE_METRICS),
             key=f"perf_chart_{view.key}")
    rows = series[series["window_start"] == view.window] if view.window is not None else series
    st.subheader(f"Window of {ui.day(view.window)}", anchor=False)
    cols = st.columns(max(len(rows), 1))
    for col, row in zip(cols, rows.itertuples(index=False)):
        col.metric(row.metric, ui.num(row.value),
                   help=f"95% interval {ui.num(row.ci_low)} to {ui.num(row.ci_high)}, "
                        f"n={ui.count(row.n)}, status {row.status}")
    ui.table(rows[["metric", "value", "ci_low", "ci_high", "n", "status"]])
