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

Sizes above ``--base`` rows (10M) are built from the base home: its compacted files are
copied as further segments of the same day with every ``prediction_id`` made unique
(label joins stay one to one), so 100M rows take minutes to build, not hours of
logging; the rows' distribution is the base's repeated.

Printed as JSON: seconds and peak resident memory (the child's whole process tree,
Spark's JVM included, sampled every 0.2 s from /proc) per engine and size, the
Spark/DuckDB time ratio, and the growth of time with rows (time at the largest size
over time at the smallest, against the rows' ratio). The DuckDB child runs under an
address-space limit (``--duckdb-limit-gib``, default 16 of this machine's 24) so that
reading too many rows into one process fails in that child, reported as such, instead
of taking the machine down.

Run: .venv/bin/python tests/benchmarks/bench_spark_window.py [--rows 10000000,100000000]
     [--work DIR] [--out bench-out/spark_window.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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
BASE = 10_000_000
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


def replicate(home_dir: Path, first: int, last: int) -> float:
    """Copies ``first`` to ``last - 1`` of the home's base prediction and feedback files,
    as plain segments of the same partitions, each copy's ``prediction_id`` suffixed
    ``-k``; returns the seconds it took."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from raigov.home import Home
    from raigov.store.lake import partition_files, partitions, read_parquet_table, write_parquet

    started = time.perf_counter()
    home = Home.resolve(home_dir)
    for table in ("predictions", "feedback"):
        for directory in partitions(home, table, MODEL):
            base = [p for p in partition_files(directory) if not p.name.startswith("x")]
            for path in base:
                rows = read_parquet_table([path], home=home)
                ids = rows.column("prediction_id")
                for k in range(first, last):
                    copy = rows.set_column(rows.schema.get_field_index("prediction_id"),
                                           "prediction_id",
                                           pc.binary_join_element_wise(ids, pa.scalar(f"{k}"), "-"))
                    write_parquet(copy, directory / f"x{k:03d}-{path.stem}.parquet", home=home)
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


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (from /proc), in MiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21])   # pages
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(home_dir: Path, engine: str, limit_gib: float | None) -> dict:
    def limit() -> None:
        if limit_gib:
            cap = int(limit_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    process = subprocess.Popen([sys.executable, __file__, "--measure", engine, "--home",
                                str(home_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=limit)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mib(process.pid))
        time.sleep(0.2)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        return {"failed": f"exit {process.returncode}: {stderr.strip()[-300:]}",
                "peak_rss_mib": round(peak), "limit_gib": limit_gib}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_rss_mib"] = round(peak)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000000,100000000")
    parser.add_argument("--base", type=int, default=BASE,
                        help="rows logged for real; larger sizes replicate them")
    parser.add_argument("--duckdb-limit-gib", type=float, default=16.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/raigov-bench-spark"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--measure", choices=("duckdb", "spark"), default=None)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.home, args.measure)))
        return
    import shutil

    sizes = sorted(int(s) for s in args.rows.split(","))
    if "RAIGOV_SIGNING_KEY_FILE" not in os.environ:   # signed as a real home is
        from raigov.ledger.signing import generate_private_key, write_private_key

        args.work.mkdir(parents=True, exist_ok=True)
        key = args.work.parent / f"{args.work.name}-signing.pem"
        write_private_key(key, generate_private_key())
        os.environ["RAIGOV_SIGNING_KEY_FILE"] = str(key)
    report: dict = {"families": list(FAMILIES), "spark_master": "local[2]", "sizes": {}}
    shutil.rmtree(args.work, ignore_errors=True)
    home = args.work / "home"
    base = min(sizes[0], args.base)
    build_s = build(home, base)
    built = base
    for rows in sizes:
        if rows % base:
            raise SystemExit(f"--rows {rows} is not a multiple of the base {base}")
        entry = {"build_s": round(build_s, 1)} if rows == base else {}
        if rows != built:
            entry["replicate_s"] = round(replicate(home, built // base, rows // base), 1)
            built = rows
        entry["duckdb"] = _child(home, "duckdb", args.duckdb_limit_gib)
        entry["spark"] = _child(home, "spark", None)
        d, s = entry["duckdb"].get("seconds"), entry["spark"].get("seconds")
        if s:
            entry["check_group_size_male"] = entry["spark"]["check_group_size_male"]
        if d and s:
            entry["spark_over_duckdb"] = round(s / d, 2)
            entry["same_counts"] = (entry["duckdb"]["check_group_size_male"]
                                    == entry["spark"]["check_group_size_male"])
        report["sizes"][str(rows)] = entry
        print(json.dumps({str(rows): entry}), file=sys.stderr, flush=True)
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
