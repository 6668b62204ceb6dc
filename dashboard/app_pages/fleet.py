"""Fleet: every model with its status (worst active alert, or disabled), traffic, label
coverage and headline performance and fairness figures with their trend; active
alerts by severity."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from raigov.dashboard import charts, queries, ui
from raigov.errors import RaigovError

NO_ALERTS = "No active alert: every open alert has been resolved."
NO_TREND = ("No window has a usable {figure} yet (labels not arrived, or groups below "
            "min_group_size).")
NO_MODELS = "No model is registered yet: run `raigov demo` or register one."
STATUS_ICONS = {"ok": ":material/check_circle:", "critical": ":material/error:",
                "warning": ":material/warning:", "info": ":material/info:",
                "disabled": ":material/block:", "no traffic yet": ":material/hourglass_empty:"}
STATUS_BADGE = {"ok": "green", "critical": "red", "warning": "orange", "info": "blue",
                "disabled": "gray", "no traffic yet": "gray"}

ui.require_user()
st.title("Fleet")
root = ui.root()
try:
    with st.spinner("Reading the fleet..."):
        data = queries.fleet(root)
except RaigovError as exc:
    ui.stop_on_error(exc)
table: pd.DataFrame = data["table"]
trends: pd.DataFrame = data["trends"]
if table.empty:
    st.info(NO_MODELS)
    st.stop()


def _trend(model: str, figure: str) -> list[float]:
    rows = trends[(trends["model"] == model) & (trends["figure"] == figure)]
    return [float(v) for v in rows["value"].dropna()]


for row in table.itertuples(index=False):
    with st.container(border=True):
        head, badge = st.columns([4, 1], vertical_alignment="center")
        head.subheader(f"{ui.md(row.model)} · v{row.version}", anchor=False)
        badge.badge(row.status, icon=STATUS_ICONS.get(row.status),
                    color=STATUS_BADGE.get(row.status, "gray"))
        cols = st.columns(5)
        cols[0].metric("Active alerts", sum(getattr(row, f"alerts_{s}") for s in
                                            ("critical", "warning", "info")),
                       help="open or acknowledged; worst severity: "
                            f"{row.worst_alert or 'none'}")
        cols[1].metric("Predictions", ui.count(row.predictions_latest),
                       help=f"in the latest window; {ui.count(row.predictions_total)} in all "
                            "windows",
                       chart_data=_trend(row.model, "predictions"), chart_type="bar")
        cols[2].metric("Label coverage", ui.pct(row.label_coverage),
                       chart_data=_trend(row.model, "label coverage"))
        cols[3].metric("Accuracy", ui.pct(row.accuracy),
                       delta=ui.delta(row.accuracy, row.accuracy_previous),
                       chart_data=_trend(row.model, "accuracy"))
        label = (f"Parity ratio ({ui.md(row.fairness_attribute)})" if row.fairness_attribute
                 else "Parity ratio")
        cols[4].metric(label,
                       ui.num(row.fairness_ratio),
                       delta=ui.delta(row.fairness_ratio, row.fairness_ratio_previous,
                                      as_pct=False),
                       chart_data=_trend(row.model, "demographic parity ratio (worst)"),
                       help="demographic parity ratio of the worst attribute (smallest over "
                            "largest group selection rate); the four-fifths rule asks >= 0.8")
        caption = f"Latest window: {ui.when(row.latest_window)}"
        if row.disabled_reason:
            caption += f" · disabled: {ui.md(row.disabled_reason)}"
        note, link = st.columns([4, 1], vertical_alignment="center")
        note.caption(caption)
        link.page_link("app_pages/model.py", label="Model page", icon=":material/arrow_forward:",
                       query_params={"model": row.model})



def _trend_chart(figure: str, key: str, *, percent: bool = True) -> None:
    if (trends["figure"] == figure).any():
        ui.chart(charts.fleet_trend(trends, figure, percent=percent), key=key)
    else:
        st.info(NO_TREND.format(figure=figure))


left, right = st.columns(2)
with left:
    if data["alerts"].empty:
        st.success(NO_ALERTS)
    else:
        ui.chart(charts.alerts_by_severity(data["alerts"]), key="fleet_alerts")
with right:
    _trend_chart("accuracy", "fleet_accuracy")
left, right = st.columns(2)
with left:
    _trend_chart("demographic parity ratio (worst)", "fleet_fairness", percent=False)
with right:
    _trend_chart("label coverage", "fleet_coverage")

st.subheader("All figures", anchor=False)
ui.table(table.drop(columns=["accuracy_previous", "fairness_ratio_previous"]),
         column_config={"accuracy": st.column_config.NumberColumn(format="%.4f"),
                        "label_coverage": st.column_config.NumberColumn(format="%.4f"),
                        "fairness_ratio": st.column_config.NumberColumn(format="%.4f")})
