"""Benchmark: catalog units of work per second under 1, 2, 4 and 8 concurrent writer
processes, on a throwaway PostgreSQL server (tests/pg_cluster.py) and on the home's
DuckDB file. Each unit is what a serving host's kill-switch or key-use write costs:
open, one INSERT, one ledger event, commit, close (the checkpoint writer off).
Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_catalog_pg.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORKER = textwrap.dedent("""
    import sys, time
    from raigov.home import Home
    from raigov.store.catalog import catalog, _LEDGER_LISTENERS
    from raigov.ledger.chain import append_event
    import raigov.ledger.checkpoints
    _LEDGER_LISTENERS.clear()          # measure the catalog, not checkpoint signing
    home, name, until = Home.resolve(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    with catalog(home, read_only=True):
        pass
    n = 0
    while time.time() < until:
        with catalog(home) as con:
            con.execute("INSERT INTO model_status VALUES (?, 1, true, 'bench', ?, now())",
                        [name, name])
            append_event(con, "bench.unit", actor=name, subject=name, payload={"n": n})
        n += 1
    print(n)
""")


def run(url: str | None, writers: int, seconds: float, tmp: Path) -> dict:
    env = dict(os.environ)
    env.pop("RAIGOV_CATALOG_URL", None)
    if url:
        env["RAIGOV_CATALOG_URL"] = url
    home = tmp / f"home-{writers}-{bool(url)}"
    script = tmp / "worker.py"
    script.write_text(WORKER)
    until = time.time() + 3 + seconds       # start-up (imports) before the clock
    start = until - seconds
    procs = [subprocess.Popen([sys.executable, str(script), str(home), f"w{k}", str(until)],
                              env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
             for k in range(writers)]
    counts = [int(p.communicate()[0].strip() or 0) for p in procs]
    elapsed = max(time.time(), until) - start
    return {"writers": writers, "units": sum(counts),
            "units_per_s": round(sum(counts) / seconds, 1), "per_writer": counts,
            "window_s": round(elapsed, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    from tests import pg_cluster

    cluster = pg_cluster.start()
    out = {"machine_cores": os.cpu_count(), "seconds": args.seconds, "postgresql": [],
           "duckdb_file": []}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for writers in (1, 2, 4, 8):
                out["postgresql"].append(run(cluster.create_database(), writers,
                                             args.seconds, tmp))
                out["duckdb_file"].append(run(None, writers, args.seconds, tmp))
    finally:
        cluster.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
