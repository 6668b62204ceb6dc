"""A small real model spec and input rows for capture tests (no model needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from raigov.models.output_kinds import Outputs
from raigov.models.capture.records import prediction_table
from raigov.models.spec import InputSchema, ModelSpec


def small_spec(name: str = "tiny") -> ModelSpec:
    frame = pd.DataFrame({"age": [18, 90], "hours": [1.0, 99.0], "sex": ["Female", "Male"]})
    return ModelSpec(name=name, inputs=InputSchema.infer(frame), features=("age", "hours"),
                     sensitive=("sex",))


def batch(spec: ModelSpec, n: int, *, seed: int = 0, ts: str = "2026-03-02T12:00:00Z"):
    rng = np.random.default_rng(seed)
    inputs = pd.DataFrame({"age": rng.integers(18, 90, n), "hours": rng.uniform(1, 99, n),
                           "sex": rng.choice(["Female", "Male"], n)})
    scores = rng.random(n)
    return prediction_table(spec, 1, inputs, Outputs(label=(scores > 0.5).astype(np.int64), score=scores), ts=ts)
