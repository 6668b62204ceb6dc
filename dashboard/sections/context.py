"""What the model page's sections share: the chosen model, version and window."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import pandas as pd

from raigov.dashboard import charts, queries
from raigov.dashboard.shape import governance
from raigov.dashboard.shape import model as shape
from raigov.models.spec import ModelSpec
from raigov.users import User


@dataclass(frozen=True)
class ModelView:
    root: str
    model: str
    version: int
    spec: ModelSpec
    metrics: pd.DataFrame            # every window of this version
    window: pd.Timestamp | None      # the chosen window's start
    user: User

    @property
    def window_rows(self) -> pd.DataFrame:
        if self.window is None:
            return self.metrics.iloc[0:0]
        return shape.in_window(self.metrics, self.window)

    @property
    def window_end(self) -> pd.Timestamp | None:
        rows = self.window_rows
        return None if rows.empty else rows["window_end"].iloc[0]

    @property
    def key(self) -> str:
        """A widget-key prefix unique to this model and version."""
        return f"{zlib.crc32(self.model.encode())}_{self.version}"

    def thresholds(self, metric: str, attribute: str | None = None) -> list[governance.Threshold]:
        """Threshold rules of the policies in force on ``metric`` for this model."""
        return governance.thresholds(queries.policies(self.root), model=self.model,
                                     tags=self.spec.tags, metric=metric, attribute=attribute)

    def threshold_lines(self, metric: str,
                        attribute: str | None = None) -> list[tuple[float, str, str]]:
        """(value, label, colour) per threshold line to draw for ``metric``."""
        return [(value, label, charts.SEVERITY_COLOURS.get(severity, "#2c3e50"))
                for value, label, severity in
                governance.threshold_lines(self.thresholds(metric, attribute))]
