"""Benchmark: ``raigov serve`` against a plain FastAPI endpoint running the same model,
capture off vs sync vs async, and capture's own ingest rate. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_serving.py [--seconds 4] [--rounds 5]

Every configuration runs as its own server process, all started once and kept up for
the whole run; the rounds interleave them (each round starts one configuration later),
so a noisy neighbour on a shared machine hits every configuration alike. Configurations:

- ``plain``: a plain FastAPI app under uvicorn (same settings as ``raigov serve``: one
  worker, uvloop and httptools, the same torch threads) that parses the JSON, builds a
  pandas frame and calls the same artifact's model (or, with ``--plain-program
  export``, its ``torch.export`` program), answering label and score per row;
- ``sync`` / ``async``: ``raigov serve`` with validation, micro-batching and capture
  (fsync before the response, or not);
- ``off``: ``raigov serve`` with capture off (``--no-capture``);
- ``nokeys`` (with ``--auth-pair``): ``sync`` without API keys (``--no-auth``), the
  other half of the keys-on / keys-off pair (``sync_vs_nokeys``); the pair is also
  measured side by side, both servers loaded at the same moment
  (``auth_pair_together``), which a busy machine moves less than two turns.

Every request carries an ``Authorization: Bearer`` header with a real key of the home
(servers without keys ignore it), so the pair differs only in the server checking it.

Loads: ``--clients`` concurrent keep-alive connections, each sending ``--batch``-row
requests of held-out Adult rows (``batch``), and the same with request sizes drawn from
``MIXED_SIZES`` (``mixed``). The clients are a small asyncio HTTP/1.1 client in this
process sending pre-encoded bodies; their own CPU time is reported (``client_cpu``, the
share of one core) with the capacity of the client against a route that does no work
(``client_capacity``), so the client is shown not to be the bottleneck. ``server_cpu_ms
_per_1k_rows`` is the server process's CPU time per thousand rows (less noisy than wall
time on a shared machine; its paired ratio is in ``ratios``, beside latency's). Figures
per configuration are medians of the rounds, with the
min and max; ratios are taken per round (paired) and then summarised the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request   # module level: the plain app's annotations resolve here
from fastapi.responses import ORJSONResponse, Response

MODEL = "income-classifier"
MIXED_SIZES = (1, 4, 16, 64, 256)
RAIGOV_CONFIGS = {"off": ("--no-capture",), "sync": ("--durability", "sync"),
                  "async": ("--durability", "async"),
                  "nokeys": ("--durability", "sync", "--no-auth")}
KEY_NAME = "bench-client"
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


# -- the home and the plain endpoint ---------------------------------------------------
def build_home(root: Path):
    from raigov.home import Home
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model

    home = Home.resolve(root / "home").ensure()
    demo = build_demo_model(MODEL, seed=0)
    save_artifact(root / "artifact", demo.trained)
    register_model(home, demo.spec, artifact=root / "artifact", reference=demo.reference)
    frame = demo.heldout[list(demo.spec.input_columns)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return home, demo.spec, rows, root / "artifact"


def plain_app(artifact: Path, *, program: str):
    """The baseline: what a user writes without raigov, on the same model."""
    import torch

    from raigov.models.artifact import load_artifact
    from raigov.models.tabular import sigmoid

    loaded = load_artifact(artifact, device="cpu")
    forward = loaded.logits
    if program == "export":
        forward = _exported_forward(loaded)
    torch.set_num_threads(max(1, min(4, (os.cpu_count() or 2) - 1)))  # as raigov serve
    columns = loaded.preprocessor.features
    app = FastAPI(default_response_class=ORJSONResponse)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/null")
    async def null(request: Request) -> Response:   # the client's capacity
        await request.body()
        return Response(b'{"predictions":[]}', media_type="application/json")

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, request: Request) -> ORJSONResponse:
        payload = orjson.loads(await request.body())
        scores = sigmoid(forward(pd.DataFrame(payload["rows"], columns=columns)))
        return ORJSONResponse({"model": name, "predictions": [
            {"label": int(s >= 0.5), "score": float(s)} for s in scores]})

    return app


def _exported_forward(loaded):
    import torch

    x = torch.zeros(8, loaded.preprocessor.n_encoded)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    program = torch.export.export(loaded.module, (x,), dynamic_shapes=({0: batch},)).module()

    def forward(frame: pd.DataFrame) -> np.ndarray:
        encoded = torch.from_numpy(np.ascontiguousarray(loaded.preprocessor.transform(frame),
                                                        dtype=np.float32))
        with torch.inference_mode():
            return program(encoded).reshape(-1).double().numpy()

    return forward


def serve_plain(artifact: Path, port: int, program: str) -> None:
    import uvicorn

    uvicorn.run(plain_app(artifact, program=program), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


class PlainProcess:
    def __init__(self, artifact: Path, port: int, program: str, log: Path) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        cmd = [sys.executable, __file__, "--plain-server", str(artifact), "--port", str(port),
               "--plain-program", program]
        with open(log, "ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _wait_ready(self.url, self.process, log)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server {url} did not start: {log.read_text()[-2000:]}")


# -- the client ----------------------------------------------------------------------
def request_bytes(path: str, body: bytes, token: str | None = None) -> bytes:
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"{auth}content-length: {len(body)}\r\n\r\n")
    return head.encode() + body


def make_requests(rows: list[dict], sizes: tuple[int, ...], *, seed: int, count: int = 64,
                  path: str = f"/v1/models/{MODEL}/predict",
                  token: str | None = None) -> list[tuple[bytes, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.choice(sizes)
        out.append((request_bytes(path, orjson.dumps({"rows": rng.sample(rows, n)}), token), n))
    return out


async def _one_client(port: int, requests: list[tuple[bytes, int]], deadline: float,
                      latencies: list[float], check: bool) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rows, i = 0, 0
    try:
        while time.monotonic() < deadline:
            data, n = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(int(_LENGTH.search(head).group(1)))
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200":
                raise RuntimeError(f"HTTP {head[9:12].decode()}: {body[:300]!r}")
            if check and len(orjson.loads(body)["predictions"]) != n:
                raise RuntimeError("a response does not hold one prediction per row")
            rows += n
    finally:
        writer.close()
    return rows


def load(port: int, per_client: list[list[tuple[bytes, int]]], *, seconds: float,
         check: bool = True) -> dict:
    """Closed-loop load: each client sends its next request when the last is answered."""
    latencies: list[float] = []

    async def run() -> int:
        deadline = time.monotonic() + seconds
        done = await asyncio.gather(*(_one_client(port, reqs, deadline, latencies, check)
                                      for reqs in per_client))
        return sum(done)

    cpu, wall = time.process_time(), time.monotonic()
    rows = asyncio.run(run())
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rows_per_s": round(rows / wall),
            "median_ms": round(float(np.median(lat)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "client_cpu": round(cpu / wall, 3), "rows": rows}


def load_together(targets: dict[str, tuple[int, list[list[tuple[bytes, int]]]]], *,
                  seconds: float) -> dict[str, dict]:
    """Closed-loop load against several servers at the same time (name -> port and
    per-client requests), so every one meets the same machine: the same neighbours,
    the same moment. Per server: its figures as :func:`load` gives them."""
    latencies: dict[str, list[float]] = {name: [] for name in targets}

    async def run() -> dict[str, int]:
        deadline = time.monotonic() + seconds
        names = [n for n, (_, per_client) in targets.items() for _ in per_client]
        done = await asyncio.gather(*(
            _one_client(port, reqs, deadline, latencies[name], True)
            for name, (port, per_client) in targets.items() for reqs in per_client))
        rows: dict[str, int] = dict.fromkeys(targets, 0)
        for name, n in zip(names, done):
            rows[name] += n
        return rows

    wall = time.monotonic()
    rows = asyncio.run(run())
    wall = time.monotonic() - wall
    out = {}
    for name, lat in latencies.items():
        ms = np.array(lat) * 1000
        out[name] = {"requests": len(ms), "rows_per_s": round(rows[name] / wall),
                     "median_ms": round(float(np.median(ms)), 2),
                     "p99_ms": round(float(np.percentile(ms, 99)), 2), "rows": rows[name]}
    return out


def concurrent_pair(servers: dict, requests: dict, loads: dict, args) -> dict:
    """Keys on and off under the same load at the same moment, round after round:
    each server gets ``--clients`` connections; CPU per 1,000 rows is each server
    process's own (from /proc), so the pair's ratio is not moved by a neighbour who
    comes and goes between two measurements."""
    pair = {name: servers[name] for name in ("sync", "nokeys")}
    results: dict[str, dict[str, list[dict]]] = {n: {c: [] for c in pair} for n in loads}
    for _ in range(args.rounds):
        for load_name in loads:
            before = {name: process_cpu_s(s.process.pid) for name, s in pair.items()}
            res = load_together({name: (s.port, requests[load_name]) for name, s in pair.items()},
                                seconds=args.seconds)
            for name, s in pair.items():
                res[name]["client_cpu"] = 0.0
                res[name]["server_cpu_ms_per_1k_rows"] = round(
                    (process_cpu_s(s.process.pid) - before[name]) * 1e6 / res[name]["rows"], 1)
                results[load_name][name].append(res[name])
    return {n: summarise(per_config) for n, per_config in results.items()}


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the run -------------------------------------------------------------------------
def serving(home, rows: list[dict], artifact: Path, args) -> dict:
    from raigov.keys import create_key
    from raigov.models.serving.server_process import ServerProcess, free_port

    configs = [c for c in args.configs.split(",") if c]
    if args.auth_pair and "nokeys" not in configs:
        configs.append("nokeys")
    token = create_key(home, KEY_NAME, scopes=("predict",), actor="bench").token
    loads = {"batch": (args.batch,), "mixed": MIXED_SIZES}
    requests = {name: [make_requests(rows, sizes, seed=1000 * k + c, token=token)
                       for c in range(args.clients)]
                for k, (name, sizes) in enumerate(loads.items())}
    servers: dict[str, object] = {}
    try:
        for name in configs:
            if name == "plain":
                servers[name] = PlainProcess(artifact, free_port(), args.plain_program,
                                             home.root / "plain.log")
            else:
                servers[name] = ServerProcess(home, free_port(), RAIGOV_CONFIGS[name],
                                              token=token).start()
        capacity = _client_capacity(servers, rows, args) if "plain" in servers else None
        for name, server in servers.items():                       # warm every path once
            for load_name in loads:
                load(server.port, requests[load_name], seconds=1)
        results: dict[str, dict[str, list[dict]]] = {n: {c: [] for c in configs} for n in loads}
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for name in order:
                pid = servers[name].process.pid
                for load_name in loads:
                    before = process_cpu_s(pid)
                    res = load(servers[name].port, requests[load_name], seconds=args.seconds)
                    res["server_cpu_ms_per_1k_rows"] = round(
                        (process_cpu_s(pid) - before) * 1e6 / res["rows"], 1)
                    results[load_name][name].append(res)
        together = concurrent_pair(servers, requests, loads, args) if args.auth_pair else None
    finally:
        for server in servers.values():
            server.stop()
    out = {"client_capacity": capacity,
           **{n: summarise(per_config) for n, per_config in results.items()}}
    if together is not None:
        out["auth_pair_together"] = together
    return out


def _client_capacity(servers: dict, rows: list[dict], args) -> dict:
    body = [[(request_bytes("/null", orjson.dumps({"rows": rows[:args.batch]})), 0)]
            for _ in range(args.clients)]
    res = load(servers["plain"].port, body, seconds=2, check=False)
    return {"requests_per_s": round(res["requests"] / 2), "client_cpu": res["client_cpu"],
            "note": "the client against a route that does no work (same clients, same bodies)"}


FIGURES = ("rows_per_s", "median_ms", "p99_ms", "server_cpu_ms_per_1k_rows", "client_cpu")
# Paired per round. The server's CPU per 1,000 rows resists a loaded machine better than
# latency: a neighbour's work delays our requests but does not add to our CPU time.
RATIO_FIGURES = ("rows_per_s", "median_ms", "p99_ms", "server_cpu_ms_per_1k_rows")


def summarise(per_config: dict[str, list[dict]]) -> dict:
    out: dict[str, dict] = {}
    for name, runs in per_config.items():
        out[name] = {k: _spread([r[k] for r in runs]) for k in FIGURES}
        out[name]["rounds"] = len(runs)
    pairs = {"sync_vs_off": ("sync", "off"), "async_vs_off": ("async", "off"),
             "sync_vs_plain": ("sync", "plain"), "off_vs_plain": ("off", "plain"),
             "sync_vs_nokeys": ("sync", "nokeys")}
    ratios = {}
    for label, (a, b) in pairs.items():
        if a in per_config and b in per_config:
            ra, rb = per_config[a], per_config[b]
            ratios[label] = {k: _spread([x[k] / y[k] for x, y in zip(ra, rb)], digits=3)
                             for k in RATIO_FIGURES}
    out["ratios"] = ratios
    return out


def _spread(values: list[float], digits: int = 2) -> dict:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def gate_cost(home, token: str, *, requests: int = 20_000, repeats: int = 5,
              busy_requests: int = 400) -> dict:
    """The key check alone, in process: microseconds per request that the gate
    (:class:`AuthMiddleware`: header, change counter, SHA-256, scope and model) adds
    in front of a route that does nothing. Steadier than the servers' latency pair on
    a busy machine, where neighbours move medians by more than the gate costs.

    ``busy``: the same with a second thread running Python code, as the model and
    capture threads of a loaded server do, for the gate as served and for one that
    ``stat``s the key snapshot on every request (the gate before the change counter).
    A system call releases the GIL, and the request's thread then waits for the other
    thread to hand it back (up to the 5 ms switch interval): what made keys cost 5% of
    median latency end to end."""
    from raigov.models.serving.auth import KeyWatcher
    from raigov.models.serving.auth_middleware import AuthMiddleware
    from raigov.models.serving.telemetry import ServeMetrics

    async def route(scope, receive, send) -> None:
        return None

    def gate(changes: bool) -> AuthMiddleware:
        watcher = KeyWatcher(home.api_keys_path,
                             changes=home.api_keys_changes_path if changes else None)
        return AuthMiddleware(route, watcher=watcher, metrics=ServeMetrics())

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {token}".encode())]

    async def run(app, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            scope = {"type": "http", "method": "POST", "path": f"/v1/models/{MODEL}/predict",
                     "headers": headers}
            await app(scope, None, None)
        return time.perf_counter() - started

    def per_request(app, n: int) -> float:
        return (asyncio.run(run(app, n)) - asyncio.run(run(route, n))) / n * 1e6

    idle = [per_request(gate(True), requests) for _ in range(repeats)]
    busy: dict[str, list[float]] = {"counter": [], "stat_each_request": []}
    stop = threading.Event()

    def spin() -> None:      # pure Python: holds the GIL until the interpreter asks
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        for _ in range(repeats):
            busy["counter"].append(per_request(gate(True), busy_requests))
            busy["stat_each_request"].append(per_request(gate(False), busy_requests))
    finally:
        stop.set()
        spinner.join()
    return {"requests": requests, "repeats": repeats,
            "us_per_request": _spread(idle, digits=1),
            "busy": {"requests": busy_requests,
                     **{f"us_per_request_{k}": _spread(v, digits=1) for k, v in busy.items()}}}


def ingest_rate(spec, rows, *, batch_rows: int, batches: int, threads: int) -> dict:
    from raigov.home import Home
    from raigov.models.capture.writer import CaptureWriter
    from raigov.models.output_kinds import Outputs
    from raigov.models.capture.records import prediction_table

    frame = pd.DataFrame(rows[:batch_rows])
    scores = np.random.default_rng(0).random(batch_rows)
    tables = [prediction_table(spec, 1, frame, Outputs(label=(scores > .5).astype(np.int64),
                                                       score=scores))[0]
              for _ in range(batches)]
    with tempfile.TemporaryDirectory() as tmp:
        with CaptureWriter(Home.resolve(tmp)) as writer:
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda t: writer.append(t, lake_table="predictions",
                                                      model=spec.name), tables))
            acknowledged = time.perf_counter() - started
            writer.flush()
            sealed = time.perf_counter() - started
    n = batch_rows * batches
    return {"rows": n, "batch_rows": batch_rows, "threads": threads,
            "acknowledged_rows_per_s": round(n / acknowledged),
            "sealed_rows_per_s": round(n / sealed)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8, help="concurrent connections")
    p.add_argument("--batch", type=int, default=64, help="rows per request (batch load)")
    p.add_argument("--seconds", type=float, default=4, help="seconds per measurement")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    p.add_argument("--configs", default="plain,sync,off,async",
                   help="comma-separated subset of plain,sync,off,async,nokeys")
    p.add_argument("--auth-pair", action="store_true",
                   help="add nokeys (sync with --no-auth) for the keys-on / keys-off pair")
    p.add_argument("--plain-program", choices=("module", "export"), default="module",
                   help="what the plain endpoint calls: the nn.Module or its torch.export program")
    p.add_argument("--no-ingest", action="store_true", help="skip the capture ingest rate")
    p.add_argument("--plain-server", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.plain_server:
        return serve_plain(args.plain_server, args.port, args.plain_program)
    from raigov.keys import create_key
    with tempfile.TemporaryDirectory() as tmp:
        home, spec, rows, artifact = build_home(Path(tmp))
        result = {"load": {"clients": args.clients, "rows_per_request": args.batch,
                           "mixed_sizes": MIXED_SIZES, "seconds": args.seconds,
                           "rounds": args.rounds, "plain_program": args.plain_program,
                           "cpus": os.cpu_count()},
                  "serving": serving(home, rows, artifact, args)}
        if args.auth_pair:
            token = create_key(home, "bench-gate", scopes=("predict",), actor="bench").token
            result["auth_gate"] = gate_cost(home, token)
        if not args.no_ingest:
            result["ingest"] = ingest_rate(spec, rows, batch_rows=1000, batches=300, threads=4)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
