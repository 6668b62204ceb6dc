"""Fairness per sensitive attribute and intersection: per-group rates with their
intervals (insufficient groups kept and marked), disparities over time, and the
thresholds the policies in force put on them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from raigov.dashboard.shape.governance import Threshold

GROUP_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate",
               "false_negative_rate", "accuracy")
DISPARITIES = ("demographic_parity_ratio", "demographic_parity_difference",
               "equalized_odds_ratio", "equalized_odds_difference",
               "equal_opportunity_ratio", "equal_opportunity_difference",
               *(f"{r}_{kind}" for r in GROUP_RATES for kind in ("ratio", "difference")))
GROUP_COLUMNS = ["group", "value", "ci_low", "ci_high", "n", "status", "sufficient", "reason"]


def split_segment(segment: str) -> tuple[str, str] | None:
    """``sex=Female&race=Black`` -> (``sex&race``, ``Female&Black``); None for
    ``all`` or an attribute segment. A value holding ``&`` stays whole."""
    if "=" not in segment:
        return None
    keys: list[str] = []
    values: list[str] = []
    for piece in segment.split("&"):
        if "=" in piece:
            key, value = piece.split("=", 1)
            keys.append(key)
            values.append(value)
        elif values:
            values[-1] += "&" + piece
    return "&".join(keys), "&".join(values)


def attributes(metrics: pd.DataFrame, declared: Sequence[str] = ()) -> list[str]:
    """Attributes and intersections with fairness rows: single attributes first, in
    the order the model declares them, then intersections."""
    rows = metrics[metrics["metric"].str.startswith("fairness.")
                   & ~metrics["segment"].str.contains("=") & (metrics["segment"] != "all")]
    order = {name: i for i, name in enumerate(declared)}
    return sorted(set(rows["segment"]),
                  key=lambda a: (a.count("&"), order.get(a, len(order)), a))


def group_rates(window_rows: pd.DataFrame, *, rate: str, attribute: str) -> pd.DataFrame:
    """One rate per group of ``attribute`` in one window."""
    rows = window_rows[window_rows["metric"] == f"fairness.{rate}"]
    records = []
    for r in rows.itertuples(index=False):
        parts = split_segment(r.segment)
        if parts is None or parts[0] != attribute:
            continue
        records.append({"group": parts[1], "value": r.value, "ci_low": r.ci_low,
                        "ci_high": r.ci_high, "n": r.n, "status": r.status,
                        "sufficient": r.status == "ok",
                        "reason": (r.details or {}).get("reason")})
    return pd.DataFrame(records, columns=GROUP_COLUMNS).sort_values("group").reset_index(drop=True)


def disparity_series(metrics: pd.DataFrame, *, metric: str, attribute: str) -> pd.DataFrame:
    """``fairness.<metric>`` of ``attribute`` over windows, with intervals."""
    rows = metrics[(metrics["metric"] == f"fairness.{metric}") & (metrics["segment"] == attribute)]
    out = rows[["window_start", "value", "ci_low", "ci_high", "n", "status"]].copy()
    out["insufficient_groups"] = rows["details"].map(
        lambda d: ", ".join((d or {}).get("insufficient_groups", [])))
    return out.sort_values("window_start").reset_index(drop=True)


def implied_group_floor(groups: pd.DataFrame,
                        ratio_thresholds: Sequence[Threshold]) -> float | None:
    """For a ratio rule ``>= t``: the lowest rate a group may have, ``t`` times the
    highest sufficient group's rate (the four-fifths line)."""
    sufficient = groups[groups["sufficient"] & groups["value"].notna()]
    floors = [t.threshold for t in ratio_thresholds if t.op in (">=", ">")]
    if sufficient.empty or not floors:
        return None
    return max(floors) * float(sufficient["value"].max())
