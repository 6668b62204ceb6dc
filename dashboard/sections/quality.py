"""Data quality: rows, missing values, schema violations and label coverage over
time; missing and out-of-range values per column in the chosen window."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import charts, ui
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import model as shape

NO_QUALITY = "No data-quality figures for this model version yet."
FIGURES = (("rows", "Predictions per window", False),
           ("schema_violation_rate", "Rows failing the input schema", True),
           ("missing_rate", "Missing input values", True),
           ("label_coverage", "Predictions with ground truth", True))


def draw(view: ModelView) -> None:
    series = shape.quality_series(view.metrics)
    if series.empty:
        st.info(NO_QUALITY)
        return
    cols = st.columns(2)
    for i, (metric, title, percent) in enumerate(FIGURES):
        rows = series[series["metric"] == metric]
        with cols[i % 2]:
            ui.chart(charts.over_time(rows, title, name=metric, percent=percent,
                                      lines=view.threshold_lines(f"quality.{metric}")),
                     key=f"quality_{metric}_{view.key}")
    columns = shape.quality_columns(view.window_rows)
    if not columns.empty:
        ui.chart(charts.quality_columns(columns), key=f"quality_columns_{view.key}")
        ui.table(columns)
    errors = shape.error_rows(view.window_rows)
    if not errors.empty:
        st.error("Monitor families failed on this window:")
        ui.table(errors)
