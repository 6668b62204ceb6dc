"""``raigov serve``: the HTTP contract of DESIGN.md over FastAPI and uvicorn.

Each registered model (its latest version) is loaded once, on CUDA when available, with
a micro-batcher in front; every accepted row is captured through this process's
:class:`CaptureWriter` before its response is sent (``sync``), and every rejected row
is quarantined with its reasons. The catalog is read at start only; the kill switch is
seen through the control file (one ``stat`` per request).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, ORJSONResponse, Response

from raigov.models.batching import MicroBatcher
from raigov.models.capture import CaptureWriter, Durability
from raigov.models.control import ControlWatcher
from raigov.models.output_kinds import output_kind
from raigov.models.records import feedback_table, prediction_table, quarantine_table
from raigov.models.registry import RegisteredModel, list_models
from raigov.models.telemetry import ServeMetrics
from raigov.models.validation import RowError, validate_rows
from raigov.errors import SpoolFullError
from raigov.home import Home
from raigov.ids import uuid7


@dataclass(frozen=True)
class ServeConfig:
    durability: Durability = "sync"
    max_batch_rows: int = 512
    max_wait_ms: float = 0.0      # 0: a batch is what is queued when the model is free
    seal_interval_s: float = 1.0
    spool_cap_bytes: int | None = None
    device: str | None = None
    torch_threads: int | None = None   # default: cores - 1 (the event loop keeps one)
    capture: bool = True          # False only for benchmarks (capture off)


@dataclass
class ServedModel:
    registered: RegisteredModel
    batcher: MicroBatcher
    probe: pd.DataFrame           # one reference row, for /healthz

    @property
    def spec(self):
        return self.registered.spec


def _load(reg: RegisteredModel, cfg: ServeConfig, metrics: ServeMetrics) -> ServedModel:
    from raigov.models.artifact import load_artifact

    loaded = load_artifact(reg.artifact_dir, device=cfg.device)
    name = reg.spec.name

    def on_batch(rows: int, seconds: float) -> None:
        metrics.batch_rows.labels(name).observe(rows)
        metrics.forward_seconds.labels(name).observe(seconds)

    batcher = MicroBatcher(loaded.logits, name=name, max_batch_rows=cfg.max_batch_rows,
                           max_wait_ms=cfg.max_wait_ms, on_batch=on_batch,
                           thread_init=lambda: _set_torch_threads(cfg.torch_threads),
                           columns=reg.spec.features)
    probe = reg.load_reference().head(1)[list(reg.spec.input_columns)]
    return ServedModel(reg, batcher, probe)


def create_app(home: Home, config: ServeConfig | None = None) -> FastAPI:
    cfg = config or ServeConfig()
    metrics = ServeMetrics()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _set_torch_threads(cfg.torch_threads)
        writer = CaptureWriter(home, durability=cfg.durability, seal_interval_s=cfg.seal_interval_s,
                               spool_cap_bytes=cfg.spool_cap_bytes).start()
        state["writer"] = writer
        state["models"] = {m.spec.name: _load(m, cfg, metrics) for m in list_models(home)}
        state["control"] = ControlWatcher(home)
        try:
            yield
        finally:
            for served in state["models"].values():
                served.batcher.close()
            writer.close()

    app = FastAPI(title="raigov serve", lifespan=lifespan, default_response_class=ORJSONResponse)
    _routes(app, home, cfg, metrics, state)
    return app


def _set_torch_threads(threads: int | None) -> None:
    """One forward pass at a time per model runs on its own thread; intra-op threads
    beyond the spare cores only fight the event loop. OpenMP keeps the thread count per
    thread, so this runs in each model's worker thread as well as at start (measured on
    a busy 2-core machine: the forward pass fell from ~21% to a few % of server CPU)."""
    import os

    import torch

    torch.set_num_threads(threads or max(1, min(4, (os.cpu_count() or 2) - 1)))


def _error(status: int, detail: object, **extra: object) -> JSONResponse:
    return ORJSONResponse({"detail": detail, **extra}, status_code=status)


def _routes(app: FastAPI, home: Home, cfg: ServeConfig, metrics: ServeMetrics, state: dict) -> None:
    async def capture(table, lake_table: str, model: str) -> None:
        if lake_table != "quarantine" and not cfg.capture:
            return
        await state["writer"].submit_async(table, lake_table=lake_table, model=model)

    async def quarantine(model: str, version: int | None, rows: list[dict]) -> None:
        await capture(quarantine_table(rows, version=version, request_id=uuid7()), "quarantine", model)
        metrics.rows_quarantined.labels(model).inc(len(rows))

    def lookup(name: str) -> ServedModel | JSONResponse:
        served = state["models"].get(name)
        if served is None:
            return _error(404, f"no model named '{name}' is served here "
                               f"(served: {sorted(state['models'])})")
        reason = state["control"].disabled_reason(name, served.registered.version)
        if reason is not None:
            return _error(503, f"model '{name}' is disabled: {reason}")
        return served

    @app.get("/healthz")
    async def healthz() -> Response:
        problems = []
        for name, served in state["models"].items():
            try:
                scores = await asyncio.get_running_loop().run_in_executor(
                    None, served.batcher.predict_blocking, served.probe)
                if not np.all(np.isfinite(scores)):
                    problems.append(f"model '{name}' returned a non-finite score")
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                problems.append(f"model '{name}' failed: {exc}")
        try:
            _probe_spool(home)
        except OSError as exc:
            problems.append(f"spool not writable: {exc}")
        body = {"status": "ok" if not problems else "failing", "problems": problems,
                "models": sorted(state["models"])}
        return ORJSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/v1/models")
    async def models_() -> dict:
        out = []
        for name, served in sorted(state["models"].items()):
            reason = state["control"].disabled_reason(name, served.registered.version)
            out.append({"name": name, "version": served.registered.version,
                        "status": "disabled" if reason else "enabled",
                        "features": list(served.spec.features),
                        "sensitive": list(served.spec.sensitive)})
        return {"models": out}

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.spool_bytes.set(state["writer"].spool_bytes())
        metrics.capture_lag.set(state["writer"].stats.last_seal_lag_s)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, request: Request) -> Response:
        started = time.perf_counter()
        response = await _predict(name, await request.body(), started)
        metrics.requests.labels(name, "predict", str(response.status_code)).inc()
        metrics.latency.labels(name, "predict").observe(time.perf_counter() - started)
        return response

    async def _predict(name: str, body: bytes, started: float) -> Response:
        served = lookup(name)
        if isinstance(served, JSONResponse):
            return served
        spec, version = served.spec, served.registered.version
        payload, problem = _parse(body)
        if problem is not None:
            return await _reject(name, version, [problem], payload_rows=None, raw=body)
        rows = payload.get("rows")
        ts, ts_problem = _timestamp(payload.get("timestamp"))
        frame, errors = validate_rows(spec, rows)
        if ts_problem:
            errors.insert(0, ts_problem)
        if errors:
            return await _reject(name, version, errors, payload_rows=rows, raw=body)
        kind = output_kind(spec)
        outputs = kind.outputs(await served.batcher.predict(frame), spec)   # batcher picks features
        latency_ms = (time.perf_counter() - started) * 1000
        table, ids = prediction_table(spec, version, frame, outputs, ts=ts, latency_ms=latency_ms)
        try:
            await capture(table, "predictions", name)
        except SpoolFullError as exc:
            metrics.capture_failures.inc()
            return _error(503, str(exc))
        metrics.rows_predicted.labels(name).inc(len(ids))
        return ORJSONResponse({"model": name, "version": version, "predictions": [
            {"prediction_id": i, **row} for i, row in zip(ids, kind.response_rows(outputs, spec))]})

    async def _reject(name: str, version: int, errors: list[RowError], *, payload_rows, raw: bytes) -> Response:
        rows = _quarantine_rows(errors, payload_rows, raw)
        try:
            await quarantine(name, version, rows)
        except SpoolFullError as exc:
            metrics.capture_failures.inc()
            return _error(503, str(exc))
        return _error(422, [e.as_dict() for e in errors], quarantined=len(rows))

    @app.post("/v1/models/{name}/feedback")
    async def feedback(name: str, request: Request) -> Response:
        served = lookup(name)
        if isinstance(served, JSONResponse):
            return served
        body = await request.body()
        payload, problem = _parse(body, key="labels")
        errors = [problem] if problem else _feedback_errors(payload.get("labels"), served.spec.classes)
        if errors:
            return await _reject(name, served.registered.version, errors,
                                 payload_rows=payload.get("labels") if payload else None, raw=body)
        received, ts_problem = _timestamp(payload.get("timestamp"))
        if ts_problem:
            return await _reject(name, served.registered.version, [ts_problem],
                                 payload_rows=payload.get("labels"), raw=body)
        labels = payload["labels"]
        y = [_class_index(item["label"], served.spec.classes) for item in labels]
        table = feedback_table([i["prediction_id"] for i in labels], y,
                               received_at=received.to_pydatetime() if received is not None else None)
        try:
            await capture(table, "feedback", name)
        except SpoolFullError as exc:
            return _error(503, str(exc))
        metrics.labels_received.labels(name).inc(len(labels))
        return ORJSONResponse({"model": name, "accepted": len(labels)})


def _parse(body: bytes, key: str = "rows") -> tuple[dict | None, RowError | None]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, RowError(None, None, "json", f"malformed JSON: {exc}")
    if not isinstance(payload, dict) or key not in payload:
        return None, RowError(None, key, "missing", f"the body must be an object with '{key}'")
    return payload, None


def _timestamp(value: object) -> tuple[pd.Timestamp | None, RowError | None]:
    if value is None:
        return None, None
    try:
        ts = pd.Timestamp(value)
        return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")), None
    except (ValueError, TypeError):
        return None, RowError(None, "timestamp", "type",
                              "'timestamp' must be an ISO 8601 date-time", value)


def _quarantine_rows(errors: list[RowError], rows: object, raw: bytes) -> list[dict]:
    """One quarantine row per request row (with that row's reasons), or the raw body."""
    if not isinstance(rows, list) or not rows:
        return [{"row_index": None, "payload": raw, "reasons": [e.as_dict() for e in errors],
                 "reason": "; ".join(e.message for e in errors)}]
    request_level = [e for e in errors if e.row is None]
    out = []
    for i, row in enumerate(rows):
        own = [e for e in errors if e.row == i] + request_level
        reason = "; ".join(e.message for e in own) or "rejected with its request (another row is invalid)"
        out.append({"row_index": i, "payload": row, "reasons": [e.as_dict() for e in own],
                    "reason": reason})
    return out


def _feedback_errors(items: object, classes: tuple[str, ...]) -> list[RowError]:
    if not isinstance(items, list) or not items:
        return [RowError(None, "labels", "type", "'labels' must be a non-empty list")]
    errors = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(RowError(i, None, "type", "label must be a JSON object"))
            continue
        if not isinstance(item.get("prediction_id"), str):
            errors.append(RowError(i, "prediction_id", "missing" if "prediction_id" not in item else "type",
                                   "field 'prediction_id' must be a string"))
        if _class_index(item.get("label"), classes) is None:
            errors.append(RowError(i, "label", "isin", f"field 'label' must be one of "
                                   f"{list(range(len(classes)))} or {list(classes)}", item.get("label")))
    return errors


def _class_index(value: object, classes: tuple[str, ...]) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and 0 <= value < len(classes):
        return value
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    return None


def _probe_spool(home: Home) -> None:
    import os

    path = home.spool / ".healthz"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()


def run_server(home: Home, *, host: str = "127.0.0.1", port: int = 8000,
               config: ServeConfig | None = None, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(create_app(home, config), host=host, port=port, log_level=log_level,
                access_log=False)
