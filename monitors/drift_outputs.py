"""What drift tests of a model's outputs: the kind's prediction column (binary: the
``score``; multiclass: the predicted class ``label``, as a categorical distribution;
regression: the predicted ``value``), and for kinds whose truth and prediction share a
scale (regression) the residual ``y_true - value`` of the labelled rows. The output
kind strategy (``raigov.models.output_kinds``) says which; this module turns that into
columns for the reference profile and the drift monitor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from raigov.monitors.base import MetricInfo

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

ColumnKind = Literal["numerical", "categorical"]
RESIDUAL_COLUMN = "residual"

OUTPUT_DRIFT_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("drift.residual", "regression: drift score of the residuals y_true - value of "
               "the labelled rows against the reference's", None, True),
)


def output_columns(spec: "ModelSpec") -> dict[str, tuple[str, ColumnKind]]:
    """Drift metric -> (column tested, its kind) for the model's outputs."""
    from raigov.models.output_kinds import output_kind

    kind = output_kind(spec)
    columns: dict[str, tuple[str, ColumnKind]] = {
        "drift.prediction": (kind.prediction_column, kind.prediction_drift_kind)}  # type: ignore[dict-item]
    if kind.has_residuals:
        columns["drift.residual"] = (RESIDUAL_COLUMN, "numerical")
    return columns


def output_series(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """A frame's output column (the residual derived from ``y_true`` and ``value``);
    None when the frame lacks what it needs."""
    if column == RESIDUAL_COLUMN:
        if not {"y_true", "value"} <= set(frame.columns):
            return None
        y = frame["y_true"].to_numpy(dtype=float, na_value=np.nan)
        value = frame["value"].to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(y - value, index=frame.index, name=RESIDUAL_COLUMN)
    return frame[column] if column in frame.columns else None
