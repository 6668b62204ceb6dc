"""Fixture data for the performance and fairness tests: real Adult census rows with
predictions of a scikit-learn logistic regression trained on Adult train, and a helper
that wraps any prediction frame into a ``WindowData`` with a real ``ModelSpec``.

Imported by the test modules (``from adult_predictions import ...``); the model is
trained once per test session.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from raigov.models.datasets import ADULT_LABEL, load_adult
from raigov.models.spec import InputSchema, ModelSpec, MonitoringConfig
from raigov.monitors.base import WindowData

NUMERIC = ("age", "education_num", "hours_per_week", "capital_gain", "capital_loss")
CATEGORICAL = ("workclass", "marital_status", "occupation", "relationship")
FEATURES = NUMERIC + CATEGORICAL
SENSITIVE = ("sex", "race")
UNLABELLED_SHARE = 0.2
START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)


def _encoded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(FEATURES)].copy()
    for column in CATEGORICAL:
        out[column] = out[column].astype(object).where(out[column].notna(), "missing")
    return out


@functools.lru_cache(maxsize=1)
def adult_predictions(*, seed: int = 7) -> pd.DataFrame:
    """Adult test rows (inputs + sensitive attributes) with ``label``, ``score`` and
    ``y_true``; a seeded 20 % of rows have no label yet (``y_true`` NaN)."""
    train, test = load_adult("train"), load_adult("test")
    encoder = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ("numeric", StandardScaler(), list(NUMERIC)),
    ])
    model = make_pipeline(encoder, LogisticRegression(max_iter=500))
    model.fit(_encoded(train), train[ADULT_LABEL].to_numpy())
    frame = test[list(FEATURES + SENSITIVE)].copy()
    frame["score"] = model.predict_proba(_encoded(test))[:, 1]
    frame["label"] = (frame["score"] >= 0.5).astype(np.int64)
    rng = np.random.default_rng(seed)
    y_true = test[ADULT_LABEL].to_numpy().astype(float)
    y_true[rng.random(len(frame)) < UNLABELLED_SHARE] = np.nan
    frame["y_true"] = y_true
    frame["prediction_id"] = [f"p{i}" for i in range(len(frame))]
    frame["ts"] = START
    return frame


def build_window(frame: pd.DataFrame, *, features: Sequence[str] = FEATURES,
                 sensitive: Sequence[str] = SENSITIVE, min_group_size: int = 30,
                 intersections: Sequence[tuple[str, ...]] = (),
                 bootstrap: int = 200) -> WindowData:
    """A one-day window over ``frame`` for a model declaring ``features`` and
    ``sensitive``; the input schema is inferred from the frame's columns."""
    columns = list(dict.fromkeys([*features, *sensitive]))
    spec = ModelSpec(
        name="adult-income-lr", inputs=InputSchema.infer(frame[columns]),
        features=tuple(features), sensitive=tuple(sensitive),
        monitoring=MonitoringConfig(min_group_size=min_group_size, bootstrap=bootstrap,
                                    intersections=tuple(intersections)))
    return WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                      frame=frame, reference=frame.iloc[:0])
