"""Benchmark: request latency with capture off vs sync vs async, and capture's ingest
rate. Prints JSON. Run: .venv/bin/python tests/benchmarks/bench_serving.py

All three serving modes run in one invocation on the same home, model and load, so
their ratios are comparable; absolute times on a shared 2-core machine are noise.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd


def build_home(root: Path):
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model
    from raigov.home import Home

    home = Home.resolve(root / "home").ensure()
    demo = build_demo_model("income-classifier", seed=0)
    save_artifact(root / "artifact", demo.trained)
    register_model(home, demo.spec, artifact=root / "artifact", reference=demo.reference)
    frame = demo.heldout[list(demo.spec.input_columns)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return home, demo.spec, rows


def load(url: str, model: str, rows: list[dict], *, clients: int, batch: int,
         seconds: float) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed: int) -> int:
        rng, sent = random.Random(seed), 0
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.monotonic() < deadline:
                body = {"rows": rng.sample(rows, batch)}
                t = time.perf_counter()
                r = c.post(f"/v1/models/{model}/predict", json=body)
                took = time.perf_counter() - t
                r.raise_for_status()
                with lock:
                    latencies.append(took)
                sent += batch
        return sent

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(client, range(clients)))
    elapsed = time.monotonic() - started
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rows_per_s": round(total / elapsed),
            "median_ms": round(float(np.median(lat)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2)}


def serving_modes(home, spec, rows, args) -> dict:
    from raigov.models.server_process import ServerProcess, free_port

    modes = {"off": ("--no-capture",), "sync": ("--durability", "sync"),
             "async": ("--durability", "async")}
    out = {}
    for _round in range(args.rounds):            # interleave modes to spread the noise
        for mode, extra in modes.items():
            with ServerProcess(home, free_port(), extra) as server:
                load(server.url, spec.name, rows, clients=args.clients, batch=args.batch, seconds=1)
                res = load(server.url, spec.name, rows, clients=args.clients,
                           batch=args.batch, seconds=args.seconds)
            out.setdefault(mode, []).append(res)
    summary = {m: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
               for m, runs in out.items()}
    for mode in ("sync", "async"):
        summary[mode]["median_vs_off"] = round(summary[mode]["median_ms"] / summary["off"]["median_ms"], 3)
    return summary


def ingest_rate(spec, rows, *, batch_rows: int, batches: int, threads: int) -> dict:
    from raigov.models.capture import CaptureWriter
    from raigov.models.output_kinds import Outputs
    from raigov.models.records import prediction_table
    from raigov.home import Home

    frame = pd.DataFrame(rows[:batch_rows])
    scores = np.random.default_rng(0).random(batch_rows)
    tables = [prediction_table(spec, 1, frame, Outputs(label=(scores > .5).astype(np.int64), score=scores))[0]
              for _ in range(batches)]
    with tempfile.TemporaryDirectory() as tmp:
        with CaptureWriter(Home.resolve(tmp)) as writer:
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda t: writer.append(t, lake_table="predictions", model=spec.name), tables))
            acknowledged = time.perf_counter() - started
            writer.flush()
            sealed = time.perf_counter() - started
    n = batch_rows * batches
    return {"rows": n, "batch_rows": batch_rows, "threads": threads,
            "acknowledged_rows_per_s": round(n / acknowledged),
            "sealed_rows_per_s": round(n / sealed)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--batch", type=int, default=64, help="rows per request (batch load)")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, spec, rows = build_home(Path(tmp))
        result = {"load": {"clients": args.clients, "rows_per_request": args.batch,
                           "seconds": args.seconds, "rounds": args.rounds},
                  "serving": serving_modes(home, spec, rows, args),
                  "ingest": ingest_rate(spec, rows, batch_rows=1000, batches=300, threads=4)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
