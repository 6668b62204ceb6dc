"""Reading request bodies and turning rejected rows into quarantine rows: shared by every
route of ``raigov serve`` (predict, log, feedback, CloudEvents).

JSON is parsed by orjson. orjson refuses a number no float64 holds (``1e400``); such a
body is parsed again by the standard library with the number kept as
:class:`~raigov.models.validation.OutOfRange`, so validation names its row and field
(422) instead of calling the whole body malformed. orjson reads an integer beyond 64
bits as a float, which an ``int`` column then refuses by its range."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from raigov.models.validation import OutOfRange, RowError

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


def parse_json(body: bytes) -> tuple[Any, RowError | None]:
    """The JSON value of a body, or why it is malformed."""
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        if "number" in str(exc):      # out of float64's range: parse it again, keeping it
            payload = _parse_keeping_big_numbers(body)
            if payload is not _MALFORMED:
                return payload, None
        return None, RowError(None, None, "json", MALFORMED_JSON.format(error=exc))


_MALFORMED = object()


def _number(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text)


def _integer(text: str) -> int | float | OutOfRange:
    value = int(text)
    if -(2 ** 63) <= value < 2 ** 64:
        return value
    try:
        return float(value)            # as orjson reads it
    except OverflowError:
        return OutOfRange(text)


def _refuse_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _parse_keeping_big_numbers(body: bytes) -> Any:
    """The standard library's reading, where orjson refused a number; what orjson would
    refuse for another reason (NaN, lone surrogates, nesting too deep) stays refused."""
    try:
        payload = json.loads(body, parse_float=_number, parse_int=_integer,
                             parse_constant=_refuse_constant)
        orjson.dumps(payload, default=str)   # every string is valid UTF-8
    except (ValueError, TypeError, RecursionError, orjson.JSONEncodeError):
        return _MALFORMED
    return payload


def parse_body(body: bytes, key: str = "rows") -> tuple[dict | None, RowError | None]:
    """The JSON object of a body that must hold ``key``, or the problem."""
    payload, problem = parse_json(body)
    if problem is not None:
        return None, problem
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
    by_row: dict[int, list[RowError]] = {}
    for e in errors:
        if e.row is not None:
            by_row.setdefault(e.row, []).append(e)
    shared = [e.as_dict() for e in request_level]
    out = []
    for i, row in enumerate(rows):
        own = by_row.get(i, [])
        reason = "; ".join(e.message for e in own + request_level) or WITH_ITS_REQUEST
        out.append({"row_index": i, "payload": row,
                    "reasons": [e.as_dict() for e in own] + shared, "reason": reason})
    return out


def error_response(status: int, detail: object, **extra: object) -> "JSONResponse":
    """The JSON error body every route answers with: ``{"detail": ..., **extra}``."""
    from fastapi.responses import ORJSONResponse

    return ORJSONResponse({"detail": detail, **extra}, status_code=status)
