"""Benchmark: the whole monitor pass (every family, SHAP on a sample) on windows of 100k
and 1M predictions of the Adult demo model (resampled), per family; and on the same 1M
rows, Evidently's DataDriftPreset alone and fairlearn's MetricFrame for the same
fairness metrics. Prints JSON.

    .venv/bin/python tests/benchmarks/bench_monitors.py [--sizes 100000 1000000]
        [--kind binary|multiclass|regression|all]

``--kind multiclass`` / ``regression`` time the pass for those output kinds on the same
Adult rows: scikit-learn models predicting ``relationship`` (6 classes) and
``hours_per_week`` (``tests/monitors/kind_predictions.py``), with probabilities or
values in the lake's contract; ``all`` runs the three and reports each kind's pass
(families quality, drift, performance, fairness; explain has no network here) against
the binary pass without explain. Every family runs once on 2,000 rows before it is
timed (imports and lazy setup are paid once per process, not per window).

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

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("binary", "multiclass", "regression")
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


def prepare_kind(root: Path, kind: str, sizes: list[int]) -> None:
    """A scikit-learn model of ``kind`` on Adult; reference and windows as Parquet."""
    sys.path.insert(0, str(ROOT))
    from sklearn.linear_model import LogisticRegression, Ridge

    from raigov.models.datasets import load_adult
    from tests.monitors import kind_predictions as kp

    train, test = load_adult("train"), load_adult("test")
    multiclass = kind == "multiclass"
    numeric, categorical = ((kp.MC_NUMERIC, kp.MC_CATEGORICAL) if multiclass
                            else (kp.RG_NUMERIC, kp.RG_CATEGORICAL))
    target = "relationship" if multiclass else "hours_per_week"
    model = kp._model(numeric, categorical, LogisticRegression(max_iter=1000) if multiclass
                      else Ridge())
    model.fit(kp._inputs(train, numeric, categorical),
              train[target].astype(str) if multiclass else train[target].astype(float))
    rng = np.random.default_rng(0)
    spec = None
    for name, source in (("reference", train), ("window", test)):
        for n in sizes:
            rows = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
            frame = rows[list(dict.fromkeys(numeric + categorical + kp.SENSITIVE))].copy()
            for c in frame.select_dtypes("string").columns:
                frame[c] = frame[c].astype(object)
            x = kp._inputs(rows, numeric, categorical)
            if multiclass:
                proba = model.predict_proba(x)
                frame["label"], frame["score"] = proba.argmax(axis=1), proba.max(axis=1)
                frame["probabilities"] = list(proba)
                index = {c: i for i, c in enumerate(kp.CLASSES)}
                frame["y_true"] = rows[target].astype(str).map(index).astype(float)
            else:
                frame["value"] = model.predict(x)
                frame["y_true"] = rows[target].astype(float)
            frame["prediction_id"] = [f"p{i}" for i in range(n)]
            frame.to_parquet(root / f"{kind}-{name}-{n}.parquet")
            spec = spec or kp.kind_window(frame, kind).spec
    (root / f"spec-{kind}.json").write_text(spec.model_dump_json())


def part_kind(root: Path, n: int, kind: str) -> dict:
    """The monitor pass of a multiclass or regression model (every family that
    applies to the kind)."""
    import datetime as dt

    from raigov.models.spec import ModelSpec
    from raigov.monitors.base import WindowData
    from raigov.monitors.builtin import load_builtin_monitors
    from raigov.monitors.reference_profile import build_reference_profile

    spec = ModelSpec.model_validate_json((root / f"spec-{kind}.json").read_text())
    reference = pd.read_parquet(root / f"{kind}-reference-{n}.parquet")
    frame = pd.read_parquet(root / f"{kind}-window-{n}.parquet")
    started = time.perf_counter()
    profile = build_reference_profile(reference, spec=spec)
    profile_s = time.perf_counter() - started
    now = dt.datetime.now(dt.timezone.utc)
    window = WindowData(spec=spec, version=1, start=now, end=now, frame=frame,
                        reference=reference, reference_profile=profile)
    families, rows = {}, 0
    monitors = {f: c for f, c in load_builtin_monitors().items()
                if kind in getattr(c, "output_kinds", KINDS) and f != "explain"}
    warm_up(window, monitors)
    for family, cls in monitors.items():
        started = time.perf_counter()
        rows += len(cls().run(window))
        families[family] = round(time.perf_counter() - started, 2)
    return {"rows": n, "per_family_s": families, "total_s": round(sum(families.values()), 2),
            "profile_build_s": round(profile_s, 2), "metric_rows": rows, "peak_rss_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, which a child
    inherits from its parent at fork, it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def warm_up(window, monitors: dict) -> None:
    """Run each family once on 2,000 rows first, so a family's time is its work on the
    window, not the first import of the libraries it uses (the runner pays those once
    per process, not once per window)."""
    import dataclasses

    small = dataclasses.replace(window, frame=window.frame.iloc[:2000])
    for cls in monitors.values():
        cls().run(small)


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
    warm_up(window, monitors)
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


def run_part(part: str, root: Path, n: int, kind: str = "binary") -> dict:
    done = subprocess.run([sys.executable, __file__, "--part", part, "--root", str(root),
                           "--n", str(n), "--kind", kind], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def kind_results(root: Path, kinds: list[str], sizes: list[int], binary: dict | None) -> dict:
    """Each non-binary kind's pass, and its ratio to the binary pass without explain."""
    out: dict = {}
    for kind in kinds:
        prepare_kind(root, kind, sizes)
        out[kind] = {n: run_part("kind", root, n, kind) for n in sizes}
    if binary is not None:
        biggest = max(sizes)
        base = binary[biggest]["total_s"] - binary[biggest]["per_family_s"].get("explain", 0)
        out["binary_pass_without_explain_s"] = round(base, 2)
        out["ratio_to_binary_pass"] = {k: round(out[k][biggest]["total_s"] / base, 2)
                                       for k in kinds}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--kind", choices=[*KINDS, "all"], default="binary")
    p.add_argument("--part", choices=["raigov", "baseline", "kind"])
    p.add_argument("--root", type=Path)
    p.add_argument("--n", type=int)
    args = p.parse_args()
    if args.part:
        if args.part == "kind":
            print(json.dumps(part_kind(args.root, args.n, args.kind)))
            return
        fn = part_raigov if args.part == "raigov" else part_baseline
        print(json.dumps(fn(args.root, args.n)))
        return
    others = [k for k in KINDS[1:] if args.kind in (k, "all")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.kind not in ("binary", "all"):
            print(json.dumps({"kinds": kind_results(root, others, args.sizes, None)}, indent=2))
            return
        prepare(root, args.sizes)
        result = {"raigov": {n: run_part("raigov", root, n) for n in args.sizes}}
        biggest = max(args.sizes)
        result["baseline"] = {biggest: run_part("baseline", root, biggest)}
        ours = result["raigov"][biggest]
        result["speedup_whole_pass_vs_evidently_plus_metricframe"] = round(
            result["baseline"][biggest]["total_s"] / ours["total_s"], 1)
        without_explain = ours["total_s"] - ours["per_family_s"].get("explain", 0)
        result["speedup_without_explain"] = round(result["baseline"][biggest]["total_s"] / without_explain, 1)
        if others:
            result["kinds"] = kind_results(root, others, args.sizes, result["raigov"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
