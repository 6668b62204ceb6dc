"""The fleet view: one row per model with its status, traffic, label coverage and
headline figures of its latest window, and their trends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

HEADLINE_PERFORMANCE = "performance.accuracy"
HEADLINE_FAIRNESS = "fairness.demographic_parity_ratio"
TRAFFIC = "quality.rows"
LABEL_COVERAGE = "quality.label_coverage"
FLEET_METRICS = (HEADLINE_PERFORMANCE, HEADLINE_FAIRNESS, TRAFFIC, LABEL_COVERAGE)
SEVERITY_RANK = {"info": 1, "warning": 2, "critical": 3}
ACTIVE_ALERT_STATUSES = ("open", "acknowledged")
STATUS_OK = "ok"
STATUS_DISABLED = "disabled"
STATUS_NO_TRAFFIC = "no traffic yet"


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def overall(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric's ``all`` segment per window (model, version, window_start, value,
    ci_low, ci_high, n, status), oldest window first."""
    rows = metrics[(metrics["metric"] == metric) & (metrics["segment"] == "all")]
    return rows.sort_values("window_start")[["model", "version", "window_start", "value",
                                             "ci_low", "ci_high", "n", "status"]]


def worst_attribute(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per window, the smallest usable value of ``metric`` over its attribute
    segments (``sex``, ``race``, ``sex&race``) and which attribute it was."""
    rows = metrics[(metrics["metric"] == metric) & (metrics["status"] == "ok")
                   & metrics["value"].notna() & ~metrics["segment"].str.contains("=")]
    if rows.empty:
        return pd.DataFrame(columns=["model", "window_start", "value", "segment"])
    idx = rows.groupby(["model", "window_start"])["value"].idxmin()
    return rows.loc[idx, ["model", "window_start", "value", "segment"]].sort_values("window_start")


def alert_state(alerts: pd.DataFrame, model: str) -> tuple[str | None, dict[str, int]]:
    """The worst severity among the model's active alerts, and counts per severity."""
    mine = alerts[(alerts["model"] == model) & alerts["status"].isin(ACTIVE_ALERT_STATUSES)] \
        if not alerts.empty else alerts
    counts = {s: int((mine["severity"] == s).sum()) if not mine.empty else 0
              for s in SEVERITY_RANK}
    present = [s for s, c in counts.items() if c]
    worst = max(present, key=SEVERITY_RANK.__getitem__) if present else None
    return worst, counts


def _latest_and_previous(series: pd.DataFrame) -> tuple[float | None, float | None]:
    values = [_number(v) for v in series["value"].tolist()]
    latest = values[-1] if values else None
    previous = values[-2] if len(values) > 1 else None
    return latest, previous


def model_row(name: str, version: int, metrics: pd.DataFrame, alerts: pd.DataFrame,
              disabled: dict[str, dict]) -> dict[str, Any]:
    """The fleet's figures for one model (its latest registered version)."""
    mine = metrics[(metrics["model"] == name) & (metrics["version"] == version)]
    worst, counts = alert_state(alerts, name)
    accuracy, accuracy_prev = _latest_and_previous(overall(mine, HEADLINE_PERFORMANCE))
    fairness = worst_attribute(mine, HEADLINE_FAIRNESS)
    fair_latest, fair_prev = _latest_and_previous(fairness)
    traffic = overall(mine, TRAFFIC)
    coverage, _ = _latest_and_previous(overall(mine, LABEL_COVERAGE))
    switch = disabled.get(f"{name}@{version}") or disabled.get(name)
    status = (STATUS_DISABLED if switch else worst or
              (STATUS_NO_TRAFFIC if traffic.empty else STATUS_OK))
    latest_window = traffic["window_start"].iloc[-1] if not traffic.empty else None
    return {
        "model": name, "version": version, "status": status,
        "disabled_reason": switch.get("reason") if switch else None,
        "worst_alert": worst, **{f"alerts_{s}": c for s, c in counts.items()},
        "latest_window": latest_window,
        "predictions_latest": _number(traffic["value"].iloc[-1]) if not traffic.empty else None,
        "predictions_total": float(traffic["value"].sum()) if not traffic.empty else 0.0,
        "label_coverage": coverage, "accuracy": accuracy, "accuracy_previous": accuracy_prev,
        "fairness_ratio": fair_latest, "fairness_ratio_previous": fair_prev,
        "fairness_attribute": fairness["segment"].iloc[-1] if not fairness.empty else None,
    }


def fleet_table(models: Sequence[tuple[str, int]], metrics: pd.DataFrame, alerts: pd.DataFrame,
                disabled: dict[str, dict]) -> pd.DataFrame:
    rows = [model_row(name, version, metrics, alerts, disabled) for name, version in models]
    return pd.DataFrame(rows)


def fleet_trends(models: Sequence[tuple[str, int]], metrics: pd.DataFrame) -> pd.DataFrame:
    """Long frame (model, window_start, figure, value) of the headline figures."""
    parts = []
    for name, version in models:
        mine = metrics[(metrics["model"] == name) & (metrics["version"] == version)]
        for figure, frame in (("accuracy", overall(mine, HEADLINE_PERFORMANCE)),
                              ("label coverage", overall(mine, LABEL_COVERAGE)),
                              ("predictions", overall(mine, TRAFFIC)),
                              ("demographic parity ratio (worst)",
                               worst_attribute(mine, HEADLINE_FAIRNESS))):
            if not frame.empty:
                parts.append(frame.assign(model=name, figure=figure)[
                    ["model", "window_start", "figure", "value"]])
    if not parts:
        return pd.DataFrame(columns=["model", "window_start", "figure", "value"])
    return pd.concat(parts, ignore_index=True)


def alerts_by_severity(alerts: pd.DataFrame) -> pd.DataFrame:
    """Active alerts counted per model and severity (every severity present)."""
    if alerts.empty:
        return pd.DataFrame(columns=["model", "severity", "alerts"])
    active = alerts[alerts["status"].isin(ACTIVE_ALERT_STATUSES)]
    counts = active.groupby(["model", "severity"]).size().rename("alerts").reset_index()
    return counts.sort_values(["severity", "model"], key=lambda s: s.map(SEVERITY_RANK)
                              if s.name == "severity" else s)
