"""Evidently's drift statistics from a reference profile and a window, in vectorised numpy.

Evidently (``evidently.legacy.calculations.stattests``) stays the definition; this
module recomputes its numbers without the raw reference:

- method choice (``_get_default_stattest``): reference of <= 1000 usable values: K-S
  for numerical columns with more than 5 distinct values (reference and window
  together), chi-square for more than 2, Z-test for 1-2, and the same chi-square/Z-test
  for categorical ones; larger references: normed Wasserstein for numerical columns
  with more than 5 distinct values, Jensen-Shannon otherwise and for categorical ones.
- ``wasserstein``: ``wasserstein_distance(ref, cur) / max(std(ref), 0.001)``
  (population std), drifted when >= threshold (default 0.1).
- ``jensenshannon``: scipy's JS distance (natural log) of the shares per value, or per
  Sturges bin of both samples together when a numerical reference has > 20 distinct
  values; drifted when >= threshold (0.1).
- ``ks`` (p <= threshold), ``chisquare`` and ``z`` (p < threshold), threshold 0.05.

With exact counts (every profile column with <= ``max_exact`` distinct values) the
figures equal Evidently's up to float rounding; from a quantile profile they are
within a fraction of a percent (see tests/monitors/test_drift.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from raigov.monitors.reference_profile import (SMALL_REFERENCE_ROWS, ColumnKind, categorical_counts,
                                        finite_values, is_integer_column, numeric_counts)
from raigov.errors import ConfigError

StatKind = Literal["p_value", "distance"]

NEEDS_COUNTS = ("Drift method {method!r} needs exact reference counts; the reference "
                "profile of this column holds quantiles only.")
METHOD_NOT_FOR_KIND = ("Drift method {method!r} for column {column!r} does not apply to "
                       "{kind} columns; it applies to: {allowed}.")


@dataclass(frozen=True)
class Counts:
    """A distribution as exact distinct values (sorted floats for numerical columns)
    and their counts."""

    values: np.ndarray
    counts: np.ndarray
    integer: bool = False

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def n_unique(self) -> int:
        return int(self.values.size)

    def std(self) -> float:
        mean = np.average(self.values, weights=self.counts)
        return float(np.sqrt(np.average((self.values - mean) ** 2, weights=self.counts)))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0], np.cumsum(self.counts)])
        return cum[np.searchsorted(self.values, x, side="right")] / self.n


@dataclass(frozen=True)
class Quantiles:
    """A numerical distribution as points ``(levels[i], grid[i])`` of its quantile
    function, linear in between (see ``reference_profile.quantile_knots``)."""

    levels: np.ndarray
    grid: np.ndarray
    n: int
    n_unique: int
    std_value: float
    integer: bool = False

    def std(self) -> float:
        return self.std_value

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.grid, self.levels, left=0.0, right=1.0)


Distribution = Counts | Quantiles


@dataclass(frozen=True)
class DriftMethod:
    """One of Evidently's stattests: its registry name, display name, what its score
    is, default threshold, column kinds it accepts and which side of the threshold
    means drift."""

    name: str
    label: str
    kind: StatKind
    default_threshold: float
    kinds: tuple[ColumnKind, ...]
    drifted: Callable[[float, float], bool]  # (score, threshold) -> drift?


METHODS: dict[str, DriftMethod] = {m.name: m for m in (
    DriftMethod("wasserstein", "Wasserstein distance (normed)", "distance", 0.1,
                ("numerical",), operator.ge),
    DriftMethod("jensenshannon", "Jensen-Shannon distance", "distance", 0.1,
                ("categorical", "numerical"), operator.ge),
    DriftMethod("ks", "K-S p_value", "p_value", 0.05, ("numerical",), operator.le),
    DriftMethod("chisquare", "chi-square p_value", "p_value", 0.05, ("categorical",),
                operator.lt),
    DriftMethod("z", "Z-test p_value", "p_value", 0.05, ("categorical",), operator.lt),
)}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test: what Evidently reports for it."""

    column: str
    kind: ColumnKind
    method: str
    label: str
    stat_kind: StatKind
    threshold: float
    score: float
    drifted: bool
    n_reference: int
    n_current: int
    reference: Literal["counts", "quantiles", "raw"] = "raw"

    def details(self) -> dict[str, Any]:
        return {"method": self.method, "method_label": self.label, "threshold": self.threshold,
                "drifted": self.drifted, "stattest_kind": self.stat_kind,
                "column_type": self.kind, "n_reference": self.n_reference,
                "n_current": self.n_current, "reference": self.reference}


def profile_distribution(entry: dict[str, Any]) -> Distribution:
    """A profile column entry (see ``raigov.monitors.reference_profile``) as a distribution."""
    if entry["kind"] == "categorical":
        return Counts(np.asarray(entry["values"], dtype=object),
                      np.asarray(entry["counts"], dtype=np.int64))
    if "quantiles" in entry:
        grid = np.asarray(entry["quantiles"], dtype=np.float64)
        # profiles written before the exact tails held evenly spaced levels 0..1 only
        levels = entry.get("quantile_levels") or np.linspace(0.0, 1.0, grid.size)
        return Quantiles(np.asarray(levels, dtype=np.float64), grid, n=int(entry["n"]),
                         n_unique=int(entry["n_unique"]), std_value=float(entry["std"]),
                         integer=bool(entry["integer"]))
    return Counts(np.asarray(entry["values"], dtype=np.float64),
                  np.asarray(entry["counts"], dtype=np.int64), integer=bool(entry["integer"]))


def window_distribution(series: pd.Series, *, kind: ColumnKind) -> Counts:
    """A window column's exact distribution (NaN and +-inf dropped, as Evidently does)."""
    if kind == "categorical":
        values, counts = categorical_counts(series)
        return Counts(values, counts)
    values, counts = numeric_counts(finite_values(series))
    return Counts(values, counts, integer=is_integer_column(series))


def default_method(ref: Distribution, cur: Counts, *, kind: ColumnKind) -> str:
    """Evidently's ``_get_default_stattest`` for these two samples."""
    n_values = _union_size(ref, cur)
    if ref.n <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numerical" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def column_drift(column: str, ref: Distribution, cur: Counts, *, kind: ColumnKind,
                 method: str | None = None, threshold: float | None = None) -> ColumnDrift:
    """Run the configured (or Evidently's default) test on one column."""
    chosen = METHODS[method or default_method(ref, cur, kind=kind)]
    if method is not None and kind not in chosen.kinds:
        raise ConfigError(METHOD_NOT_FOR_KIND.format(method=method, column=column, kind=kind,
                                                     allowed=", ".join(chosen.kinds)))
    limit = chosen.default_threshold if threshold is None else float(threshold)
    score = float(_STATTESTS[chosen.name](ref, cur))
    return ColumnDrift(column=column, kind=kind, method=chosen.name, label=chosen.label,
                       stat_kind=chosen.kind, threshold=limit, score=score,
                       drifted=bool(chosen.drifted(score, limit)), n_reference=ref.n,
                       n_current=cur.n,
                       reference="quantiles" if isinstance(ref, Quantiles) else "counts")


def _union_size(ref: Distribution, cur: Counts) -> int:
    if isinstance(ref, Quantiles):
        return max(ref.n_unique, cur.n_unique)
    if ref.values.dtype == object or cur.values.dtype == object:
        return len(set(ref.values.tolist()) | set(cur.values.tolist()))
    return int(np.union1d(ref.values, cur.values).size)


def _aligned(ref: Counts, cur: Counts) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Counts of both samples over the union of their values."""
    keys = list(dict.fromkeys(ref.values.tolist() + cur.values.tolist()))
    index = {key: i for i, key in enumerate(keys)}
    ref_counts, cur_counts = np.zeros(len(keys)), np.zeros(len(keys))
    ref_counts[[index[k] for k in ref.values.tolist()]] = ref.counts
    cur_counts[[index[k] for k in cur.values.tolist()]] = cur.counts
    return keys, ref_counts, cur_counts


def _wasserstein(ref: Distribution, cur: Counts) -> float:
    from scipy import stats

    norm = max(ref.std(), 0.001)
    if isinstance(ref, Counts):
        return stats.wasserstein_distance(ref.values, cur.values, ref.counts, cur.counts) / norm
    return _wasserstein_from_quantiles(ref, cur) / norm


def _wasserstein_from_quantiles(ref: Quantiles, cur: Counts) -> float:
    """Integral over u of |Q_ref(u) - Q_cur(u)|: Q_ref linear between the profile's
    quantiles, Q_cur the window's exact step function; exact on every piece."""
    knots_u = np.concatenate([[0.0], ref.levels, [1.0]])
    knots_q = np.concatenate([ref.grid[:1], ref.grid, ref.grid[-1:]])
    steps_u = np.cumsum(cur.counts) / cur.n
    u = np.union1d(knots_u, steps_u)
    lo, hi = u[:-1], u[1:]
    level = cur.values[np.minimum(np.searchsorted(steps_u, lo, side="right"), cur.n_unique - 1)]
    d0 = np.interp(lo, knots_u, knots_q) - level
    d1 = np.interp(hi, knots_u, knots_q) - level
    same = d0 * d1 >= 0
    area = np.where(same, (np.abs(d0) + np.abs(d1)) / 2,
                    (d0 ** 2 + d1 ** 2) / (2 * np.maximum(np.abs(d0) + np.abs(d1), 1e-300)))
    return float(np.sum(area * (hi - lo)))


def _shares(ref: Distribution, cur: Counts) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's ``get_binned_data`` (without zero filling)."""
    if isinstance(ref, Quantiles) or (ref.values.dtype != object and ref.n_unique > 20):
        edges = _sturges_edges(ref, cur)
        return _bin_shares(ref, edges), _bin_shares(cur, edges)
    _, ref_counts, cur_counts = _aligned(ref, cur)
    return ref_counts / ref.n, cur_counts / cur.n


def _bin_shares(dist: Distribution, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(sample, edges)[0] / len(sample)``."""
    if isinstance(dist, Counts):
        return np.histogram(dist.values, bins=edges, weights=dist.counts)[0] / dist.n
    return np.diff(np.append(dist.cdf(edges[:-1]), 1.0))


def _sturges_edges(ref: Distribution, cur: Counts) -> np.ndarray:
    """``np.histogram_bin_edges(concat(ref, cur), bins="sturges")``."""
    ref_min, ref_max = (ref.grid[0], ref.grid[-1]) if isinstance(ref, Quantiles) else (
        ref.values[0], ref.values[-1])
    first, last = min(ref_min, cur.values[0]), max(ref_max, cur.values[-1])
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (last - first) / (np.log2(ref.n + cur.n) + 1.0)
    if ref.integer and cur.integer and width < 1:
        width = 1
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1)


def _jensenshannon(ref: Distribution, cur: Counts) -> float:
    from scipy.spatial import distance

    return float(distance.jensenshannon(*_shares(ref, cur)))


def _ks(ref: Distribution, cur: Counts) -> float:
    from scipy import stats

    if isinstance(ref, Counts) and max(ref.n, cur.n) <= 10_000:  # scipy's exact mode
        return float(stats.ks_2samp(np.repeat(ref.values, ref.counts),
                                    np.repeat(cur.values, cur.counts)).pvalue)
    support = ref.values if isinstance(ref, Counts) else ref.grid
    points = np.union1d(support, cur.values)
    d = float(np.max(np.abs(ref.cdf(points) - cur.cdf(points))))
    m, n = sorted([float(ref.n), float(cur.n)], reverse=True)  # scipy's asymptotic mode
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _chisquare(ref: Distribution, cur: Counts) -> float:
    from scipy import stats

    _, ref_counts, cur_counts = _aligned(_counts(ref, "chisquare"), cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(cur_counts, ref_counts * (cur.n / ref.n))[1])


def _z(ref: Distribution, cur: Counts) -> float:
    from scipy.stats import norm

    ref = _counts(ref, "z")
    if ref.n_unique == 1 and cur.n_unique == 1 and ref.values[0] == cur.values[0]:
        return 1.0
    keys, ref_counts, cur_counts = _aligned(ref, cur)
    first = keys.index(sorted(keys)[0])
    p1 = (ref.n - ref_counts[first]) / ref.n
    p2 = (cur.n - cur_counts[first]) / cur.n
    pooled = (p1 * ref.n + p2 * cur.n) / (ref.n + cur.n)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / ref.n + 1.0 / cur.n))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def _counts(ref: Distribution, method: str) -> Counts:
    if isinstance(ref, Quantiles):
        raise ConfigError(NEEDS_COUNTS.format(method=method))
    return ref


_STATTESTS: dict[str, Callable[[Distribution, Counts], float]] = {
    "wasserstein": _wasserstein, "jensenshannon": _jensenshannon, "ks": _ks,
              "chisquare": _chisquare, "z": _z}
