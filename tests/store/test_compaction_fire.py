"""Compaction under fire: writers append through the real capture writer, readers
count, compaction runs, and each of them is SIGKILLed in turn at random points.
Every read sees each row at most once and never loses a row it saw before; at the end
every acknowledged row is read exactly once, each closed day is one file per table and
model, and ``raigov audit verify`` passes."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raigov.home import Home
from tests import lake_files

MODEL = "credit-risk"

WRITER = r"""
import datetime as dt, os, sys
from raigov.models.capture.logger import PredictionLogger
from raigov.models.registry import get_model
home, name, acked = sys.argv[1], sys.argv[2], sys.argv[3]
rows = __import__("pandas").read_parquet(sys.argv[4])
day = dt.datetime.now(dt.timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
n = sum(1 for _ in open(acked)) if os.path.exists(acked) else 0
with PredictionLogger("credit-risk", home=home) as log, open(acked, "a") as out:
    batch = 0
    while True:
        ids = [f"{name}-{n}-{batch}-{i}" for i in range(len(rows))]
        log.log_predictions(rows, labels=[0] * len(rows), scores=[0.2] * len(rows),
                            prediction_ids=ids, timestamp=day + dt.timedelta(seconds=batch))
        out.write("\n".join(ids) + "\n"); out.flush(); os.fsync(out.fileno())   # acknowledged
        log.writer.flush()            # seal now: many small segments for compaction
        batch += 1
"""

READER = r"""
import sys, time
from raigov.home import Home
from raigov.store.lake import lake_connection
home, report = Home.resolve(sys.argv[1]), sys.argv[2]
seen = set()
with open(report, "a") as out:
    while True:
        with lake_connection(home, model="credit-risk") as con:
            ids = [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]
        now = set(ids)
        if len(now) != len(ids):
            out.write(f"FAIL duplicate rows: {len(ids) - len(now)}\n")
        if not seen <= now:
            out.write(f"FAIL lost rows: {len(seen - now)}\n")
        seen = now
        out.write(f"ok {len(ids)}\n"); out.flush()
"""

COMPACTOR = r"""
import sys, time
from raigov.home import Home
from raigov.store.compaction import compact
home = Home.resolve(sys.argv[1])
while True:
    compact(home, target_bytes=1 << 30)
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_compaction_under_fire(tmp_path: Path) -> None:
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model
    from raigov.store.lake import lake_connection, partition_files, partitions

    demo = build_demo_model(MODEL, seed=0)
    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", demo.trained)
    register_model(home, demo.spec, artifact=tmp_path / "artifact", reference=demo.reference)
    rows = tmp_path / "rows.parquet"
    demo.heldout[list(demo.spec.input_columns)].iloc[:20].to_parquet(rows)
    acked, report = tmp_path / "acked.txt", tmp_path / "reader.txt"
    scripts = {"writer": [WRITER, str(home.root), "w", str(acked), str(rows)],
               "reader": [READER, str(home.root), str(report)],
               "compactor": [COMPACTOR, str(home.root)]}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen] = {}

    def start(role: str, generation: int) -> None:
        code, *args = scripts[role]
        if role == "writer":
            args[1] = f"w{generation}"
        with open(tmp_path / f"{role}.log", "a") as log:
            procs[role] = subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                                           stderr=log)

    rng = random.Random(7)

    def progress(role: str) -> int:
        """How far a process got: batches acknowledged, reads done (compactor: none)."""
        path = {"writer": acked, "reader": report}.get(role)
        return len(path.read_text().splitlines()) if path and path.exists() else 0

    for role in scripts:
        start(role, 0)
    kills = {role: 0 for role in scripts}
    try:
        deadline = time.monotonic() + 40
        generation = 0
        while time.monotonic() < deadline:
            for role in ("writer", "compactor", "reader"):
                # Let the process get going (a loaded machine starts Python slowly), then
                # kill it at a random point of its work.
                before, waited = progress(role), time.monotonic()
                while role != "compactor" and progress(role) <= before \
                        and time.monotonic() - waited < 60:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 1.5))
                procs[role].send_signal(signal.SIGKILL)
                procs[role].wait(timeout=30)
                kills[role] += 1
                generation += 1
                start(role, generation)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

    # What the killed writers left in their spool slots is sealed (crash recovery), then
    # one last compaction.
    from raigov.models.capture.writer import CaptureWriter
    from raigov.store.compaction import compact
    CaptureWriter(home).start().close()
    compact(home)

    lines = report.read_text().splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    assert sum(line.startswith("ok") for line in lines) >= 5
    assert min(kills.values()) >= 3
    acknowledged = acked.read_text().split()
    assert len(acknowledged) >= 200 and len(set(acknowledged)) == len(acknowledged)
    with lake_connection(home, model=MODEL) as con:
        ids = [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]
    assert len(ids) == len(set(ids))                       # nothing twice
    assert set(acknowledged) <= set(ids)                   # nothing acknowledged lost
    # Each closed day: one visible file per table and model, and nothing else left over.
    closed = [d for d in partitions(home, "predictions", MODEL)
              if d.name < f"date={dt.datetime.now(dt.timezone.utc).date()}"]
    assert closed
    from raigov.store.lake import read_manifest
    assert max(read_manifest(d)["generation"] for d in closed) >= 3   # compacted under fire
    for directory in closed:
        assert len(partition_files(directory)) == 1
        assert len(lake_files.parquet_names(directory)) == 1
    verify = subprocess.run([sys.executable, "-m", "raigov.cli", "audit", "verify", "--home",
                             str(home.root)], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
