"""Request validation against a model's registered input schema.

Three layers, each naming the row and the field:
1. structure and types, row by row (a JSON string is never coerced into a number);
2. values (nulls, ranges, categories), vectorised per column: the accept decision on
   the hot path costs well under a millisecond for a thousand rows;
3. when a value check fails, pandera (the schema's definition,
   ``InputSchema.to_pandera``) validates lazily and its failure cases form the report.
Tests prove layer 2 accepts exactly the rows pandera accepts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from raigov.models.spec import ColumnSpec, ModelSpec

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,)}
_NUMERIC = ("float", "int")
# Exact types accepted without a closer look (bool is not an int here; None is null).
_EXACT_TYPES: dict[str, set[type]] = {"float": {float, int, type(None)}, "int": {int, type(None)},
                                      "str": {str, type(None)}, "bool": {bool, type(None)}}


@dataclass(frozen=True)
class RowError:
    row: int | None
    field: str | None
    check: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_rows(spec: ModelSpec, rows: Any) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed input frame (one row per request row) and every error found."""
    if not isinstance(rows, list) or not rows:
        return pd.DataFrame(), [RowError(None, "rows", "type",
                                         "'rows' must be a non-empty list of objects")]
    errors: list[RowError] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(i, None, "type", "row must be a JSON object",
                                   type(row).__name__))
    records = [row if isinstance(row, dict) else {} for row in rows]
    frame = pd.DataFrame({name: _array(_typed_column(spec.inputs.column(name), records, errors),
                                       spec.inputs.column(name).dtype)
                          for name in spec.input_columns})
    if not value_checks_pass(spec, frame):
        seen = {(e.row, e.field) for e in errors}
        errors.extend(e for e in pandera_errors(spec, frame) if (e.row, e.field) not in seen)
    errors.sort(key=lambda e: (-1 if e.row is None else e.row))
    return frame, errors


_MISSING = object()


def _typed_column(col: ColumnSpec, records: list[dict], errors: list[RowError]) -> list[Any]:
    """One column's values; the common case (every value of an allowed type) is one
    pass over the column, the rest is checked cell by cell."""
    values = [row.get(col.name, _MISSING) for row in records]
    allowed = _EXACT_TYPES[col.dtype]
    if set(map(type, values)) <= allowed:
        return values
    return [_typed_cell(col, row, i, errors) for i, row in enumerate(records)]


def _typed_cell(col: ColumnSpec, row: dict, i: int, errors: list[RowError]) -> Any:
    if col.name not in row:
        errors.append(RowError(i, col.name, "missing", f"field '{col.name}' is missing"))
        return None
    value = row[col.name]
    if value is None:
        return None
    ok = isinstance(value, _PY_TYPES[col.dtype]) and not (
        col.dtype in ("float", "int") and isinstance(value, bool))
    if col.dtype == "int" and isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if not ok:
        errors.append(RowError(i, col.name, "type", f"field '{col.name}' must be "
                               f"{col.dtype}, got {type(value).__name__}", value))
        return None
    return float(value) if col.dtype == "float" else value


def _array(values: list[Any], dtype: str) -> np.ndarray:
    """Numbers as float64 (NaN for null: ints stay exact below 2**53); others as objects."""
    if dtype in _NUMERIC:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def value_checks_pass(spec: ModelSpec, frame: pd.DataFrame) -> bool:
    """The vectorised accept decision: nulls, ranges and categories."""
    return not bool(value_failures(spec, frame).any())


def value_failures(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of rows failing any value check."""
    bad = np.zeros(len(frame), dtype=bool)
    for col in spec.inputs.columns:
        if col.name not in frame:
            continue
        values = frame[col.name].to_numpy()
        null = pd.isna(values)
        if not col.nullable:
            bad |= null
        present = ~null
        if col.allowed is not None:
            allowed = set(col.allowed)
            member = np.fromiter((v in allowed for v in values), bool, len(values))
            bad |= present & ~member
        if col.dtype in _NUMERIC:
            numbers = values.astype(np.float64)
            with np.errstate(invalid="ignore"):
                if col.min is not None:
                    bad |= present & ~(numbers >= col.min)
                if col.max is not None:
                    bad |= present & ~(numbers <= col.max)
    return bad


def pandera_errors(spec: ModelSpec, frame: pd.DataFrame) -> list[RowError]:
    """pandera's lazy validation, as row errors."""
    import pandera.errors as pe

    try:
        spec.inputs.to_pandera().validate(_for_pandera(spec, frame), lazy=True)
    except pe.SchemaErrors as exc:
        out = []
        for case in exc.failure_cases.itertuples(index=False):
            row = None if pd.isna(case.index) else int(case.index)
            value = None if pd.isna(case.failure_case) else case.failure_case
            out.append(RowError(row, case.column, str(case.check),
                                f"field '{case.column}' failed {case.check}", _plain(value)))
        return out
    return []


def _for_pandera(spec: ModelSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera checks plain numpy dtypes: ints without nulls as int64 (with nulls they
    stay float and pandera reports the nulls), bools without nulls as bool."""
    out = frame.copy()
    for col in spec.inputs.columns:
        if col.dtype == "int" and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype("int64")
        elif col.dtype == "bool" and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype(bool)
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
