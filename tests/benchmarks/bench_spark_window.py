"""Benchmark: one large window on the DuckDB engine and on Spark (``--engine spark``).

A home with the credit-risk demo model holds one day (one daily window) of N
predictions, half of them labelled, compacted to one file per table as ``monitor run``
leaves a closed day. For each N, in a fresh child process each (so memory is the
engine's own):

- ``duckdb``: ``run_monitors(families=("fairness",))``: the window's rows are read into
  the monitor process and counted there;
- ``spark``: the same with ``SparkEngine("local[2]")``: Spark SQL counts the window's
  cells where the rows lie; only the cell table reaches the driver. Spark's start-up
  (a JVM) is timed apart.

Printed as JSON: seconds and peak resident memory (the child and its JVM) per engine
and size, the Spark/DuckDB time ratio, and the growth of time with rows (time at the
largest size over time at the smallest, against the rows' ratio). A size whose DuckDB
child fails (e.g. out of memory) is reported as such, not left out.

Run: .venv/bin/python tests/benchmarks/bench_spark_window.py [--rows 1000000,10000000]
     [--work DIR] [--out bench-out/spark_window.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MODEL = "credit-risk"
DAY = dt.date(2026, 3, 2)
CHUNK = 500_000
FAMILIES = ("fairness",)


def _now() -> dt.datetime:
    return dt.datetime.combine(DAY + dt.timedelta(days=2), dt.time(12), dt.timezone.utc)


def build(home_dir: Path, rows: int) -> float:
    """The home with ``rows`` predictions on DAY; returns the seconds it took."""
    import numpy as np

    from raigov.home import Home
    from raigov.models.artifact import save_artifact
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model
    from raigov.store.compaction import compact

    started = time.perf_counter()
    demo = build_demo_model(MODEL, seed=0)
    home = Home.resolve(home_dir).ensure()
    artifact = home_dir.parent / f"{home_dir.name}-artifact"
    save_artifact(artifact, demo.trained)
    register_model(home, demo.spec, artifact=artifact, reference=demo.reference)
    inputs = demo.heldout[list(demo.spec.input_columns)]
    rng = np.random.default_rng(0)
    ts = dt.datetime.combine(DAY, dt.time(12), dt.timezone.utc)
    with PredictionLogger(MODEL, home=home) as log:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            part = inputs.iloc[rng.integers(0, len(inputs), n)].reset_index(drop=True)
            scores = rng.random(n)
            ids = log.log_predictions(part, labels=(scores >= .5).astype(int), scores=scores,
                                      timestamp=ts).prediction_ids
            k = n // 2
            log.log_feedback(ids[:k], (rng.random(k) >= .5).astype(int).tolist(),
                             received_at=ts + dt.timedelta(hours=6))
    compact(home, model=MODEL, now=_now())
    return time.perf_counter() - started


def measure(home_dir: Path, engine: str) -> dict:
    """One engine's run on the home (in this process); prints its JSON."""
    from raigov.home import Home
    from raigov.monitors.runner import run_monitors

    home = Home.resolve(home_dir)
    spark, startup = None, 0.0
    if engine == "spark":
        from raigov.monitors.spark_engine import SparkEngine

        started = time.perf_counter()
        spark = SparkEngine("local[2]")
        startup = time.perf_counter() - started
    started = time.perf_counter()
    results = run_monitors(home, families=FAMILIES, force=True, now=_now(), engine=spark)
    seconds = time.perf_counter() - started
    if spark is not None:
        spark.close()
    rows = [r for result in results for r in result.rows]
    size = next(r for r in rows if r.metric == "fairness.group_size" and r.segment == "sex=male")
    return {"seconds": round(seconds, 2), "startup_s": round(startup, 2),
            "windows": len(results), "metric_rows": len(rows),
            "check_group_size_male": size.value}


def _child(home_dir: Path, engine: str) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, __file__, "--measure", engine, "--home",
                           str(home_dir)], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        return {"failed": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["peak_rss_mib"] = round(max(peak, before) / 1024)   # the largest child so far
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/raigov-bench-spark"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--measure", choices=("duckdb", "spark"), default=None)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.home, args.measure)))
        return
    import shutil

    sizes = [int(s) for s in args.rows.split(",")]
    report: dict = {"families": list(FAMILIES), "spark_master": "local[2]", "sizes": {}}
    for rows in sizes:
        shutil.rmtree(args.work, ignore_errors=True)
        home = args.work / f"home-{rows}"   # a new path: the catalog schema is per path
        entry = {"build_s": round(build(home, rows), 1)}
        entry["duckdb"] = _child(home, "duckdb")
        entry["spark"] = _child(home, "spark")
        d, s = entry["duckdb"].get("seconds"), entry["spark"].get("seconds")
        if d and s:
            entry["spark_over_duckdb"] = round(s / d, 2)
            entry["same_counts"] = (entry["duckdb"]["check_group_size_male"]
                                    == entry["spark"]["check_group_size_male"])
        report["sizes"][str(rows)] = entry
        print(json.dumps({str(rows): entry}), file=sys.stderr)
    small, large = str(sizes[0]), str(sizes[-1])
    for engine in ("duckdb", "spark"):
        a = report["sizes"][small][engine].get("seconds")
        b = report["sizes"][large][engine].get("seconds")
        if a and b and len(sizes) > 1:
            report[f"{engine}_time_growth"] = round(b / a, 2)
    report["rows_growth"] = sizes[-1] / sizes[0]
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
