"""The CPU work of a predict request around the model: checking its body, building the
capture table, building the quarantine table of a refused request. Pure functions of
their arguments, so :mod:`raigov.models.serving.limits` can run them inline or in a
worker thread."""

from __future__ import annotations

import pandas as pd

from raigov.ids import uuid7
from raigov.models.capture.records import prediction_table, quarantine_table
from raigov.models.serving.http_bodies import parse_body, parse_timestamp, quarantine_rows
from raigov.models.serving.limits import Limits, too_many_rows
from raigov.models.validation import RowError, validate_rows


def check_predict(spec, body: bytes, limits: Limits, *,
                  explain: bool = True) -> tuple[object, pd.DataFrame | None, object, list[RowError]]:
    """A predict body's rows, their typed frame, the event time and every error (the
    request's work before the model; see :func:`~raigov.models.serving.limits.run_check` for where it
    runs)."""
    payload, problem = parse_body(body)
    if problem is not None:
        return None, None, None, [problem]
    rows = payload.get("rows")
    if (refused := too_many_rows(rows, limits, what="rows", field="rows")) is not None:
        return None, None, None, [refused]
    ts, ts_problem = parse_timestamp(payload.get("timestamp"))
    frame, errors = validate_rows(spec, rows, explain=explain)
    if ts_problem:
        errors.insert(0, ts_problem)
    return rows, frame, ts, errors


def prediction_table_of(spec, version: int, frame: pd.DataFrame, outputs, ts, latency_ms: float,
                        key: str | None = None):
    return prediction_table(spec, version, frame, outputs, ts=ts, latency_ms=latency_ms, key=key)


def quarantine_of(errors: list[RowError], rows: object, raw: bytes, version: int | None,
                  key: str | None = None, ts=None):
    return quarantine_table(quarantine_rows(errors, rows, raw), version=version,
                            request_id=uuid7(), key=key, ts=ts)
