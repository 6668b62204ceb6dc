"""The fast paths inside CBPE's calibration check against the library code they stand
in for: the stratified splits are scikit-learn's own (the same indices in the same
order), the grouped isotonic fit predicts what ``IsotonicRegression`` fitted on every
row predicts, and ``needs_calibration`` decides as NannyML's does on scores with ties,
continuous scores and scores packed near 1."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedShuffleSplit

from raigov.monitors.estimate_cbpe import isotonic_fit, needs_calibration, stratified_splits

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
from nannyml.calibration import IsotonicCalibrator  # noqa: E402
from nannyml.calibration import needs_calibration as nml_needs_calibration  # noqa: E402


@pytest.mark.parametrize("n, weights, seed", [(1_000, [0.5, 0.5], 0), (20_001, [0.9, 0.1], 1),
                                              (5_003, [0.6, 0.3, 0.1], 2), (37, [0.7, 0.3], 3)])
def test_the_splits_are_scikit_learns_own(n: int, weights: list[float], seed: int) -> None:
    y = np.random.default_rng(seed).choice(len(weights), size=n, p=weights)
    theirs = list(StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42).split(y, y))
    ours = stratified_splits(y, n_splits=10, test_size=0.1, random_state=42)
    assert len(ours) == len(theirs) == 10
    for (train, test), (their_train, their_test) in zip(ours, theirs):
        np.testing.assert_array_equal(train, their_train)
        np.testing.assert_array_equal(test, their_test)


def _scores(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "tied":
        return np.round(rng.uniform(size=n), 2)
    if kind == "near one":          # distinct floats closer than scikit-learn's merge eps
        return 1.0 - rng.integers(0, 40, size=n) * np.finfo(float).eps
    return rng.beta(2, 5, size=n)


@pytest.mark.parametrize("kind", ["tied", "continuous", "near one"])
def test_the_grouped_isotonic_fit_predicts_what_the_plain_one_does(kind: str) -> None:
    rng = np.random.default_rng(7)
    scores = _scores(kind, rng, 30_000)
    labels = (rng.uniform(size=scores.size) < np.clip(scores * 0.8 + 0.1, 0, 1)).astype(int)
    plain = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(scores, labels)
    probe = np.concatenate([scores[:5_000], rng.uniform(-0.2, 1.2, size=2_000)])
    np.testing.assert_allclose(isotonic_fit(scores, labels).predict(probe), plain.predict(probe),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["tied", "continuous"])
@pytest.mark.parametrize("miscalibrated", [False, True])
def test_needs_calibration_decides_as_nannyml(kind: str, miscalibrated: bool) -> None:
    rng = np.random.default_rng(11)
    scores = _scores(kind, rng, 20_000)
    truth = scores ** 2 if miscalibrated else scores       # a calibrated model: P(y|s) = s
    labels = (rng.uniform(size=scores.size) < truth).astype(int)
    theirs = nml_needs_calibration(labels, scores, IsotonicCalibrator())
    assert needs_calibration(labels, scores) is bool(theirs)
    if miscalibrated:
        assert theirs                       # the case is one where calibration does help


@pytest.mark.parametrize("kind", ["tied", "continuous"])
def test_the_grouped_auc_is_scikit_learns_roc_auc(kind: str) -> None:
    from sklearn.metrics import roc_auc_score

    from raigov.monitors.estimate_cbpe import _grouped_auc

    rng = np.random.default_rng(5)
    scores = _scores(kind, rng, 50_000)
    labels = (rng.uniform(size=scores.size) < scores).astype(int)
    values, inverse = np.unique(scores, return_inverse=True)
    assert _grouped_auc(inverse, labels.astype(float), values.size) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12)
