"""Benchmark: the read cost of encrypted lake segments. The same predictions (Adult-like
columns, sensitive ``sex`` and ``race`` encrypted) are written as plain and as encrypted
segments (``--segments`` files per window); for each, the time to open
``lake_connection`` (plain: DuckDB views over the files; encrypted: pyarrow decrypts
every segment and DuckDB scans the Arrow rows) and run a fairness-style query
(selection rate by sex and race) plus a full fetch of the window. Prints JSON.

    .venv/bin/python tests/benchmarks/bench_lake_encryption.py [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
QUERY = ("SELECT sex, race, avg(label) AS rate, count(*) AS n FROM predictions "
         "GROUP BY ALL ORDER BY ALL")


def window(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = dt.datetime(2026, 5, 4, tzinfo=dt.timezone.utc)
    return pa.table({
        "prediction_id": [f"p{i}" for i in range(n)],
        "version": pa.array(np.ones(n, np.int32)),
        "ts": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
        "label": pa.array(rng.integers(0, 2, n)), "score": pa.array(rng.random(n)),
        "age": pa.array(rng.integers(17, 90, n)),
        "hours_per_week": pa.array(rng.integers(1, 99, n)),
        "education": pa.array(rng.choice(["HS", "Bachelors", "Masters", "Some"], n)),
        "sex": pa.array(rng.choice(["Female", "Male"], n)),
        "race": pa.array(rng.choice(["White", "Black", "Asian", "Other"], n)),
    })


def build(home, table: pa.Table, segments: int, *, encrypt: list[str] | None) -> None:
    from raigov.store.lake import partition_dir
    from raigov.store.parquet_crypto import write_options

    directory = partition_dir(home, "predictions", "m", "2026-05-04")
    directory.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // segments)
    for i in range(segments):
        part = table.slice(i * step, step)
        pq.write_table(part, directory / f"{i:05d}.parquet",
                       **write_options(home, encrypt=encrypt, columns=part.column_names))


def measure(home, repeats: int = 3) -> dict[str, float]:
    from raigov.store.lake import lake_connection

    best = {"open_and_query_s": float("inf"), "fetch_all_s": float("inf")}
    for _ in range(repeats):
        started = time.perf_counter()
        with lake_connection(home, model="m") as con:
            con.execute(QUERY).fetchall()
            queried = time.perf_counter()
            con.sql("SELECT * FROM predictions").to_arrow_table()
            fetched = time.perf_counter()
        best["open_and_query_s"] = min(best["open_and_query_s"], queried - started)
        best["fetch_all_s"] = min(best["fetch_all_s"], fetched - started)
    return {k: round(v, 3) for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--segments", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from raigov.home import Home

    os.environ["RAIGOV_DATA_KEY"] = secrets.token_hex(32)
    os.environ.pop("RAIGOV_DATA_KEY_FILE", None)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            table = window(n)
            row = {"rows": n, "segments": args.segments}
            for name, encrypt in (("plain", None), ("encrypted", ["sex", "race"])):
                home = Home.resolve(Path(tmp) / f"{name}-{n}").ensure()
                build(home, table, args.segments, encrypt=encrypt)
                row[name] = measure(home)
            row["query_overhead_x"] = round(row["encrypted"]["open_and_query_s"]
                                            / row["plain"]["open_and_query_s"], 2)
            results.append(row)
    print(json.dumps({"benchmark": "lake_encryption_read", "results": results}, indent=2))


if __name__ == "__main__":
    main()
