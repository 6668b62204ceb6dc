"""The rows capture writes: predictions, feedback and quarantine, as Arrow tables with
fixed types, so every segment of a model has the same schema."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from raigov.models.identity_terms import membership_frame
from raigov.models.output_kinds import Outputs
from raigov.models.spec import ModelSpec
from raigov.ids import uuid7, uuid7_many

_ARROW = {"float": pa.float64(), "int": pa.int64(), "str": pa.string(), "bool": pa.bool_(),
          "text": pa.string()}
_TS = pa.timestamp("us", tz="UTC")
_PROBABILITIES = pa.list_(pa.float64())


def input_arrow_schema(spec: ModelSpec) -> list[pa.Field]:
    """The input columns' Arrow fields (read once per spec object: the spec's column
    lookup is a linear search)."""
    cached = _SCHEMAS.get(id(spec))
    if cached is None or cached[0] is not spec:
        if len(_SCHEMAS) > 64:
            _SCHEMAS.clear()
        dtypes = {c.name: c.dtype for c in spec.inputs.columns}
        cached = _SCHEMAS[id(spec)] = (spec, [pa.field(name, _ARROW[dtypes[name]])
                                              for name in spec.input_columns])
    return list(cached[1])


_SCHEMAS: dict[int, tuple[ModelSpec, list[pa.Field]]] = {}


def prediction_table(spec: ModelSpec, version: int, inputs: pd.DataFrame, outputs: Outputs, *,
                     ts: dt.datetime | Sequence[dt.datetime] | None = None,
                     latency_ms: float | np.ndarray | None = None,
                     request_id: str | None = None,
                     prediction_ids: list[str] | None = None,
                     key: str | None = None) -> tuple[pa.Table, list[str]]:
    """One row per prediction; returns the table and the new prediction ids. Every kind
    writes the same columns (the lake contract in :mod:`raigov.models.output_kinds`);
    the parts a kind has no use for are NULL; a text column with ``identity_terms``
    adds its boolean membership columns (``raigov.models.identity_terms``). ``key``: the API key's name that sent
    the rows (NULL without one)."""
    n = len(inputs)
    ids = prediction_ids or uuid7_many(n)
    now = _now_us()
    captured = pa.array(np.full(n, now), _TS)
    cols: dict[str, pa.Array] = {
        "prediction_id": pa.array(ids, pa.string()),
        "version": pa.array(np.full(n, version, dtype=np.int32)),
        "ts": captured if ts is None else pa.array(_timestamps(ts, n, default=now), _TS),
        "captured_at": captured,
        "label": _or_nulls(outputs.label, pa.int64(), n),
        "score": _or_nulls(outputs.score, pa.float64(), n),
        "value": _or_nulls(outputs.value, pa.float64(), n),
        "probabilities": _probabilities(outputs.probabilities, n),
        "latency_ms": pa.array(np.broadcast_to(np.asarray(latency_ms if latency_ms is not None
                                                          else np.nan, dtype=float), (n,))),
        "request_id": _repeated(request_id, n),
        "key": _repeated(key, n),
    }
    for f in input_arrow_schema(spec):
        cols[f.name] = _column(inputs[f.name], f.type)
    for name, member in membership_frame(spec, inputs).items():
        cols[name] = pa.array(member, pa.bool_())
    if spec.privacy is not None and spec.privacy.pseudonymise:
        _pseudonymise(cols, spec.privacy.pseudonymise)
    return pa.table(cols), ids


def _pseudonymise(cols: dict[str, pa.Array], names: Sequence[str]) -> None:
    """Identifier columns become keyed HMAC tokens before anything is spooled."""
    from raigov.store.parquet_crypto import pseudonymise, require_data_key

    key = require_data_key(None, what="Pseudonymising captured identifiers")
    for name in names:
        cols[name] = pa.array(pseudonymise(key, cols[name].to_pylist()), pa.string())


def _repeated(text: str | None, n: int) -> pa.Array:
    """One string for every row, or NULL; always VARCHAR, so every segment agrees."""
    return pa.nulls(n, pa.string()) if text is None else pa.array([text] * n, pa.string())


def _or_nulls(values: np.ndarray | None, typ: pa.DataType, n: int) -> pa.Array:
    """NULL where the part is absent: the whole column, or the NaN rows of a logged batch
    (an external model's caller may give a label without a score)."""
    return pa.nulls(n, typ) if values is None else pa.array(values, typ, from_pandas=True)


def _probabilities(values: np.ndarray | None, n: int) -> pa.Array:
    """``[n, k]`` class probabilities as DOUBLE[]; a row of NaN (none given) is NULL."""
    if values is None:
        return pa.nulls(n, _PROBABILITIES)
    flat = np.ascontiguousarray(values, dtype=np.float64)
    absent = np.isnan(flat).all(axis=1)
    lists = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1],
                                              mask=pa.array(absent) if absent.any() else None)
    return lists.cast(_PROBABILITIES)


def _column(values: pd.Series, typ: pa.DataType) -> pa.Array:
    """NaN and None become null; ints held as float64 (with NaN) convert exactly."""
    if pa.types.is_string(typ):
        cells = values.to_numpy(object)
        try:      # the common case: every cell a str, None or NaN (Arrow's own loop)
            return pa.array(cells, typ, from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            return pa.array([None if v is None or v != v else str(v) for v in cells], typ)
    return pa.array(values.to_numpy(), typ, from_pandas=True)


def _now_us() -> np.datetime64:
    """Now, in UTC microseconds (one clock read, no pandas)."""
    return np.datetime64(time.time_ns() // 1000, "us")


def _timestamps(ts: Any, n: int, *, default: pd.Timestamp | np.datetime64) -> np.ndarray:
    """Event times as UTC microseconds (the lake's precision; finer digits are cut)."""
    if ts is None and isinstance(default, np.datetime64):
        return np.full(n, default.astype("datetime64[us]"))
    if ts is None or isinstance(ts, (dt.datetime, pd.Timestamp, str)):
        one = pd.Timestamp(default if ts is None else ts)
        one = one.tz_localize("UTC") if one.tzinfo is None else one.tz_convert("UTC")
        return np.full(n, one.tz_localize(None).floor("us").to_datetime64().astype("datetime64[us]"))
    else:
        moments = pd.DatetimeIndex(pd.to_datetime(list(ts), utc=True))
    if moments.tz is None:
        moments = moments.tz_localize("UTC")
    return moments.tz_convert("UTC").tz_localize(None).floor("us").to_numpy().astype("datetime64[us]")


def feedback_table(prediction_ids: Sequence[str], y_true: Sequence[Any] | None = None, *,
                   y_value: Sequence[float] | None = None,
                   received_at: dt.datetime | None = None,
                   correction: bool | Sequence[bool] = False,
                   reason: str | Sequence[str | None] | None = None,
                   key: str | None = None) -> pa.Table:
    """Ground truth: ``y_true`` (class indices, classifiers) or ``y_value`` (true
    values, regression); the other column is NULL. ``correction`` marks a label that
    replaces an earlier one (kept beside it, never over it), with its ``reason``.
    ``key``: the API key's name."""
    n = len(prediction_ids)
    moment = _timestamps(received_at, n, default=pd.Timestamp.now(tz="UTC"))
    return pa.table({
        "prediction_id": pa.array(list(prediction_ids), pa.string()),
        "y_true": pa.nulls(n, pa.int64()) if y_true is None else pa.array(list(y_true), pa.int64()),
        "y_value": (pa.nulls(n, pa.float64()) if y_value is None
                    else pa.array(list(y_value), pa.float64())),
        "received_at": pa.array(moment, _TS),
        "correction": pa.array([correction] * n if isinstance(correction, bool)
                               else list(correction), pa.bool_()),
        "reason": pa.array([reason] * n if reason is None or isinstance(reason, str)
                           else list(reason), pa.string()),
        "key": _repeated(key, n),
    })


def quarantine_table(rows: Sequence[dict[str, Any]], *, version: int | None,
                     request_id: str, key: str | None = None,
                     ts: dt.datetime | None = None) -> pa.Table:
    """``rows``: dicts with ``row_index`` (or None for a whole request), ``payload``
    (the row or raw body as received), ``reasons`` (list of dicts) and ``reason``;
    ``key``: the API key's name that sent them; ``ts``: the request's event time where
    it gave a valid one (NULL otherwise: the row then counts at ``received_at``)."""
    now = dt.datetime.now(dt.timezone.utc)
    return pa.table({
        "quarantine_id": pa.array([uuid7() for _ in rows], pa.string()),
        "request_id": pa.array([request_id] * len(rows), pa.string()),
        "received_at": pa.array([now] * len(rows), _TS),
        "version": pa.array([version] * len(rows), pa.int32()),
        "row_index": pa.array([r.get("row_index") for r in rows], pa.int32()),
        "payload": pa.array([_as_text(r.get("payload")) for r in rows], pa.string()),
        "reasons": pa.array([orjson.dumps(r.get("reasons", [])).decode() for r in rows], pa.string()),
        "reason": pa.array([r.get("reason", "") for r in rows], pa.string()),
        "key": _repeated(key, len(rows)),
        "ts": pa.array([ts] * len(rows), _TS),
    })


def _as_text(payload: Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload
    return orjson.dumps(payload, default=str).decode()
