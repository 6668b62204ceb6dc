"""Capture from your own server, without ``raigov serve``.

    from raigov.models.logger import PredictionLogger
    with PredictionLogger("income-classifier", home="/srv/raigov") as log:
        result = log.log_predictions(rows, labels=labels, scores=scores)
        ...
        log.log_feedback(result.prediction_ids[:3], [1, 0, 1])

Rows are validated against the registered schema exactly as ``raigov serve`` does;
invalid rows are quarantined with their reasons (never dropped) and reported back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from raigov.models.capture import CaptureWriter, Durability
from raigov.models.output_kinds import Outputs
from raigov.models.records import feedback_table, prediction_table, quarantine_table
from raigov.models.registry import get_model
from raigov.models.validation import RowError, validate_rows
from raigov.errors import InputError
from raigov.home import Home
from raigov.ids import uuid7

LENGTHS_DIFFER = "log_predictions got {rows} rows but {labels} labels and {scores} scores."


@dataclass
class LogResult:
    prediction_ids: list[str | None]      # None where the row was quarantined
    quarantined: int = 0
    errors: list[RowError] = field(default_factory=list)


class PredictionLogger:
    def __init__(self, model: str, *, home: str | Home | None = None, version: int | None = None,
                 durability: Durability = "sync") -> None:
        self.home = home if isinstance(home, Home) else Home.resolve(home)
        self.model = get_model(self.home, model, version)
        self.writer = CaptureWriter(self.home, durability=durability).start()

    def log_predictions(self, rows: pd.DataFrame | Sequence[dict[str, Any]], *,
                        labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray,
                        timestamp: dt.datetime | None = None,
                        latency_ms: float | None = None) -> LogResult:
        """Capture predictions your server made; returns their prediction ids."""
        records = rows.astype(object).where(rows.notna(), None).to_dict("records") \
            if isinstance(rows, pd.DataFrame) else list(rows)
        labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
        if not len(records) == len(labels) == len(scores):
            raise InputError(LENGTHS_DIFFER.format(rows=len(records), labels=len(labels),
                                                   scores=len(scores)))
        frame, errors = validate_rows(self.model.spec, records)
        bad = sorted({e.row for e in errors if e.row is not None})
        good = np.setdiff1d(np.arange(len(records)), bad)
        ids: list[str | None] = [None] * len(records)
        if len(good):
            outputs = Outputs(label=labels[good].astype(np.int64), score=scores[good])
            table, new_ids = prediction_table(
                self.model.spec, self.model.version, frame.iloc[good].reset_index(drop=True),
                outputs, ts=timestamp, latency_ms=latency_ms)
            self.writer.append(table, lake_table="predictions", model=self.model.name)
            for i, pid in zip(good, new_ids):
                ids[i] = pid
        if bad:
            self._quarantine([{"row_index": i, "payload": records[i],
                               "reasons": [e.as_dict() for e in errors if e.row == i],
                               "reason": "; ".join(e.message for e in errors if e.row == i)}
                              for i in bad])
        return LogResult(ids, len(bad), errors)

    def log_feedback(self, prediction_ids: Sequence[str], labels: Sequence[int], *,
                     received_at: dt.datetime | None = None) -> int:
        """Capture ground-truth labels for earlier predictions."""
        if len(prediction_ids) != len(labels):
            raise InputError(f"log_feedback got {len(prediction_ids)} ids but {len(labels)} labels.")
        self.writer.append(feedback_table(prediction_ids, labels, received_at=received_at),
                           lake_table="feedback", model=self.model.name)
        return len(prediction_ids)

    def _quarantine(self, rows: list[dict]) -> None:
        table = quarantine_table(rows, version=self.model.version, request_id=uuid7())
        self.writer.append(table, lake_table="quarantine", model=self.model.name)

    def flush(self) -> None:
        """Seal what was captured so far into the lake (readers see it)."""
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "PredictionLogger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
