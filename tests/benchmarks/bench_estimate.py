"""Benchmark: the ``estimate`` family's CBPE and the drift family's multivariate
methods against NannyML's own calculators on the same rows, fit and calculate, in one
run. Prints JSON (and writes it with --out).

Run: .venv/bin/python tests/benchmarks/bench_estimate.py [--rows 1000000]
     [--dc-rows 100000] [--out bench-out/estimate.json]

Data: NannyML's synthetic binary-classification reference and analysis sets (the
car-loan set for the multivariate methods), each resampled with replacement to
``--rows`` rows (seeded); the reference is fitted, the analysis is one chunk (one
window). The domain classifier runs at ``--dc-rows`` a side (both tools fit 5 boosted
models on twice that); raigov's own run samples the reference side down to 10,000 rows
as the monitor does, and the JSON gives both AUCs. "equal" compares the figures:
CBPE and reconstruction error to 1e-6, the domain classifier's AUC to 0.03.
Target: 10x faster than NannyML at equal results.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
warnings.filterwarnings("ignore")

CBPE_METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
CAR_FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
                "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def _resample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_cbpe(nml, rows: int) -> dict:
    from raigov.monitors.estimate_cbpe import Calibrator, binary_components, binary_estimates

    ref, ana, _ = nml.load_synthetic_binary_classification_dataset()
    ref, ana = _resample(ref, rows, 1), _resample(ana, rows, 2)

    def theirs():
        est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="work_home_actual",
                       problem_type="classification_binary", chunk_number=1,
                       metrics=list(CBPE_METRICS))
        est.fit(ref)
        res = est.estimate(ana).filter(period="analysis").to_df()
        return {m: float(res[(m, "value")].iloc[0]) for m in CBPE_METRICS}

    def ours():
        y, s, p = (ref[c].to_numpy() for c in ("work_home_actual", "y_pred_proba", "y_pred"))
        calibrator = Calibrator.fit(y, s)
        components = binary_components(p, y, s)
        raw = ana["y_pred_proba"].to_numpy()
        out = binary_estimates(ana["y_pred"].to_numpy(), calibrator(raw), raw)
        errors = {m: components[m].error(len(ana)) for m in CBPE_METRICS}
        return {m: out[m] for m in CBPE_METRICS}, errors

    (mine, _errors), our_s = _timed(ours)
    their, their_s = _timed(theirs)
    diff = max(abs(mine[m] - their[m]) for m in CBPE_METRICS)
    return {"rows": rows, "raigov_s": round(our_s, 3), "nannyml_s": round(their_s, 3),
            "speedup": round(their_s / our_s, 2), "max_abs_diff": diff, "equal": diff < 1e-6,
            "raigov": mine, "nannyml": their}


def bench_reconstruction(nml, rows: int) -> dict:
    from raigov.monitors.drift_multivariate import Reconstruction, reconstruction_summary

    ref, ana, _ = nml.load_synthetic_car_loan_dataset()
    ref, ana = _resample(ref, rows, 3), _resample(ana, rows, 4)

    def theirs():
        calc = nml.DataReconstructionDriftCalculator(column_names=CAR_FEATURES, chunk_number=1)
        calc.fit(ref)
        res = calc.calculate(ana).filter(period="analysis").to_df()
        return float(res[("reconstruction_error", "value")].iloc[0])

    def ours():
        rec = Reconstruction.fit(ref, CAR_FEATURES)
        return reconstruction_summary(rec.errors(ana))[0]

    mine, our_s = _timed(ours)
    their, their_s = _timed(theirs)
    return {"rows": rows, "raigov_s": round(our_s, 3), "nannyml_s": round(their_s, 3),
            "speedup": round(their_s / our_s, 2), "raigov": mine, "nannyml": their,
            "equal": abs(mine - their) < 1e-6}


def bench_domain_classifier(nml, rows: int) -> dict:
    from raigov.monitors.drift_multivariate import domain_classifier_auc

    ref, ana, _ = nml.load_synthetic_car_loan_dataset()
    ref, ana = _resample(ref, rows, 5), _resample(ana.iloc[-10_000:], rows, 6)   # drifted part

    def theirs():
        from nannyml.drift.multivariate.domain_classifier.calculator import DEFAULT_LGBM_HYPERPARAMS

        calc = nml.DomainClassifierCalculator(   # LightGBM's defaults, quiet
            feature_column_names=CAR_FEATURES, chunk_number=1,
            hyperparameters={**DEFAULT_LGBM_HYPERPARAMS, "verbose": -1})
        calc.fit(ref)
        res = calc.calculate(ana).filter(period="analysis").to_df()
        return float(res[("domain_classifier_auroc", "value")].iloc[0])

    mine_full, full_s = _timed(lambda: domain_classifier_auc(ref, ana, CAR_FEATURES))
    sampled = ref.sample(n=min(10_000, len(ref)), random_state=0)
    mine, our_s = _timed(lambda: domain_classifier_auc(sampled, ana, CAR_FEATURES))
    their, their_s = _timed(theirs)
    return {"rows_a_side": rows, "raigov_full_reference_s": round(full_s, 3),
            "raigov_monitor_s": round(our_s, 3), "nannyml_s": round(their_s, 3),
            "speedup_full_reference": round(their_s / full_s, 2),
            "speedup_monitor": round(their_s / our_s, 2),
            "raigov_full_reference": mine_full, "raigov_monitor": mine, "nannyml": their,
            "equal": abs(mine_full - their) < 0.03}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dc-rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import nannyml as nml

    report = {"cbpe": bench_cbpe(nml, args.rows),
              "reconstruction_error": bench_reconstruction(nml, args.rows),
              "domain_classifier": bench_domain_classifier(nml, args.dc_rows),
              "cpus": os.cpu_count()}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
