"""The prediction explorer: find predictions in the lake by id or by filter, and
explain one decision with its SHAP values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from raigov.home import Home
from raigov.models.spec import ModelSpec
from raigov.store.lake import lake_connection

Outcome = Literal["any", "correct", "wrong", "unlabelled"]
OUTCOMES: tuple[str, ...] = ("any", "correct", "wrong", "unlabelled")
MAX_ROWS = 200
LIST_COLUMNS = ["prediction_id", "ts", "version", "label", "score", "y_true"]
_OUTCOME_SQL = {
    "any": "true",
    "correct": "y_true IS NOT NULL AND y_true = label",
    "wrong": "y_true IS NOT NULL AND y_true <> label",
    "unlabelled": "y_true IS NULL",
}


@dataclass(frozen=True)
class PredictionFilter:
    version: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    predicted: int | None = None          # the predicted class
    outcome: Outcome = "any"
    min_score: float = 0.0
    max_score: float = 1.0
    limit: int = MAX_ROWS


def find_predictions(home: Home, model: str, where: PredictionFilter) -> pd.DataFrame:
    """Predictions matching ``where``, newest first, at most ``where.limit``."""
    sql = (f"SELECT {', '.join(LIST_COLUMNS)} FROM labelled WHERE "
           "(? IS NULL OR version = ?) AND (? IS NULL OR ts >= ?) AND (? IS NULL OR ts < ?) "
           "AND (? IS NULL OR label = ?) AND coalesce(score, 0) BETWEEN ? AND ? "
           f"AND {_OUTCOME_SQL[where.outcome]} ORDER BY ts DESC, prediction_id LIMIT ?")
    params = [where.version, where.version, where.start, where.start, where.end, where.end,
              where.predicted, where.predicted, where.min_score, where.max_score,
              min(int(where.limit), MAX_ROWS)]
    # Only the partitions of the asked days are opened.
    since = where.start.astimezone(dt.timezone.utc).date() if where.start else None
    until = where.end.astimezone(dt.timezone.utc).date() if where.end else None
    with lake_connection(home, model=model, since=since, until=until) as con:
        return con.execute(sql, params).df()


def get_prediction(home: Home, model: str, prediction_id: str) -> dict[str, Any] | None:
    """One captured prediction with its inputs and its latest label, or None."""
    with lake_connection(home, model=model) as con:
        frame = con.execute("SELECT * EXCLUDE (model, date) FROM labelled "
                            "WHERE prediction_id = ? LIMIT 1", [prediction_id.strip()]).df()
    if frame.empty:
        return None
    return {k: _plain(v) for k, v in frame.iloc[0].to_dict().items()}


MASKED = "•••• (masked)"


def protected_columns(spec: "ModelSpec") -> list[str]:
    """Columns the dashboard masks for roles without ``sensitive.read``: the sensitive
    attributes and the pseudonymised identifiers."""
    pseudonymised = spec.privacy.pseudonymise if spec.privacy is not None else ()
    return list(dict.fromkeys([*spec.sensitive, *pseudonymised]))


def mask_values(values: dict[str, Any], protected: list[str]) -> dict[str, Any]:
    """``values`` with every protected column's value replaced by :data:`MASKED`."""
    return {k: (MASKED if k in protected else v) for k, v in values.items()}


def mask_explanation(explanation: dict[str, Any], protected: list[str]) -> dict[str, Any]:
    """A SHAP explanation whose protected features show no value."""
    parts = [{**p, "value": MASKED} if p["feature"] in protected else p
             for p in explanation["contributions"]]
    return {**explanation, "contributions": parts}


def split_prediction(record: dict[str, Any], input_columns: list[str]) -> tuple[dict, dict]:
    """(the model's inputs, what happened: class, score, label, times)."""
    inputs = {c: record.get(c) for c in input_columns}
    outcome = {k: record.get(k) for k in ("prediction_id", "version", "ts", "label", "score",
                                          "y_true", "label_received_at", "latency_ms")}
    return inputs, outcome


def explain(home: Home, model: str, version: int, inputs: dict[str, Any]) -> dict[str, Any]:
    """``raigov.monitors.explain_one.explain_prediction`` on the version's artifact; a
    text model's token attributions where its network reads token ids."""
    from raigov.models.registry import get_model
    from raigov.monitors.explain_one import explain_prediction, text_explanation

    registered = get_model(home, model, version)
    text = text_explanation(registered, inputs)
    if text is not None:
        return text
    return explain_prediction(registered.artifact_dir, inputs, spec=registered.spec,
                              reference=registered.load_reference())


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
