"""Benchmark: the whole monitor pass (every family, SHAP on a sample) on windows of 100k
and 1M predictions of the Adult demo model (resampled), per family; and on the same 1M
rows, Evidently's DataDriftPreset alone and fairlearn's MetricFrame for the same
fairness metrics. Prints JSON.

    .venv/bin/python tests/benchmarks/bench_monitors.py [--sizes 100000 1000000]

Each part runs in its own process so its peak memory (VmHWM) is its own. The
reference is as large as the window (1M resampled training rows for the 1M window),
which is where Evidently is slowest; raigov builds its reference profile once per
version (reported apart as ``profile_build_s``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FAIRNESS_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate",
                    "false_negative_rate", "accuracy")


def prepare(root: Path, sizes: list[int]) -> None:
    """Train the Adult model once; write reference and windows as Parquet."""
    from raigov.models.artifact import save_artifact
    from raigov.models.datasets import load_adult
    from raigov.models.demo_models import build_demo_model

    demo = build_demo_model("income-classifier", seed=0)
    save_artifact(root / "artifact", demo.trained)
    (root / "spec.json").write_text(demo.spec.model_dump_json())
    rng = np.random.default_rng(0)
    columns = list(demo.spec.input_columns)
    train, test = load_adult("train"), load_adult("test")
    for name, source, label in (("reference", train, "income"), ("window", test, "income")):
        for n in sizes:
            rows = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
            frame = rows[columns].copy()
            for c in frame.select_dtypes("string").columns:
                frame[c] = frame[c].astype(object)
            scores = demo.trained.predict_proba(frame)
            frame["score"], frame["label"] = scores, (scores >= 0.5).astype(np.int64)
            frame["y_true"] = rows[label].astype(float)
            frame["prediction_id"] = [f"p{i}" for i in range(n)]
            frame.to_parquet(root / f"{name}-{n}.parquet")


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, which a child
    inherits from its parent at fork, it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def part_raigov(root: Path, n: int) -> dict:
    import datetime as dt

    from raigov.models.spec import ModelSpec
    from raigov.monitors.base import WindowData
    from raigov.monitors.builtin import load_builtin_monitors
    from raigov.monitors.reference_profile import build_reference_profile

    spec = ModelSpec.model_validate_json((root / "spec.json").read_text())
    reference = pd.read_parquet(root / f"reference-{n}.parquet")
    frame = pd.read_parquet(root / f"window-{n}.parquet")
    started = time.perf_counter()
    profile = build_reference_profile(reference, spec=spec)
    profile_s = time.perf_counter() - started
    now = dt.datetime.now(dt.timezone.utc)
    window = WindowData(spec=spec, version=1, start=now, end=now, frame=frame,
                        reference=reference, artifact_dir=root / "artifact",
                        reference_profile=profile)
    families, rows = {}, 0
    monitors = load_builtin_monitors()
    for family, cls in monitors.items():
        started = time.perf_counter()
        rows += len(cls().run(window))
        families[family] = round(time.perf_counter() - started, 2)
    return {"rows": n, "per_family_s": families, "total_s": round(sum(families.values()), 2),
            "profile_build_s": round(profile_s, 2), "metric_rows": rows, "peak_rss_mb": _peak_mb()}


def part_baseline(root: Path, n: int) -> dict:
    import warnings

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    from fairlearn.metrics import (MetricFrame, count, false_negative_rate,
                                   false_positive_rate, selection_rate, true_positive_rate)
    from sklearn.metrics import accuracy_score

    from raigov.models.spec import ModelSpec

    spec = ModelSpec.model_validate_json((root / "spec.json").read_text())
    reference = pd.read_parquet(root / f"reference-{n}.parquet")
    frame = pd.read_parquet(root / f"window-{n}.parquet")
    columns = list(spec.input_columns) + ["score"]
    numeric = [c for c in spec.input_columns if spec.inputs.column(c).dtype in ("int", "float")]
    definition = DataDefinition(numerical_columns=numeric + ["score"],
                                categorical_columns=[c for c in spec.input_columns if c not in numeric])
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Report([DataDriftPreset(columns=columns)]).run(
            Dataset.from_pandas(frame[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition))
    evidently_s = time.perf_counter() - started
    labelled = frame[frame["y_true"].notna()]
    metrics = {"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate,
               "false_negative_rate": false_negative_rate, "accuracy": accuracy_score, "count": count}
    started = time.perf_counter()
    for attr in spec.sensitive:
        mf = MetricFrame(metrics=metrics, y_true=labelled["y_true"].astype(int),
                         y_pred=labelled["label"], sensitive_features=labelled[attr])
        mf.difference(), mf.ratio()
    fairlearn_s = time.perf_counter() - started
    return {"rows": n, "evidently_data_drift_s": round(evidently_s, 2),
            "fairlearn_metricframe_s": round(fairlearn_s, 2),
            "total_s": round(evidently_s + fairlearn_s, 2), "peak_rss_mb": _peak_mb()}


def run_part(part: str, root: Path, n: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--part", part, "--root", str(root),
                           "--n", str(n)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--part", choices=["raigov", "baseline"])
    p.add_argument("--root", type=Path)
    p.add_argument("--n", type=int)
    args = p.parse_args()
    if args.part:
        fn = part_raigov if args.part == "raigov" else part_baseline
        print(json.dumps(fn(args.root, args.n)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepare(root, args.sizes)
        result = {"raigov": {n: run_part("raigov", root, n) for n in args.sizes}}
        biggest = max(args.sizes)
        result["baseline"] = {biggest: run_part("baseline", root, biggest)}
        ours = result["raigov"][biggest]
        result["speedup_whole_pass_vs_evidently_plus_metricframe"] = round(
            result["baseline"][biggest]["total_s"] / ours["total_s"], 1)
        without_explain = ours["total_s"] - ours["per_family_s"].get("explain", 0)
        result["speedup_without_explain"] = round(result["baseline"][biggest]["total_s"] / without_explain, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
