"""Benchmark: does a year of data cost more than a month? Two homes with 2 models each,
one holding 365 days (compacted: one file per day, table and model), one 30 days; on
each, the time of

- ``monitor run`` after one new day of traffic arrives (compaction check, incremental
  window discovery, the new day's window computed), and
- the dashboard's prediction-explorer query for the newest day
  (``raigov.dashboard.shape.predictions.find_predictions``),

the ratio year / month printed as JSON. Target: the ratio is about 1 (the year is no
slower than 30 days): reads open only the asked days' partitions, discovery scans only
changed partitions.

Run: .venv/bin/python tests/benchmarks/bench_year.py [--rows-per-day 200] [--rounds 3]
     [--work DIR] [--out bench-out/year.json]

Traffic is held-out rows of the demo models written with ``PredictionLogger`` (one
segment per day and table), 80% labelled the day after. Monitors run with the
``quality`` family only, so the figure is the lake's cost, not the metrics'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MODELS = ("credit-risk", "credit-risk-b")
FAMILIES = ("quality",)
START = dt.date(2025, 1, 6)


def _build(home_dir: Path, days: int, rows: int, demo) -> None:
    import numpy as np

    from raigov.home import Home
    from raigov.models.artifact import save_artifact
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.registry import register_model
    from raigov.monitors.runner import run_monitors

    home = Home.resolve(home_dir).ensure()
    save_artifact(home_dir.parent / f"{home_dir.name}-artifact", demo.trained)
    for name in MODELS:
        spec = demo.spec.model_copy(update={"name": name})
        register_model(home, spec, artifact=home_dir.parent / f"{home_dir.name}-artifact",
                       reference=demo.reference)
    inputs = demo.heldout[list(demo.spec.input_columns)]
    rng = np.random.default_rng(0)
    for name in MODELS:
        with PredictionLogger(name, home=home) as log:
            for d in range(days):
                _day(log, inputs, rng, START + dt.timedelta(days=d), rows)
    run_monitors(home, families=FAMILIES, now=_now(days))   # compacts, computes every window
    run_monitors(home, families=FAMILIES, now=_now(days))   # settles


def _now(days: int) -> dt.datetime:
    return dt.datetime.combine(START + dt.timedelta(days=days), dt.time(23), dt.timezone.utc)


def _day(log, inputs, rng, day: dt.date, rows: int) -> None:
    idx = rng.integers(0, len(inputs), rows)
    part = inputs.iloc[idx].reset_index(drop=True)
    scores = rng.random(rows)
    ts = dt.datetime.combine(day, dt.time(12), dt.timezone.utc)
    ids = log.log_predictions(part, labels=(scores >= .5).astype(int), scores=scores,
                              timestamp=ts).prediction_ids
    k = int(rows * 0.8)
    log.log_feedback(ids[:k], (rng.random(k) >= .5).astype(int).tolist(),
                     received_at=ts + dt.timedelta(days=1))


def _measure(template: Path, work: Path, days: int, rows: int, demo, rounds: int) -> dict:
    import numpy as np

    from raigov.dashboard.shape.predictions import PredictionFilter, find_predictions
    from raigov.home import Home
    from raigov.models.capture.logger import PredictionLogger
    from raigov.monitors.runner import run_monitors

    runs, queries = [], []
    inputs = demo.heldout[list(demo.spec.input_columns)]
    for r in range(rounds):
        copy = work / f"round-{r}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(template, copy)
        home = Home.resolve(copy)
        new_day = START + dt.timedelta(days=days)
        with PredictionLogger(MODELS[0], home=home) as log:
            _day(log, inputs, np.random.default_rng(r + 1), new_day, rows)
        t0 = time.perf_counter()
        done = run_monitors(home, families=FAMILIES, now=_now(days) + dt.timedelta(days=1))
        runs.append(time.perf_counter() - t0)
        assert [k.key.start.date() for k in done] == [new_day], done
        start = dt.datetime.combine(new_day, dt.time(0), dt.timezone.utc)
        t0 = time.perf_counter()
        found = find_predictions(home, MODELS[0], PredictionFilter(
            start=start, end=start + dt.timedelta(days=1)))
        queries.append(time.perf_counter() - t0)
        assert len(found) == min(rows, 200)
        shutil.rmtree(copy, ignore_errors=True)
    return {"days": days, "monitor_run_s": statistics.median(runs),
            "dashboard_query_s": statistics.median(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--month-days", type=int, default=30)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "year-work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "year.json")
    args = parser.parse_args()
    from raigov.models.demo_models import build_demo_model

    demo = build_demo_model("credit-risk", seed=0)
    args.work.mkdir(parents=True, exist_ok=True)
    result = {"rows_per_day": args.rows_per_day, "models": len(MODELS)}
    for label, days in (("year", args.year_days), ("month", args.month_days)):
        template = args.work / f"{label}-home"
        if not (template / "catalog.duckdb").exists():
            shutil.rmtree(template, ignore_errors=True)
            t0 = time.perf_counter()
            _build(template, days, args.rows_per_day, demo)
            print(f"built {label} home ({days} days) in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
        result[label] = _measure(template, args.work, days, args.rows_per_day, demo, args.rounds)
    result["ratio_monitor_run"] = result["year"]["monitor_run_s"] / result["month"]["monitor_run_s"]
    result["ratio_dashboard_query"] = (result["year"]["dashboard_query_s"]
                                       / result["month"]["dashboard_query_s"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
