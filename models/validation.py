"""Request validation against a model's registered input schema.

Three layers, each naming the row and the field:
1. structure and types, row by row (a JSON string is never coerced into a number);
2. values (nulls, ranges, categories), vectorised per column: the accept decision on
   the hot path costs well under a millisecond for a thousand rows;
3. when a value check fails, pandera (the schema's definition,
   ``InputSchema.to_pandera``) validates lazily and its failure cases form the report.
Tests prove layer 2 accepts exactly the rows pandera accepts.

A ``text`` column takes a string of at least one non-blank character and at most the
column's ``max_length`` tokens (its ``tokenizer``'s count, special tokens included): an
empty or too long text is an error of its row (``empty``, ``too_long``), reported and
quarantined like any other, never cut to fit.

Numbers must fit the column's type: an ``int`` column takes integers in int64's range
[-2**63, 2**63) (held as float64 on the way: exact below 2**53, so the 511 integers just
below 2**63 round up to it and are refused), a ``float`` column finite float64 values. A JSON number no float64 holds (``1e400``) arrives as :class:`OutOfRange` from
the request parser and is reported with its row and field, like any other bad value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from raigov.models.serving.frames import frame_from_arrays
from raigov.models.spec import ColumnSpec, ModelSpec

INT_LIMIT = 2.0 ** 63
NUMBER_OUT_OF_RANGE = "field '{field}' must be {allowed}; got {value}"
RANGE_OF = {"int": "an integer in int64's range [-2**63, 2**63)",
            "float": "a finite number within float64"}

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,), "text": (str,)}
_NUMERIC = ("float", "int")
# Exact types accepted without a closer look (bool is not an int here; None is null).
_EXACT_TYPES: dict[str, set[type]] = {"float": {float, int, type(None)}, "int": {int, type(None)},
                                      "str": {str, type(None)}, "bool": {bool, type(None)},
                                      "text": {str, type(None)}}
EMPTY_TEXT = "field '{field}' is an empty text"
TEXT_TOO_LONG = ("field '{field}' has {tokens} tokens; the model takes at most {limit} "
                 "({tokenizer}); texts are never cut to fit")


class OutOfRange:
    """A JSON number no float64 holds (``1e400``), kept as its text so that
    validation can name it with its row and field instead of failing on it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


@dataclass(frozen=True)
class RowError:
    row: int | None
    field: str | None
    check: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if isinstance(self.value, OutOfRange):   # JSON can hold only its text
            out["value"] = str(self.value)
        return out


class ExplainOffLoop(Exception):
    """Raised by ``validate_rows(..., explain=False)`` where a value check failed: the
    report (pandera's, a costly call even for one row) should be made off the event
    loop, by calling again with ``explain=True`` there."""


def validate_rows(spec: ModelSpec, rows: Any, *,
                  explain: bool = True) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed input frame (one row per request row) and every error found."""
    if not isinstance(rows, list) or not rows:
        return pd.DataFrame(), [RowError(None, "rows", "type",
                                         "'rows' must be a non-empty list of objects")]
    errors: list[RowError] = []
    records = rows
    if not all(type(row) is dict for row in rows):
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append(RowError(i, None, "type", "row must be a JSON object",
                                       type(row).__name__))
        records = [row if isinstance(row, dict) else {} for row in rows]
    checks = _checks(spec)
    columns = _transpose(checks, records)
    arrays = {c.name: _array(_typed_column(c, records, errors, values), c.dtype)
              for c, values in zip(checks, columns)}
    _range_errors(checks, arrays, errors)
    _text_errors(checks, arrays, errors)
    frame = frame_from_arrays(arrays)
    if _failures(checks, arrays, len(records)).any():
        if not explain:
            raise ExplainOffLoop
        seen = {(e.row, e.field) for e in errors}
        errors.extend(e for e in pandera_errors(spec, frame) if (e.row, e.field) not in seen)
    errors.sort(key=lambda e: (-1 if e.row is None else e.row))
    return frame, errors


_MISSING = object()


@dataclass(frozen=True)
class _Check:
    """One input column's checks, read once per spec (the spec's column lookup is a
    linear search over pydantic models)."""

    name: str
    dtype: str
    nullable: bool
    allowed: frozenset | None
    accepted: frozenset | None     # allowed, and None when nullable
    min: float | None
    max: float | None
    spec: ColumnSpec


_PLANS: dict[int, tuple[ModelSpec, tuple[_Check, ...], tuple[_Check, ...]]] = {}


def _checks(spec: ModelSpec, *, every_column: bool = False) -> tuple[_Check, ...]:
    """The checks of the columns a request carries (``spec.input_columns``, in order),
    or of every column of the input schema."""
    cached = _PLANS.get(id(spec))
    if cached is None or cached[0] is not spec:
        every = tuple(_Check(c.name, c.dtype, c.nullable,
                             None if c.allowed is None else frozenset(c.allowed),
                             None if c.allowed is None else
                             frozenset(c.allowed) | ({None} if c.nullable else set()),
                             c.min, c.max, c)
                      for c in spec.inputs.columns)
        by_name = {c.name: c for c in every}
        if len(_PLANS) > 64:
            _PLANS.clear()
        cached = _PLANS[id(spec)] = (spec, tuple(by_name[n] for n in spec.input_columns), every)
    return cached[2] if every_column else cached[1]


def _transpose(checks: tuple[_Check, ...], records: list[dict]) -> list[Any]:
    """Each column's values (``_MISSING`` where a row lacks the field): one C-level
    pass over the rows when every row has every field, else column by column."""
    names = [c.name for c in checks]
    if len(names) > 1:
        try:
            return list(zip(*map(itemgetter(*names), records)))
        except KeyError:
            pass
    return [[row.get(name, _MISSING) for row in records] for name in names]


def _typed_column(check: _Check, records: list[dict], errors: list[RowError],
                  values: Any) -> Any:
    """One column's values; the common case (every value of an allowed type) is one
    pass over the column, the rest is checked cell by cell."""
    if set(map(type, values)) <= _EXACT_TYPES[check.dtype]:
        return values
    return [_typed_cell(check.spec, row, i, errors) for i, row in enumerate(records)]


def _typed_cell(col: ColumnSpec, row: dict, i: int, errors: list[RowError]) -> Any:
    if col.name not in row:
        errors.append(RowError(i, col.name, "missing", f"field '{col.name}' is missing"))
        return None
    value = row[col.name]
    if value is None:
        return None
    if isinstance(value, OutOfRange):
        errors.append(RowError(i, col.name, "range", NUMBER_OUT_OF_RANGE.format(
            field=col.name, allowed=RANGE_OF.get(col.dtype, col.dtype), value=value), str(value)))
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


def _range_errors(checks: tuple[_Check, ...], arrays: dict[str, np.ndarray],
                  errors: list[RowError]) -> None:
    """Numbers the column's type cannot hold (an int column's beyond int64; an infinite
    float, which only a Python caller can pass): reported, then held as null so that no
    later step trips on them."""
    for check in checks:
        if check.dtype not in _NUMERIC:
            continue
        values = arrays[check.name]
        with np.errstate(invalid="ignore"):
            bad = ((values >= INT_LIMIT) | (values < -INT_LIMIT) if check.dtype == "int"
                   else np.isinf(values))
        if not bad.any():
            continue
        for i in np.flatnonzero(bad):
            errors.append(RowError(int(i), check.name, "range", NUMBER_OUT_OF_RANGE.format(
                field=check.name, allowed=RANGE_OF[check.dtype], value=repr(float(values[i]))),
                float(values[i])))
        values[bad] = np.nan


def _text_errors(checks: tuple[_Check, ...], arrays: dict[str, np.ndarray],
                 errors: list[RowError]) -> None:
    """Empty and too long texts: reported with their row (the token count in the value)
    and held as null after that, so the model never sees them."""
    for check in checks:
        if check.dtype != "text":
            continue
        values = arrays[check.name]
        present = [i for i, v in enumerate(values) if isinstance(v, str)]
        if not present:
            continue
        empty = [i for i in present if not values[i].strip()]
        for i in empty:
            errors.append(RowError(i, check.name, "empty", EMPTY_TEXT.format(field=check.name),
                                   values[i]))
        rest = [i for i in present if values[i].strip()]
        from raigov.models.text import token_counts

        counts = token_counts(check.spec.tokenizer, [values[i] for i in rest])
        limit = check.spec.max_length
        for i, count in zip(rest, counts):
            if count > limit:
                errors.append(RowError(i, check.name, "too_long", TEXT_TOO_LONG.format(
                    field=check.name, tokens=int(count), limit=limit,
                    tokenizer=check.spec.tokenizer), int(count)))
                values[i] = None
        for i in empty:
            values[i] = None


def _array(values: list[Any], dtype: str) -> np.ndarray:
    """Numbers as float64 (NaN for null: ints stay exact below 2**53); others as objects."""
    if dtype in _NUMERIC:   # numpy reads None as NaN in a float64 array
        return np.array(values, dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def value_checks_pass(spec: ModelSpec, frame: pd.DataFrame) -> bool:
    """The vectorised accept decision: nulls, ranges and categories."""
    return not bool(value_failures(spec, frame).any())


def value_failures(spec: ModelSpec, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of rows failing any value check."""
    checks = tuple(c for c in _checks(spec, every_column=True) if c.name in frame)
    return _failures(checks, {c.name: frame[c.name].to_numpy() for c in checks}, len(frame))


def _failures(checks: tuple[_Check, ...], arrays: dict[str, np.ndarray], n: int) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for check in checks:
        values = arrays[check.name]
        numeric = check.dtype in _NUMERIC
        if not numeric and _clean(check, set(values)):
            continue
        numbers = values.astype(np.float64, copy=False) if numeric else values
        null = np.isnan(numbers) if numeric else pd.isna(values)
        if not check.nullable:
            bad |= null
        if check.allowed is not None:
            allowed = check.allowed
            member = np.fromiter((v in allowed for v in values), bool, n)
            bad |= ~null & ~member
        if numeric and (check.min is not None or check.max is not None):
            with np.errstate(invalid="ignore"):
                if check.min is not None:
                    bad |= ~null & ~(numbers >= check.min)
                if check.max is not None:
                    bad |= ~null & ~(numbers <= check.max)
    return bad


def _clean(check: _Check, distinct: set) -> bool:
    """Whether a str or bool column's distinct values pass at once (the common case)."""
    if check.accepted is not None:
        return distinct <= check.accepted
    return check.nullable or not any(v is None or isinstance(v, float) for v in distinct)


def pandera_errors(spec: ModelSpec, frame: pd.DataFrame) -> list[RowError]:
    """pandera's lazy validation of the columns ``frame`` carries, as row errors (an
    input column that is neither a feature nor sensitive is not in a request)."""
    import pandera.errors as pe

    try:
        schema = spec.inputs.to_pandera().select_columns(list(frame.columns))
        schema.validate(_for_pandera(spec, frame), lazy=True)
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
        if col.name not in out:
            continue
        if col.dtype == "int" and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype("int64")
        elif col.dtype == "bool" and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype(bool)
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
