"""Adult windows for the quality and drift tests, and Evidently run directly as the oracle."""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from raigov.models.datasets import ADULT_LABEL, load_adult
from raigov.models.spec import DriftOverride, InputSchema, ModelSpec, MonitoringConfig
from raigov.monitors.base import WindowData

FEATURES = ("age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "capital_gain", "capital_loss",
            "hours_per_week", "native_country")
SENSITIVE = ("sex", "race")
NUMERICAL = ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss",
             "hours_per_week")
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@lru_cache(maxsize=1)
def _adult_predictions() -> pd.DataFrame:
    df = load_adult().drop(columns=["split"])
    strings = df.select_dtypes("string").columns
    df[strings] = df[strings].astype(object)  # as frames read from the lake through DuckDB
    logit = (0.04 * (df["age"] - 38) + 0.35 * (df["education_num"] - 10)
             + 0.03 * (df["hours_per_week"] - 40) + 0.0003 * df["capital_gain"].clip(0, 5000)
             + np.where(df["relationship"].isin(["Husband", "Wife"]), 1.2, -0.8))
    score = 1.0 / (1.0 + np.exp(-logit))
    return df.assign(prediction_id=[f"p{i}" for i in range(len(df))],
                     ts=START + pd.to_timedelta(np.arange(len(df)), unit="s"),
                     score=score, label=(score >= 0.5).astype(np.int64),
                     y_true=df[ADULT_LABEL].astype(float))


def adult_predictions() -> pd.DataFrame:
    """Adult (48,842 rows; strings as object columns, as DuckDB returns them) with a
    deterministic model's ``score`` and ``label`` and the true income as ``y_true``."""
    return _adult_predictions().copy()


def adult_spec(*, features: tuple[str, ...] = FEATURES, sensitive: tuple[str, ...] = SENSITIVE,
               drift: dict[str, DriftOverride] | None = None,
               drift_share_threshold: float = 0.5) -> ModelSpec:
    columns = list(dict.fromkeys(features + sensitive))
    inputs = InputSchema.infer(load_adult()[columns])
    return ModelSpec(name="adult-income", inputs=inputs, features=features, sensitive=sensitive,
                     monitoring=MonitoringConfig(drift=drift or {},
                                                 drift_share_threshold=drift_share_threshold))


def halves(seed: int = 0, *, rows: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two random halves of Adult, (reference, current), of ``rows`` rows each when
    given (Evidently's own report costs seconds per 10k rows here)."""
    df = adult_predictions()
    order = np.random.default_rng(seed).permutation(len(df))
    mid = len(df) // 2
    size = mid if rows is None else rows
    return (df.iloc[order[:size]].reset_index(drop=True),
            df.iloc[order[mid:mid + size]].reset_index(drop=True))


def make_window(spec: ModelSpec, frame: pd.DataFrame, reference: pd.DataFrame, *,
                profile: dict[str, Any] | None = None) -> WindowData:
    return WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                      frame=frame, reference=reference, reference_profile=profile)


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str],
                    **preset: Any) -> dict[str, dict[str, Any]]:
    """Evidently's DataDriftPreset run directly: per column its score, method (as the
    snapshot names it) and whether its drift test failed."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numerical = [c for c in columns if c in NUMERICAL or c == "score"]
    definition = DataDefinition(numerical_columns=numerical,
                                categorical_columns=[c for c in columns if c not in numerical])
    with warnings.catch_warnings():  # NumPy noise from Evidently's plots of +-inf values
        warnings.simplefilter("ignore", RuntimeWarning)
        data = [Dataset.from_pandas(f[columns], data_definition=definition)
                for f in (current, reference)]
        snapshot = Report([DataDriftPreset(columns=columns, **preset)],
                          include_tests=True).run(*data).dict()
    failed = {t["metric_config"]["metric_id"] for t in snapshot["tests"]
              if str(t["status"]).endswith("FAIL")}
    return {m["config"]["column"]: {"score": float(m["value"]), "method": m["config"]["method"],
                                    "threshold": m["config"]["threshold"],
                                    "drifted": m["id"] in failed}
            for m in snapshot["metrics"] if m["config"]["type"].endswith(":ValueDrift")}
