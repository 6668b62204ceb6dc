"""Capture from your own server, without ``raigov serve``: any output kind, any model
(one registered without an artifact, served by another stack, included).

    from raigov.models.capture.logger import PredictionLogger
    with PredictionLogger("income-classifier", home="/srv/raigov") as log:
        result = log.log_predictions(rows, labels=labels, scores=scores)      # binary
        # multiclass: labels= and/or probabilities= ([n, k] or one mapping per row)
        # regression: values=
        ...
        log.log_feedback(result.prediction_ids[:3], [1, "<=50K", 0])

Rows and outputs are checked exactly as ``POST /v1/models/{name}/log`` checks them
(:mod:`raigov.models.capture.logged_rows`); invalid rows are quarantined with their reasons
(never dropped) and reported back, the valid ones are captured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from raigov.canonical import utcnow
from raigov.clock import DEFAULT_MAX_CLOCK_SKEW_S
from raigov.errors import InputError
from raigov.home import Home
from raigov.ids import uuid7
from raigov.models.capture.writer import CaptureWriter, Durability
from raigov.models.capture.logged_outputs import LOGGED_OUTPUTS
from raigov.models.capture.logged_rows import read_logged_rows
from raigov.models.output_kinds import output_kind
from raigov.models.capture.records import feedback_table, prediction_table, quarantine_table
from raigov.models.registry import get_model
from raigov.models.serving.event_time import event_time_errors
from raigov.models.serving.feedback_body import NO_REASON
from raigov.models.validation import RowError

LENGTHS_DIFFER = "{method} got {rows} rows but {field} has {n} entries."
NO_OUTPUTS = "log_predictions of {kind} model {model!r} needs at least one of {allowed}."
WRONG_OUTPUTS = ("log_predictions got {given} for {kind} model {model!r}, which logs "
                 "{allowed} only.")
BAD_FEEDBACK = "log_feedback label {i} ({value!r}) of model {model!r} must be {hint}."
IN_THE_FUTURE = "{method} of model {model!r} refused: {problems}"
MAX_PROBLEMS_SHOWN = 3

Outputs = Sequence[Any] | np.ndarray | None


@dataclass
class LogResult:
    prediction_ids: list[str | None]      # None where the row was quarantined
    quarantined: int = 0
    errors: list[RowError] = field(default_factory=list)


class PredictionLogger:
    """In-process and trusted: it may log past event times (a backfill), but never
    times more than ``max_clock_skew_s`` ahead of the clock (InputError)."""

    def __init__(self, model: str, *, home: str | Home | None = None, version: int | None = None,
                 durability: Durability = "sync", key: str | None = None,
                 max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> None:
        """``key``: a name recorded in the ``key`` column of every row this logger
        captures (NULL when not given); no API key is needed in process."""
        self.max_clock_skew_s = max_clock_skew_s
        self.home = home if isinstance(home, Home) else Home.resolve(home)
        self.key = key
        self.model = get_model(self.home, model, version)
        self.writer = CaptureWriter(self.home, durability=durability).start()

    def log_predictions(self, rows: pd.DataFrame | Sequence[dict[str, Any]], *,
                        labels: Outputs = None, scores: Outputs = None, values: Outputs = None,
                        probabilities: Outputs = None,
                        prediction_ids: Sequence[str] | None = None,
                        timestamp: dt.datetime | Sequence[dt.datetime] | None = None,
                        latency_ms: float | None = None) -> LogResult:
        """Capture predictions made elsewhere; returns their prediction ids (the given
        ones, or new ones). ``None`` in an output sequence means "not given" for that row."""
        records = _records(rows)
        outputs = self._outputs(len(records), label=labels, score=scores, value=values,
                                probabilities=probabilities)
        logged = [{"inputs": rec, "outputs": out} for rec, out in zip(records, outputs)]
        for name, given in (("prediction_id", prediction_ids), ("timestamp", _per_row(timestamp))):
            if given is not None:
                _same_length("prediction_ids" if name == "prediction_id" else "timestamp",
                             len(records), given)
                for row, value in zip(logged, given):
                    row[name] = value
        default = timestamp if isinstance(timestamp, dt.datetime) else None
        batch = read_logged_rows(self.model.spec, logged,
                                 default_ts=None if default is None else pd.Timestamp(default))
        if any(e.row is None for e in batch.errors):
            raise InputError("; ".join(e.message for e in batch.errors if e.row is None))
        self._refuse_future("log_predictions", [(i, "timestamp", ts) for i, ts
                                                in enumerate(batch.timestamps)])
        bad = batch.bad_rows
        good = [i for i in range(len(records)) if i not in set(bad)]
        ids: list[str | None] = [None] * len(records)
        if good:
            kept = read_logged_rows(self.model.spec, [logged[i] for i in good],
                                    default_ts=None if default is None else pd.Timestamp(default))
            table, new_ids = prediction_table(
                self.model.spec, self.model.version, kept.frame, kept.outputs,
                ts=kept.timestamps, prediction_ids=kept.prediction_ids, latency_ms=latency_ms,
                key=self.key)
            self.writer.append(table, lake_table="predictions", model=self.model.name)
            for i, pid in zip(good, new_ids):
                ids[i] = pid
        if bad:
            self._quarantine([{"row_index": i, "payload": logged[i],
                               "reasons": [e.as_dict() for e in batch.errors if e.row == i],
                               "reason": "; ".join(e.message for e in batch.errors if e.row == i)}
                              for i in bad])
        return LogResult(ids, len(bad), batch.errors)

    def _outputs(self, n: int, **given: Outputs) -> list[dict[str, Any]]:
        spec = self.model.spec
        allowed = LOGGED_OUTPUTS.get(spec.output_kind).fields
        present = {k: v for k, v in given.items() if v is not None}
        names = {"label": "labels", "score": "scores", "value": "values",
                 "probabilities": "probabilities"}
        if not present:
            raise InputError(NO_OUTPUTS.format(kind=spec.output_kind, model=spec.name,
                                               allowed=[names[f] for f in allowed]))
        wrong = [names[k] for k in present if k not in allowed]
        if wrong:
            raise InputError(WRONG_OUTPUTS.format(given=wrong, kind=spec.output_kind,
                                                  model=spec.name, allowed=[names[f] for f in allowed]))
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, values in present.items():
            _same_length(names[name], n, values)
            for row, value in zip(out, values):
                if value is not None:
                    row[name] = _plain(value)
        return out

    def log_feedback(self, prediction_ids: Sequence[str], labels: Sequence[Any], *,
                     received_at: dt.datetime | None = None, correction: bool = False,
                     reason: str | None = None) -> int:
        """Capture ground truth for earlier predictions: a class (index or name) for
        classifiers, the true value for regression. ``correction=True`` (with a
        ``reason``) marks labels that replace earlier ones (the latest correction is
        the label in force; otherwise the first label stands). Unlike ``/feedback``,
        ids are not checked against what was served: this logger is trusted."""
        _same_length("labels", len(prediction_ids), labels, method="log_feedback")
        if correction and not (isinstance(reason, str) and reason.strip()):
            raise InputError(NO_REASON)
        if received_at is not None:
            self._refuse_future("log_feedback", [(None, "received_at", received_at)])
        spec = self.model.spec
        kind = output_kind(spec)
        truths = [kind.truth(_plain(v), spec) for v in labels]
        for i, (value, truth) in enumerate(zip(labels, truths)):
            if truth is None:
                raise InputError(BAD_FEEDBACK.format(i=i, value=value, model=spec.name,
                                                     hint=kind.truth_hint(spec)))
        table = feedback_table(prediction_ids, truths if kind.is_classifier else None,
                               y_value=None if kind.is_classifier else truths,
                               received_at=received_at, correction=correction,
                               reason=reason if correction else None, key=self.key)
        self.writer.append(table, lake_table="feedback", model=self.model.name)
        return len(prediction_ids)

    def _refuse_future(self, method: str, times: list[tuple[int | None, str, Any]]) -> None:
        errors = event_time_errors(times, now=utcnow(), skew_s=self.max_clock_skew_s,
                                   may_backfill=True)
        if errors:
            shown = [(f"row {e.row}: " if e.row is not None else "") + e.message
                     for e in errors[:MAX_PROBLEMS_SHOWN]]
            more = len(errors) - MAX_PROBLEMS_SHOWN
            raise InputError(IN_THE_FUTURE.format(method=method, model=self.model.name, problems=(
                "; ".join(shown) + (f"; and {more} more" if more > 0 else ""))))

    def _quarantine(self, rows: list[dict]) -> None:
        table = quarantine_table(rows, version=self.model.version, request_id=uuid7(),
                                 key=self.key)
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


def _records(rows: pd.DataFrame | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.astype(object).where(rows.notna(), None).to_dict("records")
    return list(rows)


def _per_row(timestamp: object) -> Sequence[Any] | None:
    if timestamp is None or isinstance(timestamp, (dt.datetime, str)):
        return None
    return list(timestamp)


def _same_length(name: str, n: int, values: Sequence[Any], *, method: str = "log_predictions") -> None:
    if len(values) != n:
        raise InputError(LENGTHS_DIFFER.format(method=method, rows=n, field=name, n=len(values)))


def _plain(value: Any) -> Any:
    """numpy scalars and rows as the plain Python values a JSON body would hold."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
