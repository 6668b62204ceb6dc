"""Benchmark: fleet-speed monitoring. Per-window time of raigov's monitor run
(``monitor_and_evaluate``: every family, findings and alerts recorded) against an
anchor on the same windows in the same run: Evidently 0.7's ``Report`` with the drift
preset and the task's quality preset (``ClassificationPreset`` for classifiers,
``RegressionPreset`` for regression), plus fairlearn's ``MetricFrame`` by each
sensitive attribute. Prints JSON.

Two parts:

- ``demo``: the windows of a seeded demo home (``raigov demo --no-dashboard``: 4
  models x ``--demo-days`` daily windows; the shipped 15-day scenario gives 60), all
  recomputed (``force``);
- ``fleet``: ``--models`` copies of the demo's credit-risk model, each with
  ``--hours`` hourly windows of ``--rows`` predictions (default 100 x 24 x 1,000),
  the shipped policy packs in force.

Run: .venv/bin/python tests/benchmarks/bench_fleet.py [--models 100] [--hours 24]
     [--rows 1000] [--demo-days 15] [--demo-home DIR] [--anchor-windows 8]
     [--parts demo fleet] [--work DIR] [--out bench-out/fleet.json]

``--anchor-windows`` times the anchor on that many of the part's windows (evenly
spread; 0: all). raigov's time per window includes reading the window from the lake
and committing its rows, findings and alerts; the anchor's starts from the frames in
memory. ``--demo-home`` reuses a seeded home (export its ``RAIGOV_DATA_KEY_FILE``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FLEET_MODEL = "credit-risk"
PACKS = ("data-quality", "drift-limits", "performance-floors", "fairness-four-fifths",
         "fairness-equalized-odds")
START = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)


# anchor ----------------------------------------------------------------------------
def anchor_window(window) -> float:
    """Seconds of Evidently's drift + quality presets and fairlearn's MetricFrame on
    one window against its version's reference."""
    import pandas as pd
    from evidently import (BinaryClassification, DataDefinition, Dataset,
                           MulticlassClassification, Regression, Report)
    from evidently.presets import ClassificationPreset, DataDriftPreset, RegressionPreset
    from fairlearn.metrics import MetricFrame, count, selection_rate
    from sklearn.metrics import accuracy_score, mean_absolute_error

    spec = window.spec
    inputs = list(spec.input_columns)
    numeric = [c for c in inputs if spec.inputs.column(c).dtype in ("int", "float")]
    kind = spec.output_kind
    output = {"binary": "score", "multiclass": "label", "regression": "value"}[kind]
    current = window.labelled
    reference = window.reference
    if not {"y_true", output, "label"} <= set(reference) and kind != "regression" \
            or not {"y_true", output} <= set(reference):
        reference = current                   # no labelled outputs: the window itself
    columns = inputs + [output, "y_true"]

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        out = df[columns].copy()
        for c in out.columns:
            if str(out[c].dtype) in ("string", "str"):
                out[c] = out[c].astype(object)
        if kind != "regression":
            out["y_true"] = out["y_true"].astype(int)
            out["label"] = df["label"].astype(int)
        return out

    task = {"binary": {"classification": [BinaryClassification(
                target="y_true", prediction_labels="label", prediction_probas="score",
                pos_label=1)]},
            "multiclass": {"classification": [MulticlassClassification(
                target="y_true", prediction_labels="label")]},
            "regression": {"regression": [Regression(target="y_true", prediction="value")]}}
    definition = DataDefinition(
        numerical_columns=numeric + ([output] if kind != "multiclass" else [])
        + (["y_true"] if kind == "regression" else []),
        categorical_columns=[c for c in inputs if c not in numeric]
        + (["label", "y_true"] if kind != "regression" else []),
        **task[kind])
    quality = RegressionPreset() if kind == "regression" else ClassificationPreset()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Report([DataDriftPreset(columns=inputs + [output]), quality]).run(
            Dataset.from_pandas(frame(current), data_definition=definition),
            Dataset.from_pandas(frame(reference), data_definition=definition))
        if kind == "regression":
            metrics = {"mae": mean_absolute_error, "count": count}
            y_true, y_pred = current["y_true"], current["value"]
        else:
            metrics = {"selection_rate": selection_rate, "accuracy": accuracy_score,
                       "count": count}
            y_true, y_pred = current["y_true"].astype(int), current["label"].astype(int)
            if kind == "multiclass":
                metrics.pop("selection_rate")
        for attr in spec.sensitive:
            mf = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                             sensitive_features=current[attr])
            mf.difference(), mf.ratio()
    return time.perf_counter() - started


def time_anchor(home, keys, n: int) -> dict:
    from raigov.monitors.runner import load_window
    from raigov.monitors.version_state import VersionStates

    chosen = keys if n <= 0 or n >= len(keys) else [keys[round(i * (len(keys) - 1) / (n - 1))]
                                                  for i in range(n)] if n > 1 else keys[:1]
    states = VersionStates(home)
    windows = [load_window(home, k, states=states) for k in chosen]
    anchor_window(windows[0])                  # imports and lazy set-up paid once
    seconds = [anchor_window(w) for w in windows]
    return {"windows": len(seconds), "mean_s": statistics.fmean(seconds),
            "median_s": statistics.median(seconds),
            "mean_rows": statistics.fmean(len(w.frame) for w in windows)}


# raigov ----------------------------------------------------------------------------
def time_raigov(home) -> dict:
    from raigov.policies.pipeline import monitor_and_evaluate

    started = time.perf_counter()
    run = monitor_and_evaluate(home, force=True, actor="bench")
    seconds = time.perf_counter() - started
    windows = len(run.windows)
    explain = [r.details.get("ms_per_row") for w in run.windows for r in w.rows
               if r.metric == "explain.attribution_shift" and r.details.get("ms_per_row")]
    return {"windows": windows, "total_s": seconds, "per_window_s": seconds / max(windows, 1),
            "findings": len(run.findings), "metric_rows": sum(len(w.rows) for w in run.windows),
            "explain_ms_per_row_median": statistics.median(explain) if explain else None}


def family_times(home, keys, n: int) -> dict:
    """Per family, the mean seconds of its ``run`` on ``n`` of the windows (warm)."""
    from raigov.monitors.base import serves_kind
    from raigov.monitors.builtin import load_builtin_monitors
    from raigov.monitors.runner import load_window
    from raigov.monitors.version_state import VersionStates

    states = VersionStates(home)
    chosen = keys[:max(1, n)] if n > 0 else keys
    windows = [load_window(home, k, states=states) for k in chosen]
    out = {}
    for family, cls in load_builtin_monitors().items():
        usable = [w for w in windows if serves_kind(cls, w.spec.output_kind)]
        if not usable:
            continue
        cls().run(usable[0])                   # warm: imports, fitted explainer
        started = time.perf_counter()
        for w in usable:
            cls().run(w)
        out[family] = (time.perf_counter() - started) / len(usable)
    return out


# homes -----------------------------------------------------------------------------
def build_demo_home(work: Path, days: int) -> tuple[Path, Path]:
    home = work / "demo-home"
    key = work / "demo-home.data-key"
    if not (home / "catalog.duckdb").exists():
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "raigov.cli", "demo", "--home", str(home),
                        "--no-dashboard", "--days", str(days), "--end-date", "2026-11-30"],
                       check=True, stdout=subprocess.DEVNULL)
    return home, key


def build_fleet_home(path: Path, models: int, hours: int, rows: int) -> None:
    import numpy as np

    from raigov.home import Home
    from raigov.models.artifact import save_artifact
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model

    demo = build_demo_model(FLEET_MODEL, seed=0)
    home = Home.resolve(path).ensure()
    artifact = path.parent / f"{path.name}-artifact"
    save_artifact(artifact, demo.trained)
    monitoring = demo.spec.monitoring.model_copy(update={"window": "1h"})
    names = [f"{FLEET_MODEL}-{i:03d}" for i in range(models)]
    for name in names:
        register_model(home, demo.spec.model_copy(update={"name": name, "monitoring": monitoring}),
                       artifact=artifact, reference=demo.reference)
    home.policies.mkdir(exist_ok=True)
    for pack in PACKS:
        shutil.copy(ROOT / "policies" / "packs" / f"{pack}.yaml", home.policies)
    inputs = demo.heldout[list(demo.spec.input_columns)]
    truth = demo.heldout["y_true"].to_numpy()
    rng = np.random.default_rng(0)
    for name in names:
        with PredictionLogger(name, home=home) as log:
            for h in range(hours):
                idx = rng.integers(0, len(inputs), rows)
                part = inputs.iloc[idx].reset_index(drop=True)
                scores = demo.trained.predict_proba(part) if hasattr(
                    demo.trained, "predict_proba") else rng.random(rows)
                scores = np.asarray(scores, dtype=float).reshape(rows, -1)[:, -1]
                ts = START + dt.timedelta(hours=h, minutes=30)
                ids = log.log_predictions(part, labels=(scores >= .5).astype(int),
                                          scores=scores, timestamp=ts).prediction_ids
                k = int(rows * 0.8)
                log.log_feedback(ids[:k], truth[idx[:k]].astype(int).tolist(),
                                 received_at=ts + dt.timedelta(minutes=20))


def pending(home) -> list:
    from raigov.models.registry import list_models
    from raigov.monitors.runner import pending_windows

    return [k for m in list_models(home)
            for k in pending_windows(home, m.name, window=m.spec.monitoring.window, force=True)]


def measure(home_dir: Path, work: Path, label: str, anchor_n: int) -> dict:
    from raigov.home import Home

    copy = work / f"{label}-run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home_dir, copy)
    home = Home.resolve(copy)
    keys = pending(home)
    ours = time_raigov(home)
    theirs = time_anchor(home, keys, anchor_n)
    families = family_times(home, keys, anchor_n)
    shutil.rmtree(copy, ignore_errors=True)
    return {"raigov": ours, "anchor": theirs, "per_family_s": families,
            "speedup_vs_anchor": theirs["mean_s"] / ours["per_window_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--demo-days", type=int, default=15)
    parser.add_argument("--demo-home", type=Path)
    parser.add_argument("--anchor-windows", type=int, default=8)
    parser.add_argument("--parts", nargs="+", default=["demo", "fleet"],
                        choices=["demo", "fleet"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "fleet-work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "fleet.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"load_average_1m_at_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    if "demo" in args.parts:
        if args.demo_home:
            home = args.demo_home
        else:
            home, key = build_demo_home(args.work, args.demo_days)
            os.environ["RAIGOV_DATA_KEY_FILE"] = str(key)
        result["demo"] = measure(home, args.work, "demo", args.anchor_windows)
    if "fleet" in args.parts:
        template = args.work / f"fleet-{args.models}x{args.hours}x{args.rows}"
        if not (template / "catalog.duckdb").exists():
            shutil.rmtree(template, ignore_errors=True)
            started = time.perf_counter()
            build_fleet_home(template, args.models, args.hours, args.rows)
            print(f"built the fleet home in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
        result["fleet"] = {"models": args.models, "hours": args.hours, "rows": args.rows,
                           **measure(template, args.work, "fleet", args.anchor_windows)}
    result["load_average_1m_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
