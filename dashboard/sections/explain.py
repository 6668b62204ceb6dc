"""Global feature importance (mean |SHAP|) of the window against the reference, and
the attribution shift over time."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import charts, ui
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import model as shape

NO_IMPORTANCE = "No explanation figures for this window."
SHIFT_HELP = ("Attribution shift: 1 minus the Spearman rank agreement of feature "
              "importance between the window and the reference (0: same ranking).")


def draw(view: ModelView) -> None:
    frame = shape.importance(view.window_rows)
    if frame.empty:
        st.info(NO_IMPORTANCE)
        return
    left, right = st.columns(2)
    with left:
        ui.chart(charts.importance(frame), key=f"importance_{view.key}")
    with right:
        shift = shape.series(view.metrics, "explain.attribution_shift")
        ui.chart(charts.over_time(shift, "Attribution shift per window",
                                  name="attribution shift",
                                  lines=view.threshold_lines("explain.attribution_shift")),
                 key=f"shift_{view.key}")
        st.caption(SHIFT_HELP)
    ui.table(frame)
