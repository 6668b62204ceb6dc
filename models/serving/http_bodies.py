"""Reading request bodies and turning rejected rows into quarantine rows: shared by every
route of ``raigov serve`` (predict, log, feedback, CloudEvents)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import orjson
import pandas as pd

from raigov.models.validation import RowError

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

NOT_AN_OBJECT = "the body must be an object with '{key}'"
MALFORMED_JSON = "malformed JSON: {error}"
BAD_TIMESTAMP = "'{field}' must be an ISO 8601 date-time"
TIMESTAMP_OUT_OF_RANGE = ("'{field}' {value} lies outside the event times raigov keeps "
                          "({low} to {high}, UTC)")
#: event times a prediction can have (the lake's timestamps are microseconds; pandas'
#: nanoseconds end in 2262)
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2262-04-11", tz="UTC")
WITH_ITS_REQUEST = "rejected with its request (another row is invalid)"


def parse_body(body: bytes, key: str = "rows") -> tuple[dict | None, RowError | None]:
    """The JSON object of a body that must hold ``key``, or the problem."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, RowError(None, None, "json", MALFORMED_JSON.format(error=exc))
    if not isinstance(payload, dict) or key not in payload:
        return None, RowError(None, key, "missing", NOT_AN_OBJECT.format(key=key))
    return payload, None


def parse_timestamp(value: object, *, field: str = "timestamp",
                    row: int | None = None) -> tuple[pd.Timestamp | None, RowError | None]:
    """An ISO 8601 date-time (or a ``datetime``) as a UTC timestamp (naive times are
    UTC); None when absent."""
    if value is None:
        return None, None
    try:
        if not isinstance(value, (str, dt.datetime)):   # a bare number is no date-time
            raise TypeError(value)
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            raise ValueError(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError):
        return None, RowError(row, field, "type", BAD_TIMESTAMP.format(field=field), value)
    if not EARLIEST <= ts < LATEST:
        return None, RowError(row, field, "out_of_range", TIMESTAMP_OUT_OF_RANGE.format(
            field=field, value=value, low=EARLIEST.date(), high=LATEST.date()), value)
    return ts.as_unit("us"), None


def quarantine_rows(errors: list[RowError], rows: object, raw: bytes) -> list[dict]:
    """One quarantine row per request row (with that row's reasons), or the raw body."""
    if not isinstance(rows, list) or not rows:
        return [{"row_index": None, "payload": raw, "reasons": [e.as_dict() for e in errors],
                 "reason": "; ".join(e.message for e in errors)}]
    request_level = [e for e in errors if e.row is None]
    out = []
    for i, row in enumerate(rows):
        own = [e for e in errors if e.row == i] + request_level
        reason = "; ".join(e.message for e in own) or WITH_ITS_REQUEST
        out.append({"row_index": i, "payload": row, "reasons": [e.as_dict() for e in own],
                    "reason": reason})
    return out


def error_response(status: int, detail: object, **extra: object) -> "JSONResponse":
    """The JSON error body every route answers with: ``{"detail": ..., **extra}``."""
    from fastapi.responses import ORJSONResponse

    return ORJSONResponse({"detail": detail, **extra}, status_code=status)
