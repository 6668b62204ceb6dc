"""Benchmark: capture into a lake on S3 against the same capture into the home's local
``lake/``, in rows per second. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_capture_s3.py [--rounds 3] [--batches 300]

The S3 endpoint is a real SeaweedFS server on loopback (``tests/s3_endpoint.py``, the
one the tests use). Each round writes the same prediction batches (held-out Adult rows
of the income-classifier, ``--batch-rows`` rows each) from ``--threads`` threads through
``CaptureWriter`` into a fresh home, as ``raigov serve`` does: ``acknowledged`` is the
time until every batch was fsynced to the spool (the client's answer), ``sealed`` the
time until the spool was sealed into Parquet segments in the lake (published objects on
S3, files on disk locally). Rounds alternate the two lakes, so a busy neighbour hits
both alike; figures are medians of the rounds with the min and max, and the ratio
S3 / local is taken per round (paired).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import s3_endpoint  # noqa: E402  (after the path insert)
from tests.benchmarks.bench_serving import build_home  # noqa: E402


def batches(spec, rows: list[dict], *, batch_rows: int, count: int) -> list:
    from raigov.models.capture.records import prediction_table
    from raigov.models.output_kinds import Outputs

    frame = pd.DataFrame((rows * (batch_rows // len(rows) + 1))[:batch_rows])
    scores = np.random.default_rng(0).random(batch_rows)
    outputs = Outputs(label=(scores > .5).astype(np.int64), score=scores)
    return [prediction_table(spec, 1, frame, outputs)[0] for _ in range(count)]


def one_round(tables: list, model: str, threads: int, lake_url: str | None) -> dict:
    from raigov.home import Home
    from raigov.models.capture.writer import CaptureWriter

    old = os.environ.pop("RAIGOV_LAKE_URL", None)
    if lake_url:
        os.environ["RAIGOV_LAKE_URL"] = lake_url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Home.resolve(Path(tmp) / "home").ensure()
            with CaptureWriter(home, compact_closed_days=False) as writer:   # capture only
                started = time.perf_counter()
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda t: writer.append(t, lake_table="predictions",
                                                          model=model), tables))
                acknowledged = time.perf_counter() - started
                writer.flush()
                sealed = time.perf_counter() - started
    finally:
        os.environ.pop("RAIGOV_LAKE_URL", None)
        if old is not None:
            os.environ["RAIGOV_LAKE_URL"] = old
    n = sum(t.num_rows for t in tables)
    return {"acknowledged_rows_per_s": n / acknowledged, "sealed_rows_per_s": n / sealed}


def spread(values: list[float], digits: int = 0) -> dict:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="rounds per lake (alternated)")
    p.add_argument("--batches", type=int, default=300, help="batches per round")
    p.add_argument("--batch-rows", type=int, default=1000, help="rows per batch")
    p.add_argument("--threads", type=int, default=4, help="writing threads")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "RAIGOV_SIGNING_KEY_FILE" not in os.environ:   # signed as a real home is
            from raigov.ledger.signing import generate_private_key, write_private_key

            key = Path(tmp) / "signing.pem"
            write_private_key(key, generate_private_key())
            os.environ["RAIGOV_SIGNING_KEY_FILE"] = str(key)
        _, spec, rows, _ = build_home(Path(tmp) / "model")
        tables = batches(spec, rows, batch_rows=args.batch_rows, count=args.batches)
        server = s3_endpoint.start(Path(tmp) / "s3")
        saved = {k: os.environ.get(k) for k in server.endpoint.environment()}
        os.environ.update(server.endpoint.environment())
        try:
            results: dict[str, list[dict]] = {"local": [], "s3": []}
            for k in range(args.rounds):
                order = ("local", "s3") if k % 2 == 0 else ("s3", "local")
                for lake in order:
                    url = server.endpoint.fresh_lake_url("bench") if lake == "s3" else None
                    results[lake].append(one_round(tables, spec.name, args.threads, url))
        finally:
            server.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    figures = {lake: {name: spread([r[name] for r in rounds])
                      for name in ("acknowledged_rows_per_s", "sealed_rows_per_s")}
               for lake, rounds in results.items()}
    ratios = {name: spread([s[name] / l[name] for s, l in zip(results["s3"], results["local"])],
                           digits=2)
              for name in ("acknowledged_rows_per_s", "sealed_rows_per_s")}
    print(json.dumps({"rows_per_round": args.batches * args.batch_rows,
                      "batch_rows": args.batch_rows, "threads": args.threads,
                      "rounds": args.rounds, "cpus": os.cpu_count(), **figures,
                      "s3_over_local": ratios}, indent=2))


if __name__ == "__main__":
    main()
