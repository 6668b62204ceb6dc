"""The chosen window's weak slices (``slices`` family): where the model fails, as a
table of text (slice, rate, effect, sizes, adjusted p-value)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from raigov.dashboard import ui
from raigov.dashboard.sections.context import ModelView

NO_SLICES_RUN = ("No weak-slice search in this window: it needs ground-truth labels on a "
                 "binary or multiclass model (POST /v1/models/<model>/feedback).")
NONE_FOUND = "No slice is significantly worse than the rest ({tested} slices tested, FDR {alpha})."
FOUND = "{found} weak slice(s) of {tested} tested (Benjamini-Hochberg, FDR {alpha}); the worst:"
COLUMNS = ["rank", "slice", "rate", "slice rate", "rest rate", "effect", "rows", "adjusted p"]


def weak_slices(rows: pd.DataFrame) -> pd.DataFrame:
    """The window's ``slices.worst`` rows as a text table, by rank."""
    worst = rows[rows["metric"] == "slices.worst"]
    records = []
    for r in worst.itertuples(index=False):
        d = r.details or {}
        records.append([int(d.get("rank", 0)), str(r.segment), str(d.get("rate", "")),
                        ui.num(d.get("slice_rate")), ui.num(d.get("rest_rate")),
                        ui.num(r.value), ui.count(r.n), f"{d.get('p_adjusted', float('nan')):.2g}"])
    return pd.DataFrame(sorted(records), columns=COLUMNS)


def draw(view: ModelView) -> None:
    rows = view.window_rows
    count = rows[(rows["metric"] == "slices.count_significant") & (rows["status"] == "ok")]
    if count.empty:
        st.info(NO_SLICES_RUN)
        return
    head = count.iloc[0]
    alpha = (head["details"] or {}).get("alpha")
    found, tested = int(head["value"]), ui.count(head["n"])
    if found == 0:
        st.success(NONE_FOUND.format(tested=tested, alpha=alpha))
        return
    st.warning(FOUND.format(found=found, tested=tested, alpha=alpha))
    ui.table(weak_slices(rows))
