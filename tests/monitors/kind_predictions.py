"""Fixture data for the multiclass and regression monitor tests: real Adult census rows
with the predictions of scikit-learn models trained on Adult train, as window frames
in the lake's contract (``label``, ``score``, ``probabilities``, ``value``, ``y_true``),
and a helper that wraps them into a ``WindowData`` with a real ``ModelSpec``.

- multiclass: ``relationship`` (6 classes) from the other inputs (race not among them),
  a multinomial logistic regression that sees sex (a husband is a man);
- regression: ``hours_per_week`` from the other inputs, a ridge regression.

A seeded 20 % of rows have no label yet (``y_true`` NaN)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from raigov.models.datasets import load_adult
from raigov.models.spec import InputSchema, ModelSpec, MonitoringConfig
from raigov.monitors.base import WindowData

SENSITIVE = ("sex", "race")
UNLABELLED_SHARE = 0.2
START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
CLASSES = ("Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife")
MC_NUMERIC = ("age", "education_num", "hours_per_week", "capital_gain", "capital_loss")
MC_CATEGORICAL = ("workclass", "marital_status", "occupation", "sex")
RG_NUMERIC = ("age", "education_num", "capital_gain", "capital_loss")
RG_CATEGORICAL = ("workclass", "marital_status", "occupation", "relationship")


def _model(numeric: Sequence[str], categorical: Sequence[str], estimator):
    encoder = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), list(categorical)),
        ("numeric", StandardScaler(), list(numeric))])
    return make_pipeline(encoder, estimator)


def _inputs(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    out = frame[list(numeric) + list(categorical)].copy()
    for column in categorical:
        out[column] = out[column].astype(object).where(out[column].notna(), "missing")
    for column in numeric:
        out[column] = out[column].astype(float)
    return out


def _unlabel(frame: pd.DataFrame, y_true: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y_true = y_true.astype(float)
    y_true[rng.random(len(frame)) < UNLABELLED_SHARE] = np.nan
    frame["y_true"] = y_true
    frame["prediction_id"] = [f"p{i}" for i in range(len(frame))]
    frame["ts"] = START
    return frame


@functools.lru_cache(maxsize=1)
def multiclass_predictions(*, seed: int = 7) -> pd.DataFrame:
    train, test = load_adult("train"), load_adult("test")
    model = _model(MC_NUMERIC, MC_CATEGORICAL, LogisticRegression(max_iter=1000))
    model.fit(_inputs(train, MC_NUMERIC, MC_CATEGORICAL), train["relationship"].astype(str))
    assert tuple(model.classes_) == CLASSES
    proba = model.predict_proba(_inputs(test, MC_NUMERIC, MC_CATEGORICAL))
    frame = test[list(dict.fromkeys(MC_NUMERIC + MC_CATEGORICAL + SENSITIVE))].copy()
    frame["label"] = proba.argmax(axis=1).astype(np.int64)
    frame["score"] = proba.max(axis=1)
    frame["probabilities"] = list(proba)
    truth = test["relationship"].astype(str).map({c: i for i, c in enumerate(CLASSES)})
    return _unlabel(frame, truth.to_numpy(), seed)


@functools.lru_cache(maxsize=1)
def regression_predictions(*, seed: int = 7) -> pd.DataFrame:
    train, test = load_adult("train"), load_adult("test")
    model = _model(RG_NUMERIC, RG_CATEGORICAL, Ridge(alpha=1.0))
    model.fit(_inputs(train, RG_NUMERIC, RG_CATEGORICAL), train["hours_per_week"].astype(float))
    frame = test[list(RG_NUMERIC + RG_CATEGORICAL + SENSITIVE)].copy()
    frame["value"] = model.predict(_inputs(test, RG_NUMERIC, RG_CATEGORICAL))
    return _unlabel(frame, test["hours_per_week"].to_numpy(dtype=float), seed)


def kind_window(frame: pd.DataFrame, kind: str, *, min_group_size: int = 30,
                bootstrap: int = 200, top_k: int | None = None,
                intersections: Sequence[tuple[str, ...]] = (),
                reference: pd.DataFrame | None = None) -> WindowData:
    """A one-day window over ``frame`` for a ``kind`` model on its fixture's inputs."""
    features = (MC_NUMERIC + MC_CATEGORICAL) if kind == "multiclass" else (RG_NUMERIC + RG_CATEGORICAL)
    columns = list(dict.fromkeys([*features, *SENSITIVE]))
    spec = ModelSpec(
        name=f"adult-{kind}", output_kind=kind, inputs=InputSchema.infer(frame[columns]),
        features=features, sensitive=SENSITIVE,
        classes=CLASSES if kind == "multiclass" else (),
        monitoring=MonitoringConfig(min_group_size=min_group_size, bootstrap=bootstrap,
                                    top_k=top_k, intersections=tuple(intersections)))
    return WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                      frame=frame, reference=frame.iloc[:0] if reference is None else reference)
