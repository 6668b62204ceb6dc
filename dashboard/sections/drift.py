"""Drift per feature against its threshold; Evidently's own report of the window,
built on demand."""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from raigov.dashboard import charts, queries, ui
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import model as shape
from raigov.errors import RaigovError

NO_DRIFT = "No drift figures for this window."
SUMMARY = ("{drifted} of {tested} features drift (share {share}); dataset drift "
           "{verdict} at a share threshold of {threshold}.")
COLOURS = ("Red bars drift. A p-value (K-S, chi-square, Z-test) drifts below its threshold, "
           "a distance (Wasserstein, Jensen-Shannon) above it.")
REPORT_HELP = ("Runs Evidently's DataDriftPreset on up to 5,000 rows of the window and of "
               "the reference; takes a few seconds.")
REPORT_FAILED = "The Evidently report could not be built: {error}"


def draw(view: ModelView) -> None:
    rows = view.window_rows
    table = shape.drift_table(rows)
    if table.empty:
        st.info(NO_DRIFT)
        return
    summary = shape.drift_summary(rows)
    tested = int(table["score"].notna().sum())
    st.write(SUMMARY.format(drifted=len(summary["drifted_columns"]), tested=tested,
                            share=ui.pct(summary["share_drifted"]),
                            verdict="fires" if summary["dataset_drift"] else "does not fire",
                            threshold=ui.pct(summary["threshold"], 0)))
    ui.chart(charts.drift_scores(table), key=f"drift_chart_{view.key}")
    share = shape.series(view.metrics, "drift.share_drifted")
    st.caption(COLOURS)
    ui.chart(charts.over_time(share, "Share of drifted features per window",
                              name="share drifted", percent=True,
                              lines=view.threshold_lines("drift.share_drifted")),
             key=f"drift_share_{view.key}")
    ui.table(table)
    _report(view)


def _report(view: ModelView) -> None:
    key = f"drift_report_{view.key}_{ui.day(view.window)}"
    if st.button("Show Evidently's report for this window", key=f"{key}_button",
                 help=REPORT_HELP, icon=":material/analytics:"):
        st.session_state[key] = True
    if not st.session_state.get(key):
        return
    try:
        with st.spinner("Building Evidently's drift report..."):
            html = queries.drift_report(view.root, view.model, view.version,
                                        view.window.to_pydatetime(),
                                        view.window_end.to_pydatetime())
    except (RaigovError, ValueError) as exc:
        st.error(REPORT_FAILED.format(error=exc))
        return
    # Evidently's own generated page (not user content), sandboxed in an iframe.
    components.html(html, height=900, scrolling=True)
