"""A model whose name and captured values are HTML: registered from a copy of a demo
model's artifact and spec, with real predictions captured through PredictionLogger and
real monitors run over them."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raigov.home import Home

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_VALUE = "<script>alert(2)</script>"
SOURCE_MODEL = "credit-risk"
FEATURE = "purpose"          # a model input: shows in inputs and the SHAP waterfall
SENSITIVE = "sex"            # a group: shows in fairness charts and tables
DERIVED_FILES = {"spec.json", "reference.parquet", "reference_profile.json"}


@dataclass(frozen=True)
class Hostile:
    name: str
    value: str
    prediction_id: str


def _widened_spec(spec):
    columns = []
    for col in spec.inputs.columns:
        if col.name in (FEATURE, SENSITIVE):
            col = col.model_copy(update={"allowed": (*col.allowed, HOSTILE_VALUE)})
        columns.append(col)
    inputs = spec.inputs.model_copy(update={"columns": tuple(columns)})
    return spec.model_copy(update={"name": HOSTILE_NAME, "inputs": inputs})


def register_hostile_model(home: Home, tmp: Path) -> Hostile:
    """Register the model, capture 120 predictions (a third of them carrying the
    hostile value) yesterday with labels, and run the monitors and policies."""
    from raigov.models.artifact import load_artifact
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.registry import get_model, register_model
    from raigov.policies.pipeline import monitor_and_evaluate

    source = get_model(home, SOURCE_MODEL)
    artifact = tmp / "hostile-artifact"
    shutil.copytree(source.artifact_dir, artifact,
                    ignore=lambda _d, names: [n for n in names if n in DERIVED_FILES])
    reference = source.load_reference()
    register_model(home, _widened_spec(source.spec), artifact=artifact, reference=reference,
                   actor="test")
    rows = reference.sample(120, random_state=0)[source.spec.input_columns].reset_index(drop=True)
    rows.loc[::3, FEATURE] = HOSTILE_VALUE
    rows.loc[::3, SENSITIVE] = HOSTILE_VALUE
    scores = load_artifact(artifact).predict_proba(rows)
    yesterday = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with PredictionLogger(HOSTILE_NAME, home=home) as log:
        result = log.log_predictions(rows, labels=(scores >= 0.5).astype(np.int64),
                                     scores=scores, timestamp=yesterday)
        ids = [p for p in result.prediction_ids if p is not None]
        log.log_feedback(ids, np.random.default_rng(0).integers(0, 2, len(ids)).tolist())
        log.flush()
    assert result.quarantined == 0, result.errors
    monitor_and_evaluate(home, model=HOSTILE_NAME)
    return Hostile(HOSTILE_NAME, HOSTILE_VALUE, ids[0])
