"""One model's figures: performance over time, drift per feature, data quality and
feature importance, shaped from its metric rows (``raigov.monitors.store.read_metric_rows``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece",
                       "positive_rate")
DRIFT_COLUMNS = ["feature", "score", "threshold", "method", "statistic", "drifted", "status",
                 "n", "reason"]
SERIES_COLUMNS = ["window_start", "metric", "value", "ci_low", "ci_high", "n", "status"]


def windows(metrics: pd.DataFrame) -> list[pd.Timestamp]:
    """Window starts with metric rows, newest first."""
    return sorted(metrics["window_start"].unique(), reverse=True) if not metrics.empty else []


def in_window(metrics: pd.DataFrame, start: Any) -> pd.DataFrame:
    return metrics[metrics["window_start"] == pd.Timestamp(start)]


def _short(metric: str) -> str:
    return metric.split(".", 1)[1] if "." in metric else metric


def performance_series(metrics: pd.DataFrame) -> pd.DataFrame:
    """Overall performance per window (metric names without the family)."""
    rows = metrics[metrics["metric"].str.startswith("performance.") & (metrics["segment"] == "all")]
    out = rows[SERIES_COLUMNS].assign(metric=rows["metric"].map(_short))
    return out.sort_values(["metric", "window_start"]).reset_index(drop=True)


def series(metrics: pd.DataFrame, metric: str, *, segment: str = "all") -> pd.DataFrame:
    rows = metrics[(metrics["metric"] == metric) & (metrics["segment"] == segment)]
    return rows[SERIES_COLUMNS].sort_values("window_start").reset_index(drop=True)


def latest_performance(metrics: pd.DataFrame) -> pd.DataFrame:
    """The newest window's performance figures, in a fixed order."""
    perf = performance_series(metrics)
    if perf.empty:
        return perf
    latest = perf[perf["window_start"] == perf["window_start"].max()]
    order = {m: i for i, m in enumerate(PERFORMANCE_METRICS)}
    return latest.sort_values("metric", key=lambda s: s.map(order)).reset_index(drop=True)


def drift_table(window_rows: pd.DataFrame) -> pd.DataFrame:
    """Per input column of one window: drift score, threshold, method, verdict."""
    rows = window_rows[window_rows["metric"].str.startswith("drift.feature.")]
    records = []
    for r in rows.itertuples(index=False):
        d = r.details or {}
        records.append({
            "feature": r.metric.removeprefix("drift.feature."), "score": r.value,
            "threshold": d.get("threshold"), "method": d.get("method_label") or d.get("method"),
            "statistic": d.get("stattest_kind"), "drifted": d.get("drifted"),
            "status": r.status, "n": r.n, "reason": d.get("reason")})
    frame = pd.DataFrame(records, columns=DRIFT_COLUMNS)
    return frame.sort_values("feature").reset_index(drop=True)


def drift_summary(window_rows: pd.DataFrame) -> dict[str, Any]:
    """Share of drifted features and the dataset-drift verdict of one window."""
    share = window_rows[window_rows["metric"] == "drift.share_drifted"]
    dataset = window_rows[window_rows["metric"] == "drift.dataset_drift"]
    details = share["details"].iloc[0] if not share.empty else {}
    return {"share_drifted": share["value"].iloc[0] if not share.empty else None,
            "dataset_drift": dataset["value"].iloc[0] if not dataset.empty else None,
            "threshold": details.get("drift_share_threshold"),
            "drifted_columns": details.get("drifted_columns", [])}


def quality_columns(window_rows: pd.DataFrame) -> pd.DataFrame:
    """Per input column of one window: missing and out-of-range rates."""
    parts = {}
    for metric, name in (("quality.missing_rate", "missing_rate"),
                         ("quality.out_of_range_rate", "out_of_range_rate")):
        rows = window_rows[(window_rows["metric"] == metric)
                           & window_rows["segment"].str.startswith("column=")]
        parts[name] = rows.set_index(rows["segment"].str.removeprefix("column="))["value"]
    frame = pd.DataFrame(parts)
    frame.index.name = "column"
    return frame.reset_index().sort_values("column").reset_index(drop=True)


def quality_series(metrics: pd.DataFrame) -> pd.DataFrame:
    """Window-level quality figures over time (long frame)."""
    names = ("quality.rows", "quality.missing_rate", "quality.schema_violation_rate",
             "quality.label_coverage")
    rows = metrics[metrics["metric"].isin(names) & (metrics["segment"] == "all")]
    out = rows[SERIES_COLUMNS].assign(metric=rows["metric"].map(_short))
    return out.sort_values(["metric", "window_start"]).reset_index(drop=True)


def importance(window_rows: pd.DataFrame) -> pd.DataFrame:
    """Global feature importance (mean |SHAP|) of one window with its interval, beside
    the reference's importance where the attribution-shift row carries it."""
    rows = window_rows[window_rows["metric"].str.startswith("explain.importance.")
                       & (window_rows["segment"] == "all")]
    shift = window_rows[window_rows["metric"] == "explain.attribution_shift"]
    reference = (shift["details"].iloc[0] or {}).get("importance_reference", {}) \
        if not shift.empty else {}
    frame = pd.DataFrame({
        "feature": rows["metric"].str.removeprefix("explain.importance.").to_numpy(),
        "window": rows["value"].to_numpy(), "ci_low": rows["ci_low"].to_numpy(),
        "ci_high": rows["ci_high"].to_numpy()})
    frame["reference"] = frame["feature"].map(reference)
    return frame.sort_values("window", ascending=False).reset_index(drop=True)


def error_rows(window_rows: pd.DataFrame) -> pd.DataFrame:
    """Monitor families that failed on the window (shown, never hidden)."""
    rows = window_rows[window_rows["metric"] == "monitor.error"]
    return pd.DataFrame({"family": rows["segment"],
                         "error": rows["details"].map(lambda d: (d or {}).get("error"))})
