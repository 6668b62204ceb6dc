"""Soak benchmark: steady traffic through ``raigov serve`` (with an API key), labels,
``raigov monitor run --every 1m`` (which compacts closed days before it computes) and
the dashboard's queries, all at once, for ``--minutes`` (default 10). Prints JSON with
pass or fail for each criterion.

Run: .venv/bin/python tests/benchmarks/bench_soak.py [--minutes 10] [--rate 20]
     [--rows 8] [--out bench-out/soak.json]

Everything runs as its own process, as a user runs it: ``raigov serve`` and ``raigov
monitor run --every 1m`` through the CLI, and a reader process calling the dashboard's
query functions (:mod:`raigov.dashboard.queries`, the cache dropped before each
round, so every read goes to the catalog and the lake). This process sends the
traffic from one thread: ``--rate`` predict requests a second of ``--rows`` held-out
rows each, a ``--backfill`` share of them dated yesterday (so a closed day keeps
receiving segments and every monitor run compacts it), and labels for ``--labelled``
of the acknowledged predictions, in batches, a second after they were served.

Criteria (each ``pass`` or ``fail`` in ``criteria``):

- ``no_lost_or_duplicated_rows``: after the server stops, every acknowledged
  prediction id is in the lake exactly once, every acknowledged label once, and no
  row is there that was not acknowledged;
- ``flat_memory``: for ``raigov serve`` and ``raigov monitor``, the peak RSS of the
  last minute is within 10% of the second minute's (the first is warm-up);
- ``files_bounded``: the closed day's most files (those its manifest lists, and those
  on disk) in the last minute are no more than in the second minute, plus 10% and 2;
- ``p99_stable``: the p99 latency of the last minute is within 1.5x of the second
  minute's.

It also reports, per minute, requests, p50 and p99 latency, how late the clients ran
against the schedule, RSS and the most files of the closed day and of today (today is compacted only once it closes, so its files grow
with every sealed segment: reported, not judged), and the reader's rounds and errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL = "credit-risk"
KEY_NAME = "soak-client"
SAMPLE_S = 5.0
MEMORY_TOLERANCE = 0.10
FILES_TOLERANCE = 0.10
FILES_SLACK = 2
P99_TOLERANCE = 1.5


# -- the home ------------------------------------------------------------------------
def build_home(root: Path):
    from raigov.home import Home
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model, label_values
    from raigov.models.registry import register_model

    home = Home.resolve(root / "home").ensure()
    demo = build_demo_model(MODEL, seed=0)
    save_artifact(root / "artifact", demo.trained)
    register_model(home, demo.spec, artifact=root / "artifact", reference=demo.reference)
    frame = demo.heldout[list(demo.spec.input_columns)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    truths = label_values(demo.heldout["y_true"].to_numpy(), demo.spec)
    return home, demo.spec, rows, truths


# -- processes -----------------------------------------------------------------------
def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def start_cli(home, args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "raigov.cli", *args,
                                 "--home", str(home.root)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(process: subprocess.Popen, timeout_s: float = 120) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# -- the reader (its own process: the dashboard's query functions in a loop) ---------
def reader_main(root: str, out: Path, stop_file: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    from raigov.dashboard import queries
    from raigov.dashboard.shape.predictions import PredictionFilter

    # Outside a Streamlit server the cache warns at every call; the reads are the same.
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

    rounds, errors, seconds, last_error = 0, 0, [], None
    while not stop_file.exists():
        started = time.perf_counter()
        try:
            queries.refresh()
            queries.fleet(root)
            queries.metrics(root, model=MODEL)
            queries.alerts(root)
            since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
            found = queries.predictions(root, MODEL, PredictionFilter(start=since, limit=200))
            if len(found):
                queries.prediction(root, MODEL, str(found["prediction_id"].iloc[0]))
            rounds += 1
            seconds.append(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the loop goes on
            errors += 1
            last_error = f"{type(exc).__name__}: {exc}"[:300]
            time.sleep(1)
    out.write_text(json.dumps({
        "rounds": rounds, "errors": errors, "last_error": last_error,
        "median_s": round(float(np.median(seconds)), 3) if seconds else None,
        "max_s": round(float(np.max(seconds)), 3) if seconds else None}))


# -- the traffic ---------------------------------------------------------------------
class Traffic:
    """Predictions at a steady rate (``clients`` threads, each with its own keep-alive
    connection, sending in turn) and labels a second after their predictions."""

    def __init__(self, server, spec, rows, truths, *, rate: float, rows_per_request: int,
                 backfill: float, labelled: float, clients: int = 4, seed: int = 0) -> None:
        self.server, self.spec, self.rows, self.truths = server, spec, rows, truths
        self.rate, self.n, self.backfill, self.labelled = rate, rows_per_request, backfill, labelled
        self.rng = random.Random(seed)
        self.acknowledged: list[str] = []
        self.labels_acknowledged: list[str] = []
        self.latencies: dict[int, list[float]] = defaultdict(list)   # minute -> seconds
        self.failures: dict[str, int] = defaultdict(int)
        self.behind_s: dict[int, float] = defaultdict(float)         # minute -> most late
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c, clients), daemon=True,
                                          name=f"soak-client-{c}") for c in range(clients)]

    def start(self, started: float) -> "Traffic":
        self.started = started
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _minute(self) -> int:
        return int((time.monotonic() - self.started) // 60)

    def _run(self, index: int, clients: int) -> None:
        pending: list[tuple[float, str, int]] = []   # (due, prediction id, row index)
        with self.server.client(timeout=60) as client:
            turn = 0
            while not self._stop.is_set():
                due = self.started + (turn * clients + index) / self.rate
                wait = due - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
                with self._lock:
                    minute = self._minute()
                    self.behind_s[minute] = max(self.behind_s[minute], -wait)
                turn += 1
                self._predict(client, pending)
                now = time.monotonic()
                ready = [p for p in pending if p[0] <= now]
                if len(ready) >= 32 or (ready and turn % max(1, int(self.rate / clients)) == 0):
                    pending = [p for p in pending if p[0] > now]
                    self._feedback(client, ready)
            if pending:
                self._feedback(client, pending)

    def _predict(self, client, pending: list) -> None:
        with self._lock:
            picked = [self.rng.randrange(len(self.rows)) for _ in range(self.n)]
            backfill = self.rng.random() < self.backfill
            keep = [self.rng.random() < self.labelled for _ in picked]
        body: dict = {"rows": [self.rows[k] for k in picked]}
        if backfill:
            body["timestamp"] = (dt.datetime.now(dt.timezone.utc)
                                 - dt.timedelta(days=1)).isoformat()
        started = time.perf_counter()
        try:
            response = client.post(f"/v1/models/{MODEL}/predict", json=body)
        except Exception as exc:  # noqa: BLE001 - counted: a failed request is no ack
            with self._lock:
                self.failures[type(exc).__name__] += 1
            return
        seconds = time.perf_counter() - started
        ids = [p["prediction_id"] for p in response.json()["predictions"]] \
            if response.status_code == 200 else []
        with self._lock:
            self.latencies[self._minute()].append(seconds)
            if response.status_code != 200:
                self.failures[f"predict HTTP {response.status_code}"] += 1
            self.acknowledged += ids
        due = time.monotonic() + 1.0
        pending += [(due, pid, k) for pid, k, yes in zip(ids, picked, keep) if yes]

    def _feedback(self, client, ready: list) -> None:
        body = {"labels": [{"prediction_id": pid, "label": self.truths[k]}
                           for _, pid, k in ready]}
        try:
            response = client.post(f"/v1/models/{MODEL}/feedback", json=body)
        except Exception as exc:  # noqa: BLE001 - counted
            with self._lock:
                self.failures[f"feedback {type(exc).__name__}"] += 1
            return
        with self._lock:
            if response.status_code != 200:
                self.failures[f"feedback HTTP {response.status_code}"] += 1
                return
            self.labels_acknowledged += [pid for _, pid, _ in ready]


# -- samples -------------------------------------------------------------------------
def day_files(home, table: str, day: dt.date) -> dict[str, int]:
    """Files of one model's partition for ``day``: listed by its manifest (what a
    reader reads) and on disk (``*.parquet``, superseded files not yet deleted too)."""
    from raigov.store.lake import partition_dir, partition_files

    directory = partition_dir(home, table, MODEL, day.isoformat())
    if not directory.is_dir():
        return {"visible": 0, "on_disk": 0}
    return {"visible": len(partition_files(directory)),
            "on_disk": sum(1 for _ in directory.glob("*.parquet"))}


class Sampler:
    """Every SAMPLE_S seconds: the RSS of each process and the files of each day."""

    def __init__(self, home, pids: dict[str, int], days: dict[str, dt.date]) -> None:
        self.home, self.pids, self.days = home, pids, days
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self, started: float) -> "Sampler":
        self.started = started
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            sample = {"t": time.monotonic() - self.started}
            for name, pid in self.pids.items():
                sample[f"rss_{name}"] = rss_bytes(pid)
            for label, day in self.days.items():
                sample[f"files_{label}"] = day_files(self.home, "predictions", day)
            self.samples.append(sample)


# -- the verdict ---------------------------------------------------------------------
def lake_counts(home) -> dict[str, dict[str, int]]:
    """Per table, how many times each id is in the lake (what every reader sees)."""
    from raigov.store.lake import lake_connection

    with lake_connection(home, model=MODEL) as con:
        out = {}
        for table in ("predictions", "feedback"):
            out[table] = dict(con.execute(
                f"SELECT prediction_id, count(*) FROM {table} GROUP BY 1").fetchall())
        out["quarantine_rows"] = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    return out


def compare(acknowledged: list[str], seen: dict[str, int]) -> dict[str, int]:
    acked = set(acknowledged)
    return {"acknowledged": len(acknowledged),
            "acknowledged_twice": len(acknowledged) - len(acked),
            "in_lake": sum(seen.values()),
            "lost": len(acked - set(seen)),
            "duplicated": sum(1 for k, n in seen.items() if n > 1),
            "not_acknowledged": len(set(seen) - acked)}


def per_minute(traffic: Traffic, samples: list[dict], minutes: int) -> list[dict]:
    rows = []
    for m in range(minutes):
        lat = np.array(traffic.latencies.get(m, [])) * 1000
        in_minute = [s for s in samples if m * 60 <= s["t"] < (m + 1) * 60]
        row: dict = {"minute": m + 1, "requests": len(lat),
                     "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
                     "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None}
        for name in ("serve", "monitor"):
            values = [s[f"rss_{name}"] for s in in_minute if s.get(f"rss_{name}")]
            row[f"rss_{name}_mb"] = round(max(values) / 2**20, 1) if values else None
        row["most_behind_schedule_s"] = round(traffic.behind_s.get(m, 0.0), 2)
        for label in ("closed_day", "today"):
            row[f"files_{label}_max"] = {
                kind: max((s[f"files_{label}"][kind] for s in in_minute), default=0)
                for kind in ("visible", "on_disk")}
        rows.append(row)
    return rows


def judge(minutes: list[dict], predictions: dict, labels: dict) -> dict[str, dict]:
    second, last = minutes[1], minutes[-1]

    def verdict(ok: bool, **figures) -> dict:
        return {"status": "pass" if ok else "fail", **figures}

    rows_ok = all(c[k] == 0 for c in (predictions, labels)
                  for k in ("lost", "duplicated", "not_acknowledged", "acknowledged_twice"))
    memory = {name: (second[f"rss_{name}_mb"], last[f"rss_{name}_mb"]) for name in ("serve", "monitor")}
    memory_ok = all(a and b and b <= a * (1 + MEMORY_TOLERANCE) for a, b in memory.values())
    files = {kind: (second["files_closed_day_max"][kind], last["files_closed_day_max"][kind])
             for kind in ("visible", "on_disk")}
    files_ok = all(b <= a * (1 + FILES_TOLERANCE) + FILES_SLACK for a, b in files.values())
    p99_ok = bool(second["p99_ms"] and last["p99_ms"]
                  and last["p99_ms"] <= second["p99_ms"] * P99_TOLERANCE)
    return {
        "no_lost_or_duplicated_rows": verdict(rows_ok, predictions=predictions, labels=labels),
        "flat_memory": verdict(memory_ok, tolerance=MEMORY_TOLERANCE, **{
            f"{n}_mb_second_vs_last_minute": list(v) for n, v in memory.items()}),
        "files_bounded": verdict(files_ok, tolerance=FILES_TOLERANCE, **{
            f"closed_day_{k}_second_vs_last_minute": list(v) for k, v in files.items()}),
        "p99_stable": verdict(p99_ok, tolerance=P99_TOLERANCE,
                              p99_ms_second_vs_last_minute=[second["p99_ms"], last["p99_ms"]]),
    }


# -- the run -------------------------------------------------------------------------
def soak(args) -> dict:
    from raigov.keys import create_key
    from raigov.models.serving.server_process import ServerProcess, free_port

    with tempfile.TemporaryDirectory() as tmp:
        home, spec, rows, truths = build_home(Path(tmp))
        token = create_key(home, KEY_NAME, scopes=("predict", "feedback", "backfill"),
                           actor="bench").token
        server = ServerProcess(home, free_port(), ("--durability", "sync"), token=token).start()
        monitor = start_cli(home, ["monitor", "run", "--every", "1m"], home.root / "monitor.log")
        stop_file = Path(tmp) / "stop-reader"
        reader_out = Path(tmp) / "reader.json"
        reader = subprocess.Popen([sys.executable, __file__, "--reader", str(home.root),
                                   "--reader-out", str(reader_out), "--stop-file", str(stop_file)],
                                  stdout=subprocess.DEVNULL, stderr=open(home.root / "reader.log", "ab"))
        today = dt.datetime.now(dt.timezone.utc).date()
        started = time.monotonic()
        sampler = Sampler(home, {"serve": server.process.pid, "monitor": monitor.pid},
                          {"closed_day": today - dt.timedelta(days=1), "today": today}).start(started)
        traffic = Traffic(server, spec, rows, truths, rate=args.rate, rows_per_request=args.rows,
                          backfill=args.backfill, labelled=args.labelled,
                          clients=args.clients).start(started)
        try:
            while time.monotonic() - started < args.minutes * 60:
                if server.process.poll() is not None or monitor.poll() is not None:
                    raise RuntimeError("raigov serve or monitor stopped early; see their logs")
                time.sleep(1)
        finally:
            traffic.stop()
            sampler.stop()
            stop_file.touch()
            reader.wait(timeout=300)
            monitor_code = stop(monitor)
            server.stop(timeout_s=120)
        if dt.datetime.now(dt.timezone.utc).date() != today:
            raise RuntimeError("the UTC day changed during the soak: run it again")
        counts = lake_counts(home)
        minutes = per_minute(traffic, sampler.samples, args.minutes)
        predictions = compare(traffic.acknowledged, counts["predictions"])
        labels = compare(traffic.labels_acknowledged, counts["feedback"])
        monitor_log = (home.root / "monitor.log").read_text(errors="replace")
        return {
            "load": {"minutes": args.minutes, "rate_per_s": args.rate, "rows_per_request": args.rows,
                     "backfill_share": args.backfill, "labelled_share": args.labelled,
                     "model": MODEL, "cpus": os.cpu_count(),
                     "load_average_at_end": list(os.getloadavg())},
            "criteria": judge(minutes, predictions, labels),
            "per_minute": minutes,
            "traffic": {"failures": dict(traffic.failures),
                        "quarantine_rows": counts["quarantine_rows"]},
            "reader": json.loads(reader_out.read_text()) if reader_out.exists() else None,
            "monitor": {"exit_code": monitor_code,
                        "runs": monitor_log.count("Z] run"),
                        "stopped_cleanly": "locks released" in monitor_log,
                        "log_tail": monitor_log[-600:]},
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=int, default=10, help="how long (at least 3)")
    p.add_argument("--rate", type=float, default=20.0, help="predict requests per second")
    p.add_argument("--rows", type=int, default=8, help="rows per predict request")
    p.add_argument("--clients", type=int, default=4,
                   help="client threads sharing the schedule (each its own connection)")
    p.add_argument("--backfill", type=float, default=0.2,
                   help="share of requests dated yesterday (a closed day)")
    p.add_argument("--labelled", type=float, default=0.8, help="share of predictions labelled")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--reader", help=argparse.SUPPRESS)
    p.add_argument("--reader-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--stop-file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.reader:
        return reader_main(args.reader, args.reader_out, args.stop_file)
    if args.minutes < 3:
        p.error("--minutes must be at least 3 (the first minute is warm-up; the second "
                "is the baseline the last is judged against)")
    result = soak(args)
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
