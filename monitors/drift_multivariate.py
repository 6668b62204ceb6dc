"""Multivariate drift of a window's features against the reference, by NannyML's
definitions (``nannyml.drift.multivariate``); the drift family emits the rows.

- ``drift.multivariate.reconstruction_error`` (NannyML's data reconstruction): the
  features split by dtype (object, string, category, bool: categorical; the rest
  continuous), imputed as fitted on the reference (categorical: most frequent;
  continuous: mean), categoricals frequency-encoded (the share of the reference holding
  the value, 0 for a value it never saw: category_encoders' ``CountEncoder(normalize=
  True)``), standard-scaled, projected on the principal components that explain 65% of
  the variance (``PCA(n_components=0.65, random_state=16)``) and back; the value is the
  mean Euclidean distance between a row and its reconstruction. Interval: +/- z times
  the sampling error ``std(errors, ddof=1) / sqrt(n)``. Band: NannyML's standard-deviation
  threshold, mean +/- 3 standard deviations of the value over reference chunks of the
  window's size (lower limit 0); ``details.alert`` when the value is outside.
- ``drift.multivariate.domain_classifier_auc`` (NannyML's domain classifier): a
  classifier told reference rows (0) from window rows (1), 5-fold stratified cross
  validation without shuffling, the ROC AUC of the out-of-fold scores (0.5 when one
  class only). NannyML fits LightGBM with its defaults; raigov fits scikit-learn's
  ``HistGradientBoostingClassifier`` with the same settings where they exist (100
  rounds, learning rate 0.1, 31 leaves, 20 rows a leaf, no regularisation, no early
  stopping, categoricals native). Band: NannyML's constant thresholds 0.45 and 0.65.
  Each side is a seeded sample of at most 5,000 rows (``max_reference``, ``max_window``;
  NannyML uses every row: the cap keeps one window's cross validation at seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

DC_BAND = (0.45, 0.65)
SIGMA = 3.0
MAX_REFERENCE_CHUNKS = 50


def is_categorical(column: pd.Series) -> bool:
    return column.dtype in ["object", "string", "category", "bool"]


def split_features(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """(continuous, categorical), each sorted, as NannyML's ``_split_features_by_type``."""
    cat = [c for c in sorted(features) if is_categorical(frame[c])]
    return [c for c in sorted(features) if c not in cat], cat


def _numeric(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Numeric columns as floats; a value that is not a number counts as missing (the
    quality family reports it; here it is imputed like any missing value)."""
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) for c in columns]) if columns else np.zeros((len(frame), 0))


def _factorized(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """(codes, distinct values) of a categorical column; missing values (None, NaN,
    NA) have code -1."""
    codes, uniques = pd.factorize(column)
    return codes, list(uniques)


def _most_frequent(counts: np.ndarray, uniques: list[Any]) -> Any:
    """``SimpleImputer(strategy="most_frequent")``'s fill value: the most frequent
    present value, the smallest of ties (the first where they do not compare); None
    when no value is present."""
    if counts.size == 0 or counts.max() == 0:
        return None
    tied = [uniques[i] for i in np.flatnonzero(counts == counts.max())]
    try:
        return min(tied)
    except TypeError:
        return tied[0]


@dataclass
class Reconstruction:
    """NannyML's data-reconstruction pipeline, fitted on the reference.

    Categoricals are imputed and frequency-encoded through their distinct values
    (``pd.factorize``), not row by row through ``SimpleImputer`` and string casts: the
    same fill value (the most frequent, smallest of ties) and the same frequencies
    (keyed by the value's ``str``), about 10x faster at a million rows."""

    continuous: list[str]
    categorical: list[str]
    modes: dict[str, Any]
    imputer_num: SimpleImputer | None
    frequencies: dict[str, dict[str, float]]
    scaler: StandardScaler
    pca: PCA

    @classmethod
    def fit(cls, reference: pd.DataFrame, features: list[str],
            n_components: float = 0.65) -> "Reconstruction":
        continuous, categorical = split_features(reference, features)
        modes, frequencies = {}, {}
        for column in categorical:
            codes, uniques = _factorized(reference[column])
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            mode = modes[column] = _most_frequent(counts, uniques)
            if mode is not None:
                counts[uniques.index(mode)] += int(np.sum(codes < 0))
            by_text: dict[str, int] = {}
            for value, count in zip(uniques, counts.tolist()):
                by_text[str(value)] = by_text.get(str(value), 0) + count
            total = sum(by_text.values())
            frequencies[column] = {k: v / total for k, v in sorted(by_text.items())} \
                if total else {}
        imputer_num = SimpleImputer(missing_values=np.nan, strategy="mean") if continuous else None
        self = cls(continuous, categorical, modes, imputer_num, frequencies,
                   StandardScaler(), PCA(n_components=n_components, random_state=16))
        if imputer_num:
            imputer_num.fit(_numeric(reference, continuous))
        data = self.scaler.fit_transform(self._encoded(reference))
        if not np.any(self.scaler.var_ > 0):
            # every encoded feature is constant (one value, or a category whose values
            # are all distinct: equal count frequencies): scikit-learn's PCA would
            # divide zero variance by zero
            raise NothingVaries(CONSTANT)
        self.pca.fit(data)
        return self

    def _encoded(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for column in self.categorical:
            codes, uniques = _factorized(frame[column])
            lookup = self.frequencies[column]
            fill = lookup.get(str(self.modes[column]), 0.0) if self.modes[column] is not None \
                else 0.0
            table = np.array([lookup.get(str(v), 0.0) for v in uniques] + [fill])
            parts.append(table[codes])                  # code -1 (missing) -> the fill's
        if self.continuous:
            parts.extend(self.imputer_num.transform(_numeric(frame, self.continuous)).T)
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))

    def errors(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's Euclidean reconstruction error."""
        data = self.scaler.transform(self._encoded(frame))
        back = self.pca.inverse_transform(self.pca.transform(data))
        return np.linalg.norm(data - back, axis=1)


def reconstruction_summary(errors: np.ndarray) -> tuple[float, float]:
    """(mean error, sampling error) of one chunk, as NannyML."""
    if errors.size < 2:
        return (float(errors.mean()) if errors.size else float("nan")), float("nan")
    return float(errors.mean()), float(np.std(errors, ddof=1) / np.sqrt(errors.size))


def reference_band(values: np.ndarray, *, lower_limit: float | None = 0.0,
                   upper_limit: float | None = None) -> tuple[float | None, float | None]:
    """NannyML's ``StandardDeviationThreshold``: mean +/- 3 std (population) of the
    reference chunks' values, clipped to the metric's limits."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return None, None
    mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    low, high = mean - SIGMA * std, mean + SIGMA * std
    if lower_limit is not None:
        low = max(low, lower_limit)
    if upper_limit is not None:
        high = min(high, upper_limit)
    return low, high


def reference_chunk_values(reference_errors: np.ndarray, size: int) -> np.ndarray:
    """The mean reconstruction error of consecutive reference chunks of ``size`` rows
    (NannyML's size chunker drops an incomplete last chunk), at most 50 chunks."""
    if size <= 0:
        return np.array([])
    count = min(reference_errors.size // size, MAX_REFERENCE_CHUNKS)
    return np.array([reference_errors[i * size:(i + 1) * size].mean() for i in range(count)])


def _classifier_inputs(frame: pd.DataFrame, continuous: list[str], categorical: list[str],
                       categories: dict[str, list[str]]) -> np.ndarray:
    cols = []
    for column in continuous:
        cols.append(_numeric(frame, [column])[:, 0])
    for column in categorical:
        codes = pd.Categorical(frame[column].astype(object).where(frame[column].notna(), None)
                               .map(lambda v: None if v is None else str(v)),
                               categories=categories[column]).codes.astype(float)
        cols.append(np.where(codes < 0, np.nan, codes))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def domain_classifier_auc(reference: pd.DataFrame, window: pd.DataFrame, features: list[str], *,
                          folds: int = 5, seed: int = 13, threads: int | None = 1) -> float:
    """NannyML's domain-classifier AUC with scikit-learn's histogram gradient boosting.
    ``threads``: OpenMP threads for the boosting (1 by default: on a busy machine more
    threads than free cores made one fit ~17x slower; None: scikit-learn's choice)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _domain_classifier_auc(reference, window, features, folds=folds, seed=seed)


def _domain_classifier_auc(reference: pd.DataFrame, window: pd.DataFrame, features: list[str], *,
                           folds: int, seed: int) -> float:
    continuous, categorical = split_features(reference, features)
    both = pd.concat([reference[features], window[features]], ignore_index=True)
    categories = {c: sorted({str(v) for v in both[c].dropna().unique()}) for c in categorical}
    if any(len(v) > 254 for v in categories.values()):   # HGB's native limit: code them as numbers
        continuous, categorical = continuous + [c for c in categorical if len(categories[c]) > 254], \
            [c for c in categorical if len(categories[c]) <= 254]
        for c in list(categories):
            if c not in categorical:
                both[c] = pd.Categorical(both[c].astype(str), categories=categories.pop(c)).codes
    x = _classifier_inputs(both, continuous, categorical, categories)
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(window))])
    if len(np.unique(y)) < 2 or min(len(reference), len(window)) < folds:
        return 0.5
    mask = np.array([False] * len(continuous) + [True] * len(categorical))
    preds, truths = [], []
    for train, test in StratifiedKFold(n_splits=folds).split(x, y):
        model = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
            l2_regularization=0.0, early_stopping=False, random_state=seed,
            categorical_features=mask if mask.any() else None)
        model.fit(x[train], y[train])
        preds.append(model.predict_proba(x[test])[:, 1])
        truths.append(y[test])
    truth, pred = np.concatenate(truths), np.concatenate(preds)
    return float(roc_auc_score(truth, pred)) if np.unique(truth).size == 2 else 0.5


# --- the drift family's rows ---------------------------------------------------------

NO_FEATURES = ("the model declares no tabular feature the reference and the window both "
               "hold (text columns are judged by drift.embedding and drift.feature.<column>)")
CONSTANT = "no feature varies in the reference, so there are no components to reconstruct"
TOO_FEW_WINDOW_ROWS = "{n} rows in the window, fewer than {need}"
NO_BAND = ("the reference holds fewer than 2 chunks of the window's {n} rows, so no "
           "reference band")
MULTIVARIATE_METRICS_INFO = (
    ("drift.multivariate.reconstruction_error",
     "NannyML's PCA data reconstruction error of the window's features (mean Euclidean "
     "distance; band: mean +/- 3 sd over reference chunks)"),
    ("drift.multivariate.domain_classifier_auc",
     "NannyML's domain classifier: cross-validated ROC AUC of telling window rows from "
     "reference rows (histogram gradient boosting; band 0.45-0.65)"),
)
_RECONSTRUCTIONS: dict[tuple[Any, ...], tuple[Reconstruction, np.ndarray]] = {}


class NothingVaries(ValueError):
    """The reference's encoded features are all constant."""


def _is_text(spec, column: str) -> bool:
    """A free-text column: a count encoding of whole texts is one distinct value a row."""
    try:
        return spec.inputs.column(column).dtype == "text"
    except KeyError:
        return False


def _fitted(window, features: list[str]) -> tuple[Reconstruction, np.ndarray]:
    key = (str(window.artifact_dir), window.spec.name, window.version, len(window.reference),
           tuple(features)) if window.artifact_dir is not None else None
    if key is not None and key in _RECONSTRUCTIONS:
        return _RECONSTRUCTIONS[key]
    rec = Reconstruction.fit(window.reference, features)
    fitted = (rec, rec.errors(window.reference))
    if key is not None:
        _RECONSTRUCTIONS[key] = fitted
    return fitted


def multivariate_rows(window, *, z: float = 1.96, max_reference: int = 5_000,
                      max_window: int = 5_000, seed: int = 0) -> list:
    """The multivariate drift rows of one window (``segment`` all): the reconstruction
    error always, the domain classifier's AUC when the spec's
    ``monitoring.domain_classifier`` asks for it."""
    from raigov.monitors.base import MetricRow

    features = [c for c in window.spec.features
                if c in window.reference.columns and c in window.frame.columns
                and not _is_text(window.spec, c)]
    names = [m for m, _ in MULTIVARIATE_METRICS_INFO]
    n = len(window.frame)
    if not features or len(window.reference) < 2:
        return [MetricRow(m, None, n=n, status="insufficient_data",
                          details={"reason": NO_FEATURES}) for m in names]
    if n < 2:
        return [MetricRow(m, None, n=n, status="insufficient_data",
                          details={"reason": TOO_FEW_WINDOW_ROWS.format(n=n, need=2)})
                for m in names]
    try:
        rec, ref_errors = _fitted(window, features)
    except NothingVaries:
        return [MetricRow(m, None, n=n, status="insufficient_data",
                          details={"reason": CONSTANT}) for m in names]
    value, error = reconstruction_summary(rec.errors(window.frame))
    chunks = reference_chunk_values(ref_errors, n)
    low, high = reference_band(chunks) if chunks.size >= 2 else (None, None)
    details: dict[str, Any] = {
        "multivariate_method": "NannyML data reconstruction (PCA, 65% of variance)",
        "components": int(rec.pca.n_components_), "sampling_error": error,
        "reference_chunks": int(chunks.size), "band_low": low, "band_high": high,
        "alert": None if low is None else bool(not (low < value < high))}
    if low is None:
        details["band_reason"] = NO_BAND.format(n=n)
    rows = [MetricRow(names[0], value, n=n,
                      ci_low=max(0.0, value - z * error) if np.isfinite(error) else None,
                      ci_high=value + z * error if np.isfinite(error) else None,
                      details=details)]
    if not window.spec.monitoring.domain_classifier:
        return rows   # opt-in: monitoring.domain_classifier (a fit per window)
    reference = window.reference
    if len(reference) > max_reference:
        reference = reference.sample(n=max_reference, random_state=seed)
    current = window.frame if n <= max_window else window.frame.sample(n=max_window,
                                                                        random_state=seed)
    auc = domain_classifier_auc(reference, current, features)
    rows.append(MetricRow(names[1], auc, n=n, details={
        "window_rows": int(len(current)),
        "multivariate_method": "NannyML domain classifier, 5-fold stratified CV; scikit-learn "
                  "HistGradientBoostingClassifier where NannyML uses LightGBM",
        "reference_rows": int(len(reference)), "band_low": DC_BAND[0], "band_high": DC_BAND[1],
        "alert": bool(not (DC_BAND[0] <= auc <= DC_BAND[1]))}))
    return rows
