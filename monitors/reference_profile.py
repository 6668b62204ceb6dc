"""What the drift monitor needs of a model's reference data, computed once at registration.

A profile is plain JSON (``WindowData.reference_profile``; the registry can keep it as
``reference_profile.json`` beside ``reference.parquet``)::

    {"format": "raigov.reference_profile/1", "rows": 32561,
     "columns": {
       "age":       {"kind": "numerical", "integer": true, "n": 32561, "missing": 0,
                     "n_unique": 73, "mean": 38.58, "std": 13.64, "min": 17.0,
                     "max": 90.0, "values": [17.0, 18.0, ...], "counts": [395, 550, ...]},
       "score":     {"kind": "numerical", "integer": false, "n": 1000000, "missing": 0,
                     "n_unique": 998421, "mean": ..., "std": ..., "min": ..., "max": ...,
                     "quantile_levels": [0.0000005, ...], "quantiles": [0.0012, ...]},
       "workclass": {"kind": "categorical", "n": 30725, "missing": 1836, "n_unique": 8,
                     "values": ["Federal-gov", ...], "counts": [960, ...]}}}

Columns: the model's features and sensitive attributes (typed by the input schema:
int/float numerical, str/bool categorical) and the outputs drift compares
(``raigov.monitors.drift_outputs``: binary ``score``, multiclass ``label``, regression
``value`` and, where the reference has ``y_true``, ``residual``). ``n`` counts
the usable values (finite numbers, non-null categories): Evidently drops NaN and +-inf
before its tests. A numerical column keeps its exact distinct values and counts while
it has at most ``max_exact`` of them (every Evidently statistic is then exact, and a
reference of <= 1000 rows always is); above that it keeps points of its quantile
function: ``quantiles + 1`` evenly spaced ones and the 1000 lowest and highest values
exactly (the tails are where interpolation would err), plus the exact mean and
population standard deviation. ~0.5 MB of JSON for Adult's 15 columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from raigov.errors import ConfigError

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

ColumnKind = Literal["numerical", "categorical"]

PROFILE_FORMAT = "raigov.reference_profile/1"
PREDICTION_COLUMN = "score"
DEFAULT_MAX_EXACT = 50_000
DEFAULT_QUANTILES = 10_000
DEFAULT_TAIL = 1000
SMALL_REFERENCE_ROWS = 1000  # Evidently switches tests at this many reference rows

MAX_EXACT_TOO_SMALL = ("max_exact={value} is below {minimum}: a reference of up to "
                       "{minimum} rows must stay exact for Evidently's small-sample tests.")
BAD_PROFILE_FORMAT = ("Reference profile has format {found!r}; this raigov reads "
                      "{expected!r}. Rebuild it with build_reference_profile().")
_KINDS: dict[str, ColumnKind] = {"int": "numerical", "float": "numerical",
                                 "str": "categorical", "bool": "categorical"}


def drift_columns(spec: "ModelSpec") -> dict[str, ColumnKind]:
    """The input columns drift is measured on (features, then sensitive-only ones),
    with the kind their declared dtype gives them. Free-text columns (dtype ``text``) are
    measured by the text-drift family (``raigov.monitors.drift_text``), not here."""
    return {name: _KINDS[spec.inputs.column(name).dtype] for name in spec.input_columns
            if spec.inputs.column(name).dtype != "text"}


def build_reference_profile(reference: pd.DataFrame, *, spec: "ModelSpec",
                            max_exact: int = DEFAULT_MAX_EXACT,
                            quantiles: int = DEFAULT_QUANTILES) -> dict[str, Any]:
    """Profile every drift column of ``reference`` present in it (and ``score`` when
    present); the result is JSON-serialisable."""
    if max_exact < SMALL_REFERENCE_ROWS:
        raise ConfigError(MAX_EXACT_TOO_SMALL.format(value=max_exact,
                                                     minimum=SMALL_REFERENCE_ROWS))
    from raigov.monitors.drift_outputs import output_columns, output_series

    columns = {name: profile_column(reference[name], kind=kind, max_exact=max_exact,
                                    quantiles=quantiles)
               for name, kind in drift_columns(spec).items() if name in reference.columns}
    for column, kind in output_columns(spec).values():
        series = output_series(reference, column)
        if series is not None:
            columns[column] = profile_column(series, kind=kind, max_exact=max_exact,
                                             quantiles=quantiles)
    return {"format": PROFILE_FORMAT, "rows": int(len(reference)), "columns": columns}


def check_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """Return ``profile`` when this code can read it, else raise ConfigError."""
    if profile.get("format") != PROFILE_FORMAT:
        raise ConfigError(BAD_PROFILE_FORMAT.format(found=profile.get("format"),
                                                    expected=PROFILE_FORMAT))
    return profile


def profile_column(series: pd.Series, *, kind: ColumnKind, max_exact: int = DEFAULT_MAX_EXACT,
                   quantiles: int = DEFAULT_QUANTILES) -> dict[str, Any]:
    """One column's entry of a profile."""
    if kind == "categorical":
        values, counts = categorical_counts(series)
        return {"kind": kind, "n": int(counts.sum()), "missing": int(len(series) - counts.sum()),
                "n_unique": len(values), "values": [_plain(v) for v in values],
                "counts": counts.tolist()}
    return _numeric_entry(series, max_exact=max_exact, quantiles=quantiles)


def _numeric_entry(series: pd.Series, *, max_exact: int, quantiles: int) -> dict[str, Any]:
    x = finite_values(series)
    values, counts = numeric_counts(x)
    entry: dict[str, Any] = {"kind": "numerical", "integer": is_integer_column(series),
                             "n": int(x.size), "missing": int(len(series) - x.size),
                             "n_unique": int(values.size)}
    if x.size:
        entry.update(mean=float(x.mean()), std=float(x.std()), min=float(x.min()),
                     max=float(x.max()))
    if values.size <= max_exact:
        entry.update(values=values.tolist(), counts=counts.tolist())
    else:
        levels, knots = quantile_knots(np.sort(x), quantiles=quantiles)
        entry.update(quantile_levels=levels.tolist(), quantiles=knots.tolist())
    return entry


def quantile_knots(ordered: np.ndarray, *, quantiles: int,
                   tail: int = DEFAULT_TAIL) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(u, q)`` of the sample's quantile function, linear between the order
    statistics placed at ``u = (i + 0.5) / n`` (numpy's "hazen" method): ``quantiles + 1``
    evenly spaced levels and every one of the ``tail`` lowest and highest values."""
    n = ordered.size
    ends = np.unique(np.r_[0:min(tail, n), max(n - tail, 0):n])
    grid = np.linspace(0.5 / n, 1 - 0.5 / n, quantiles + 1)
    levels = np.concatenate([(ends + 0.5) / n, grid])
    knots = np.concatenate([ordered[ends], np.quantile(ordered, grid, method="hazen")])
    levels, first = np.unique(levels, return_index=True)
    return levels, np.maximum.accumulate(knots[first])


def finite_values(series: pd.Series) -> np.ndarray:
    """The column's finite values as float64 (Evidently drops NaN and +-inf)."""
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return x[np.isfinite(x)]


def numeric_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of a finite float array and their counts: one ``bincount``
    when the values are integers over a span not much wider than the sample, else a sort."""
    if x.size and np.isfinite(span := x.max() - x.min()) and span <= 4 * x.size + 10_000:
        low = x.min()
        offsets = x - low
        whole = offsets.astype(np.int64)
        if np.array_equal(whole, offsets):
            counts = np.bincount(whole)
            present = np.flatnonzero(counts)
            return present + low, counts[present]
    return np.unique(x, return_counts=True)


def usable_count(series: pd.Series, *, kind: ColumnKind) -> int:
    """How many values of the column a drift test would use."""
    if kind == "categorical":
        return int(series.notna().sum())
    return int(finite_values(series).size)


def is_integer_column(series: pd.Series) -> bool:
    return bool(pd.api.types.is_integer_dtype(series.dtype)
                and not pd.api.types.is_bool_dtype(series.dtype))


def categorical_counts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-null values (object array) and their counts."""
    if isinstance(series.dtype, pd.StringDtype):
        series = series.astype(object)
    counts = series.value_counts(dropna=True, sort=False)
    return counts.index.to_numpy(dtype=object), counts.to_numpy(dtype=np.int64)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
