"""Fairness per sensitive attribute and intersection: per-group rates with their
intervals (insufficient groups kept and marked), the disparity over time, and the
thresholds of the policies in force drawn on both."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import charts, ui
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import fairness as shape

NO_FAIRNESS = ("No fairness figures: the model declares no sensitive attribute, or no window "
               "has run.")
FLOOR_LABEL = "{threshold:g} x highest sufficient group ({rule})"
INSUFFICIENT = ("Hatched grey groups have fewer rows than min_group_size: shown, but left "
                "out of the disparity figures.")
NO_VALUE = ("{metric} of {attribute} has no value in any window: fewer than two groups "
            "have enough rows (see the table).")
NO_THRESHOLD = "No policy in force puts a threshold on {metric} for {attribute}."


def draw(view: ModelView) -> None:
    attributes = shape.attributes(view.metrics, view.spec.sensitive)
    if not attributes:
        st.info(NO_FAIRNESS)
        return
    left, middle, right = st.columns(3)
    attribute = left.selectbox("Attribute or intersection", attributes,
                               key=f"fair_attr_{view.key}")
    rate = middle.selectbox("Per-group rate", shape.GROUP_RATES, key=f"fair_rate_{view.key}",
                            format_func=lambda r: r.replace("_", " "))
    present = [d for d in shape.DISPARITIES
               if (view.metrics["metric"] == f"fairness.{d}").any()]
    default = present.index("selection_rate_ratio") if "selection_rate_ratio" in present else 0
    disparity = right.selectbox("Disparity", present, index=default,
                                key=f"fair_disp_{view.key}")
    _groups(view, attribute, rate)
    _disparity(view, attribute, disparity)


def _groups(view: ModelView, attribute: str, rate: str) -> None:
    groups = shape.group_rates(view.window_rows, rate=rate, attribute=attribute)
    rules = view.thresholds(f"fairness.{rate}_ratio", attribute)
    if rate == "selection_rate":
        rules += view.thresholds("fairness.demographic_parity_ratio", attribute)
    floor = shape.implied_group_floor(groups, rules)
    label = FLOOR_LABEL.format(threshold=max(r.threshold for r in rules),
                               rule=rules[0].rule_id) if floor is not None else ""
    ui.chart(charts.group_rates(groups, rate=rate, floor=floor, floor_label=label),
             key=f"fair_groups_{view.key}")
    if (~groups["sufficient"]).any():
        st.caption(INSUFFICIENT)
    ui.table(groups)


def _disparity(view: ModelView, attribute: str, disparity: str) -> None:
    rows = shape.disparity_series(view.metrics, metric=disparity, attribute=attribute)
    lines = view.threshold_lines(f"fairness.{disparity}", attribute)
    if rows["value"].isna().all():
        st.info(NO_VALUE.format(metric=disparity, attribute=attribute))
    else:
        title = f"{disparity.replace('_', ' ')} of {attribute} per window"
        ui.chart(charts.over_time(rows, title, name=disparity, lines=lines),
                 key=f"fair_disp_chart_{view.key}")
    if not lines:
        st.caption(ui.md(NO_THRESHOLD.format(metric=f"fairness.{disparity}",
                                             attribute=attribute)))
    ui.table(rows)
