"""The ``slices`` monitor: where, in a window's labelled rows, the model fails.

Every segment of one or two columns (the model's features and sensitive attributes;
a numeric column cut into ``monitoring.slices.bins`` bins at the reference's
quantiles, a categorical one by its values, a missing value as ``missing``) is tested
against the rest of the window for each rate of ``monitoring.slices.rates``:

- ``error_rate``: share of misclassified rows (binary and multiclass);
- ``false_positive_rate``: among true negatives, share predicted positive (binary);
- ``false_negative_rate``: among true positives, share predicted negative (binary).

The test is the one-sided pooled two-proportion z-test (slice worse than the rest),
run only where both the slice and the rest hold ``min_size`` rows of the rate's
denominator. Benjamini-Hochberg (scipy's ``false_discovery_control``) adjusts every
p-value of the window together, so the share of false discoveries among the slices
found stays at ``alpha`` in expectation. Regression models are not searched (no error
event is defined without a threshold; stated in the README).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, norm

from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor

NO_LABELLED = "no ground-truth label has arrived for this window's predictions"
NO_TESTS = "no slice holds min_size rows of a rate's denominator next to a rest as large"
RATE_NOT_FOR_KIND = "rate {rate!r} is defined for binary models only"
MISSING = "missing"

DECLARED_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("slices.worst", "per weak slice (segment: the slice, e.g. "
               "occupation=Sales&age=[28,37)): its rate minus the rest's, significant "
               "after Benjamini-Hochberg; details: rate, sizes, p-values, rank", False, True),
    MetricInfo("slices.count_significant", "slices whose error or fairness rate is "
               "significantly worse than the rest (BH at monitoring.slices.alpha); n: "
               "slices tested", False, True),
)


def _numeric_codes(values: pd.Series, reference: pd.Series | None, bins: int
                   ) -> tuple[np.ndarray, list[str]]:
    source = reference if reference is not None and reference.notna().sum() >= bins else values
    edges = np.unique(np.nanquantile(source.to_numpy(dtype=float), np.linspace(0, 1, bins + 1)[1:-1]))
    x = values.to_numpy(dtype=float)
    codes = np.searchsorted(edges, x, side="right")
    bounds = [-np.inf, *edges, np.inf]
    names = [f"[{_num(bounds[i])},{_num(bounds[i + 1])})" for i in range(len(edges) + 1)]
    codes = np.where(np.isnan(x), len(names), codes)
    return codes.astype(np.int64), [*names, MISSING]


def _num(x: float) -> str:
    return "-inf" if x == -np.inf else "inf" if x == np.inf else f"{x:g}"


def _category_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    text = values.astype(object).where(values.notna(), MISSING).astype(str)
    codes, uniques = pd.factorize(text, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _encode(window: WindowData, frame: pd.DataFrame, bins: int) -> dict[str, tuple[np.ndarray, list[str]]]:
    spec = window.spec
    out = {}
    for column in dict.fromkeys([*spec.features, *spec.sensitive]):
        if column not in frame.columns:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            ref = window.reference[column] if column in window.reference.columns else None
            if values.nunique(dropna=True) <= bins:
                out[column] = _category_codes(values)
            else:
                out[column] = _numeric_codes(values, ref, bins)
        else:
            out[column] = _category_codes(values)
    return out


def _rate_events(kind: str, rate: str, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(in the rate's denominator, the bad event) per labelled row."""
    y = frame["y_true"].to_numpy(dtype=float)
    pred = frame["label"].to_numpy(dtype=float)
    if rate == "error_rate":
        return np.ones(len(y), bool), pred != y
    if kind != "binary":
        raise ValueError(RATE_NOT_FOR_KIND.format(rate=rate))
    if rate == "false_positive_rate":
        return y == 0, pred == 1
    return y == 1, pred == 0   # false_negative_rate


def one_sided_z(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """P-values of the pooled two-proportion z-test of H1: p1 > p2 (vectorised)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = k1 / n1 - k2 / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1), 0.0)
    return norm.sf(z)


def search_slices(window: WindowData) -> pd.DataFrame:
    """Every slice tested in the window: one row per (slice, rate) with its counts,
    rates, effect, p-value and BH-adjusted p-value (empty when none was tested)."""
    config = window.spec.monitoring.slices
    frame = window.labelled
    encoded = _encode(window, frame, config.bins)
    columns = list(encoded)
    groups = [(c,) for c in columns]
    if config.max_features >= 2:
        groups += list(combinations(columns, 2))
    kind = window.spec.output_kind
    parts: list[pd.DataFrame] = []
    for rate in config.rates:
        if rate != "error_rate" and kind != "binary":
            continue
        base, event = _rate_events(kind, rate, frame)
        n_total, k_total = int(base.sum()), int(event[base].sum())
        codes = {column: c[base] for column, (c, _) in encoded.items()}   # once per rate
        weights = event[base].astype(float)
        for group in groups:
            code = codes[group[0]]
            sizes = [encoded[group[0]][1]]
            for column in group[1:]:
                names = encoded[column][1]
                code = code * len(names) + codes[column]
                sizes.append(names)
            cells = int(np.prod([len(s) for s in sizes]))
            n = np.bincount(code, minlength=cells)
            k = np.bincount(code, weights=weights, minlength=cells)
            keep = np.flatnonzero((n >= config.min_size) & (n_total - n >= config.min_size))
            if not keep.size:
                continue
            n1, k1 = n[keep].astype(float), k[keep]
            n2, k2 = n_total - n1, k_total - k1
            labels = []
            for cell in keep:
                bits, rest = [], int(cell)
                for names in reversed(sizes):
                    bits.append(names[rest % len(names)])
                    rest //= len(names)
                labels.append("&".join(f"{col}={v}" for col, v in zip(group, reversed(bits))))
            parts.append(pd.DataFrame({
                "segment": labels, "rate": rate, "features": len(group),
                "slice_size": n1.astype(int), "slice_events": k1.astype(int),
                "rest_size": n2.astype(int), "rest_events": k2.astype(int),
                "slice_rate": k1 / n1, "rest_rate": k2 / n2,
                "p_value": one_sided_z(k1, n1, k2, n2)}))
    if not parts:
        return pd.DataFrame(columns=["segment", "rate", "effect", "p_value", "p_adjusted"])
    tests = pd.concat(parts, ignore_index=True)
    tests["effect"] = tests["slice_rate"] - tests["rest_rate"]
    tests["p_adjusted"] = false_discovery_control(tests["p_value"].to_numpy())
    tests["significant"] = tests["p_adjusted"] <= config.alpha
    return tests


def slice_rows(window: WindowData) -> list[MetricRow]:
    config = window.spec.monitoring.slices
    if window.labelled.empty:
        return [MetricRow("slices.count_significant", None, n=0, status="insufficient_data",
                          details={"reason": NO_LABELLED})]
    tests = search_slices(window)
    if tests.empty:
        return [MetricRow("slices.count_significant", None, n=0, status="insufficient_data",
                          details={"reason": NO_TESTS, "min_size": config.min_size})]
    found = tests[tests["significant"]].sort_values(["effect", "p_adjusted"],
                                                    ascending=[False, True])
    found = found.drop_duplicates("segment")   # a slice once, under its worst rate
    rows = [MetricRow("slices.count_significant", float(len(found)), n=len(tests),
                      details={"alpha": config.alpha, "min_size": config.min_size,
                               "tests": len(tests), "bins": config.bins,
                               "max_features": config.max_features})]
    for rank, item in enumerate(found.head(config.top).itertuples(index=False), start=1):
        rows.append(MetricRow("slices.worst", float(item.effect), segment=item.segment,
                              n=int(item.slice_size), details=_details(item, rank)))
    return rows


def _details(item: Any, rank: int) -> dict[str, Any]:
    return {"rank": rank, "rate": item.rate, "slice_size": int(item.slice_size),
            "slice_rate": float(item.slice_rate), "rest_size": int(item.rest_size),
            "rest_rate": float(item.rest_rate), "p_value": float(item.p_value),
            "p_adjusted": float(item.p_adjusted)}


@register_monitor
class SlicesMonitor:
    family: ClassVar[str] = "slices"
    output_kinds: ClassVar[tuple[str, ...]] = ("binary", "multiclass")
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def run(self, window: WindowData) -> list[MetricRow]:
        return slice_rows(window)
