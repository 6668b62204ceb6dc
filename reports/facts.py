"""The facts of a model card, gathered from the registry and the metric rows: one
function per section, pure reads, every value plain JSON (times as UTC ISO 8601).

Narrative parts come from the registered :class:`~raigov.models.spec.CardMeta`, verbatim; a
field that was not provided stays ``None`` and is listed in ``missing``, never filled
in. Quantitative parts come, per monitor family, from the latest window whose key
figure is usable (status ``ok``: overall accuracy for performance, so a window whose
labels have not arrived yet does not hide the last measured one), else from its latest
window; ``insufficient_data`` rows in that window are shown as such, never dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from raigov.models.registry import RegisteredModel
from raigov.monitors.catalog import metric_info
from raigov.reports.queries import jsonable

NARRATIVE_FIELDS = ("owner", "description", "intended_use", "out_of_scope_uses",
                    "primary_users", "factors", "training_data", "evaluation_data",
                    "ethical_considerations", "limitations", "recommendations", "license")
TOP_FEATURES = 10
PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "ece",
                       "log_loss", "positive_rate")
DISPARITY_METRICS = ("demographic_parity_ratio", "demographic_parity_difference",
                     "equalized_odds_ratio", "equalized_odds_difference",
                     "equal_opportunity_ratio", "equal_opportunity_difference")
GROUP_RATE_METRICS = ("group_size", "selection_rate", "true_positive_rate",
                      "false_positive_rate", "false_negative_rate", "accuracy")
#: The metrics a card's tables show (its JSON holds every row of the window).
CARD_METRICS = (*(f"performance.{m}" for m in PERFORMANCE_METRICS),
                *(f"fairness.{m}" for m in (*DISPARITY_METRICS, *GROUP_RATE_METRICS)),
                "drift.dataset_drift", "drift.share_drifted", "drift.feature.<feature>",
                "drift.prediction", "explain.importance.<feature>",
                "explain.attribution_shift")
#: The figure that decides which window a family's section shows: its latest window
#: where one of these metrics is usable (status ``ok``), tried in order.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "performance": ("performance.accuracy", "performance.positive_rate"),
    "fairness": ("fairness.equalized_odds_difference", "fairness.demographic_parity_ratio"),
    "drift": ("drift.share_drifted",),
    "explain": ("explain.attribution_shift", "explain.importance."),
}


def model_details(model: RegisteredModel) -> dict[str, Any]:
    """Who made the model, which version, and what it takes and returns."""
    spec, card = model.spec, model.spec.card
    return jsonable({
        "name": spec.name, "version": model.version, "created_at": model.created_at,
        "spec_sha256": model.spec_sha256, "output_kind": spec.output_kind,
        "classes": list(spec.classes), "positive_class": spec.positive_class,
        "threshold": spec.threshold, "features": list(spec.features),
        "sensitive": list(spec.sensitive), "tags": list(spec.tags),
        "owner": _text(card.owner), "description": _text(card.description),
        "license": _text(card.license),
        "references": list(card.references)})


def narrative(model: RegisteredModel) -> dict[str, str | None]:
    """The card's narrative fields as registered (``None`` where not provided)."""
    card = model.spec.card
    return {name: _text(getattr(card, name)) for name in NARRATIVE_FIELDS}


def missing_fields(model: RegisteredModel) -> list[str]:
    """Narrative fields the registration left empty (shown as missing)."""
    return [name for name, value in narrative(model).items() if value is None]


def _text(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def factors(model: RegisteredModel) -> dict[str, Any]:
    spec = model.spec
    return {"narrative": _text(spec.card.factors), "sensitive": list(spec.sensitive),
            "intersections": ["&".join(c) for c in spec.monitoring.intersections],
            "min_group_size": spec.monitoring.min_group_size}


def metric_fact(row: Any) -> dict[str, Any]:
    """One catalog metric row as a card fact (the catalog's values, unrounded)."""
    details = row.details if isinstance(row.details, dict) else {}
    return jsonable({
        "metric": row.metric, "segment": row.segment, "value": _num(row.value),
        "ci_low": _num(row.ci_low), "ci_high": _num(row.ci_high),
        "n": None if pd.isna(row.n) else int(row.n), "status": row.status,
        "reason": details.get("reason")})


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def latest_window(rows: pd.DataFrame, family: str) -> pd.DataFrame:
    """The family's rows of its latest window where a key metric is usable; else of
    its latest window with any usable row; else of its latest window."""
    mine = rows[rows["family"] == family]
    if mine.empty:
        return mine
    usable = mine[mine["status"] == "ok"]
    candidates = [usable[usable["metric"].str.startswith(key)]
                  for key in KEY_METRICS.get(family, ())] + [usable, mine]
    chosen = next(c for c in candidates if not c.empty)
    return mine[mine["window_start"] == chosen["window_start"].max()]


def window_of(rows: pd.DataFrame) -> dict[str, Any] | None:
    if rows.empty:
        return None
    first = rows.iloc[0]
    return jsonable({"start": first.window_start.to_pydatetime(),
                     "end": first.window_end.to_pydatetime(), "version": int(first.version)})


def family_section(rows: pd.DataFrame, family: str) -> dict[str, Any]:
    """``{"window": ..., "metrics": [...]}`` for one family's latest window."""
    latest = latest_window(rows, family)
    ordered = latest.sort_values(["metric", "segment"], kind="stable")
    return {"window": window_of(latest),
            "metrics": [metric_fact(r) for r in ordered.itertuples(index=False)]}


def explanations(rows: pd.DataFrame) -> dict[str, Any]:
    """Top features by mean |SHAP| (segment ``all``) and the attribution shift."""
    section = family_section(rows, "explain")
    overall = [m for m in section["metrics"] if m["segment"] == "all"]
    importance = sorted((m for m in overall if m["metric"].startswith("explain.importance.")),
                        key=lambda m: -(m["value"] if m["value"] is not None else -1.0))
    for m in importance:
        m["feature"] = m["metric"].removeprefix("explain.importance.")
    shift = [m for m in overall if m["metric"] == "explain.attribution_shift"]
    return {"window": section["window"], "top_features": importance[:TOP_FEATURES],
            "attribution_shift": shift[0] if shift else None}


def drift(rows: pd.DataFrame) -> dict[str, Any]:
    """Dataset drift, share of drifted features and each feature's score."""
    section = family_section(rows, "drift")
    by_metric = {m["metric"]: m for m in section["metrics"] if m["segment"] == "all"}
    features = []
    latest = latest_window(rows, "drift")
    for row in latest[latest["metric"].str.startswith("drift.feature.")].sort_values(
            "metric").itertuples(index=False):
        fact = metric_fact(row)
        details = row.details if isinstance(row.details, dict) else {}
        fact.update(jsonable({"feature": row.metric.removeprefix("drift.feature."),
                              "method": details.get("method"),
                              "threshold": details.get("threshold"),
                              "drifted": details.get("drifted")}))
        features.append(fact)
    return {"window": section["window"],
            "dataset_drift": by_metric.get("drift.dataset_drift"),
            "share_drifted": by_metric.get("drift.share_drifted"),
            "prediction": by_metric.get("drift.prediction"), "features": features}


def quantitative_analyses(rows: pd.DataFrame) -> dict[str, Any]:
    """Performance and fairness per group with intervals, drift and explanations."""
    return {"performance": family_section(rows, "performance"),
            "fairness": family_section(rows, "fairness"),
            "drift": drift(rows), "explanations": explanations(rows)}


def metric_glossary(shown: tuple[str, ...]) -> list[dict[str, Any]]:
    """The meaning of every metric the card shows (``raigov.monitors.catalog``)."""
    out = []
    for name in shown:
        info = metric_info(name)
        better = None if info is None else info.higher_is_better
        out.append({"metric": name, "meaning": info.meaning if info else None,
                    "higher_is_better": better})
    return out


def as_of(rows: pd.DataFrame) -> str | None:
    """The end of the newest window the card draws on."""
    if rows.empty:
        return None
    latest: dt.datetime = rows["window_end"].max().to_pydatetime()
    return jsonable(latest)
