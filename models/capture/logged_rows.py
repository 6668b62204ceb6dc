"""Rows of predictions made elsewhere, as ``POST /v1/models/{name}/log``, the KServe
CloudEvents route and :class:`~raigov.models.capture.logger.PredictionLogger` receive them:

    {"prediction_id": "a1", "timestamp": "2026-03-01T10:00:00Z",
     "inputs": {"age": 41, ...}, "outputs": {"label": 1, "score": 0.83}}

Inputs are validated exactly like a predict request (:func:`validate_rows`), outputs per
output kind (:mod:`raigov.models.capture.logged_outputs`); every error names its row and field
(``inputs.age``, ``outputs.score``). ``prediction_id`` is the caller's (generated when
absent), ``timestamp`` the event time (the request's, or now, when absent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from raigov.errors import did_you_mean
from raigov.ids import uuid7_many
from raigov.models.serving.http_bodies import parse_timestamp
from raigov.models.capture.logged_outputs import read_outputs
from raigov.models.output_kinds import Outputs
from raigov.models.spec import ModelSpec
from raigov.models.validation import RowError, validate_rows

ROW_FIELDS = ("inputs", "outputs", "prediction_id", "timestamp")
MAX_ID_LENGTH = 200

NOT_A_LIST = "'rows' must be a non-empty list of objects"
NOT_A_ROW = "row must be an object with 'inputs' and 'outputs'"
UNKNOWN_ROW_FIELD = "field '{field}' is not part of a logged row (allowed: {allowed}).{hint}"
NO_INPUTS = "field 'inputs' must be an object of the model's input columns"
BAD_ID = f"field 'prediction_id' must be a non-empty string of at most {MAX_ID_LENGTH} characters"
REPEATED_ID = "prediction_id {id!r} appears more than once in the request (rows {rows})"


@dataclass
class LoggedBatch:
    """Typed rows ready for ``prediction_table`` (meaningful when ``errors`` is empty)."""

    frame: pd.DataFrame
    outputs: Outputs
    prediction_ids: list[str]
    timestamps: list[pd.Timestamp]
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors if e.row is not None})


def read_logged_rows(spec: ModelSpec, rows: object, *, default_ts: pd.Timestamp | None = None,
                     explain: bool = True) -> LoggedBatch:
    """Every row checked; the batch with every error found (none: all rows are good).
    ``explain=False``: see :class:`~raigov.models.validation.ExplainOffLoop`."""
    now = default_ts if default_ts is not None else pd.Timestamp.now(tz="UTC")
    if not isinstance(rows, list) or not rows:
        return LoggedBatch(pd.DataFrame(), Outputs(), [], [],
                           [RowError(None, "rows", "type", NOT_A_LIST)])
    errors: list[RowError] = []
    records = [_row(i, row, errors) for i, row in enumerate(rows)]
    frame, input_errors = validate_rows(spec, [r.get("inputs") or {} for r in records],
                                        explain=explain)
    errors += [dataclasses.replace(e, field=f"inputs.{e.field}") if e.field else e
               for e in input_errors if e.row is not None]
    outputs, output_errors = read_outputs(spec, [r.get("outputs") for r in records])
    errors += output_errors
    ids = _prediction_ids(records, errors)
    stamps = []
    for i, record in enumerate(records):
        ts, problem = parse_timestamp(record.get("timestamp"), row=i)
        stamps.append(ts if ts is not None else now)
        if problem:
            errors.append(problem)
    errors.sort(key=lambda e: -1 if e.row is None else e.row)
    return LoggedBatch(frame, outputs, ids, stamps, errors)


def _row(i: int, row: object, errors: list[RowError]) -> dict:
    if not isinstance(row, dict):
        errors.append(RowError(i, None, "type", NOT_A_ROW, type(row).__name__))
        return {}
    for key in row:
        if key not in ROW_FIELDS:
            errors.append(RowError(i, str(key), "unknown", UNKNOWN_ROW_FIELD.format(
                field=key, allowed=", ".join(ROW_FIELDS), hint=did_you_mean(str(key), ROW_FIELDS))))
    if not isinstance(row.get("inputs"), dict):
        errors.append(RowError(i, "inputs", "missing" if "inputs" not in row else "type", NO_INPUTS))
    return row


def _prediction_ids(records: Sequence[dict], errors: list[RowError]) -> list[str]:
    generated = iter(uuid7_many(sum(1 for r in records if r.get("prediction_id") is None)))
    ids, seen = [], {}
    for i, record in enumerate(records):
        given = record.get("prediction_id")
        if given is None:
            ids.append(next(generated))
            continue
        if not isinstance(given, str) or not 0 < len(given) <= MAX_ID_LENGTH:
            errors.append(RowError(i, "prediction_id", "type", BAD_ID, given))
        else:
            seen.setdefault(given, []).append(i)
        ids.append(str(given))
    for pid, where in seen.items():
        if len(where) > 1:
            errors += [RowError(i, "prediction_id", "unique", REPEATED_ID.format(id=pid, rows=where),
                                pid) for i in where]
    return ids
