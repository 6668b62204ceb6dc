"""``raigov serve``: the HTTP contract of DESIGN.md over FastAPI and uvicorn.

Each registered model (its latest version) is loaded once, on CUDA when available, with
a micro-batcher in front; every accepted row is captured through this process's
:class:`CaptureWriter` before its response is sent (``sync``), and every rejected row
is quarantined with its reasons. The catalog is read at start only; the kill switch is
seen through the control file (one ``stat`` per request), the API keys through the
key snapshot and its change counter (:mod:`raigov.models.serving.auth`): every route
but ``/healthz`` needs a key, and every captured or quarantined row records the key's
name. Requests are bounded (:mod:`raigov.models.serving.limits`); capture faults are
reported by ``/healthz`` and ``/metrics`` (:mod:`raigov.models.capture.health`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, ORJSONResponse, PlainTextResponse, Response

from raigov.models.serving.auth import Caller, KeyWatcher
from raigov.models.serving.auth_middleware import AuthMiddleware
from raigov.models.serving.batching import MicroBatcher
from raigov.models.capture.writer import CaptureWriter, Durability
from raigov.models.serving.control import ControlWatcher, model_status
from raigov.models.output_kinds import output_kind
from raigov.models.serving.event_pairs import PendingEvents
from raigov.models.serving.event_time import event_time_errors, may_backfill, refusal_status
from raigov.models.serving.limits import Limits, read_body, run_check, run_work, status_for
from raigov.models.serving.log_routes import (RouteContext, caller_of, log_router,
                                              quarantine_expired)
from raigov.models.serving.openapi_doc import served_openapi
from raigov.models.serving.request_work import check_predict, prediction_table_of, quarantine_of
from raigov.models.serving.served_ids import DEFAULT_CAP, ServedIds
from raigov.models.capture.records import quarantine_table
from raigov.models.registry import RegisteredModel, list_models
from raigov.models.serving.telemetry import ServeMetrics
from raigov.models.validation import RowError
from raigov.canonical import utcnow
from raigov.clock import DEFAULT_MAX_CLOCK_SKEW_S
from raigov.errors import CaptureError, RaigovError
from raigov.home import Home
from raigov.ids import uuid7
from raigov.plugins import load_plugins



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
    pending_events: int = 10_000  # CloudEvents halves waiting for their pair, at most
    pending_age_s: float = 300.0  # ... and for at most this long; then quarantined
    auth: bool = True             # False: --no-auth (loopback only; rows record 'no-auth')
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S   # event times ahead: 422 beyond
    served_ids_cap: int = DEFAULT_CAP   # ids remembered per model (served; labelled)
    limits: Limits = field(default_factory=Limits)   # body bytes, rows, off-loop work
    capture_timeout_s: float = 30.0   # a request waits this long for capture, then 503
    key_use_interval_s: float = 60.0  # at most one key.used ledger event per key per interval


_log = logging.getLogger("raigov.serve")
MODELS_FAILED = "{n} model(s) failed their probe row"
MODELS_NON_FINITE = "{n} model(s) returned a non-finite score for their probe row"
SERVED_ELSEWHERE = ("model '{model}' is served elsewhere; log its predictions with "
                    "POST /v1/models/{model}/log")
CAPTURE_TIMEOUT = ("capture did not acknowledge the rows within {timeout:g} s (raigov serve "
                   "--capture-timeout-s); see GET /healthz")


@dataclass
class ServedModel:
    registered: RegisteredModel
    batcher: MicroBatcher | None  # None: an external model (no network to run here)
    probe: pd.DataFrame | None    # one reference row, for /healthz
    text_stats: object | None = None   # a text model's TextStats, for /metrics

    @property
    def spec(self):
        return self.registered.spec


def _load(reg: RegisteredModel, cfg: ServeConfig, metrics: ServeMetrics) -> ServedModel | None:
    """The served form of ``reg``, or None for a model raigov cannot run (external)."""
    loaded = reg.load(device=cfg.device)
    if not loaded.runnable:
        return None
    name = reg.spec.name

    def on_batch(rows: int, seconds: float) -> None:
        metrics.batch_rows.labels(name).observe(rows)
        metrics.forward_seconds.labels(name).observe(seconds)

    batcher = MicroBatcher(loaded.forward, name=name, max_batch_rows=cfg.max_batch_rows,
                           max_wait_ms=cfg.max_wait_ms, on_batch=on_batch,
                           thread_init=lambda: _set_torch_threads(cfg.torch_threads),
                           columns=reg.spec.features)
    probe = reg.load_reference().head(1)[list(reg.spec.input_columns)]
    return ServedModel(reg, batcher, probe, getattr(loaded, "text_stats", None))


def _load_all(home: Home, cfg: ServeConfig, metrics: ServeMetrics) -> dict[str, ServedModel]:
    """Every registered model (latest version); an external one (no network to run
    here) is listed with no batcher: it takes /log and /feedback, and predict says 409."""
    return {reg.spec.name: _load(reg, cfg, metrics) or ServedModel(reg, None, None)
            for reg in list_models(home)}


def create_app(home: Home, config: ServeConfig | None = None) -> FastAPI:
    cfg = config or ServeConfig()
    metrics = ServeMetrics()
    state: dict = {}
    events = PendingEvents(max_pending=cfg.pending_events, max_age_s=cfg.pending_age_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        load_plugins(home)   # a plugin's architectures, before any model loads
        _set_torch_threads(cfg.torch_threads)
        writer = CaptureWriter(home, durability=cfg.durability, seal_interval_s=cfg.seal_interval_s,
                               spool_cap_bytes=cfg.spool_cap_bytes).start()
        state["writer"] = writer
        state["models"] = _load_all(home, cfg, metrics)
        metrics.served = frozenset(state["models"])
        state["control"] = ControlWatcher(home, known=model_status(home))
        sweeper = asyncio.create_task(_sweep_events(state["routes"], cfg))
        try:
            yield
        finally:
            sweeper.cancel()
            await quarantine_expired(state["routes"], state["routes"].events.drain())
            for served in state["models"].values():
                if served.batcher is not None:
                    served.batcher.close()
            writer.close()

    app = FastAPI(title="raigov serve", lifespan=lifespan, default_response_class=ORJSONResponse)
    if cfg.auth:
        from raigov.models.serving.key_use import KeyUseLog

        watcher = KeyWatcher(home.api_keys_path, changes=home.api_keys_changes_path)
        app.add_middleware(AuthMiddleware, watcher=watcher, metrics=metrics,
                           key_use=KeyUseLog(home, interval_s=cfg.key_use_interval_s))
    metrics.watch_capture(lambda: state.get("writer"))
    metrics.watch_text(lambda: {name: served.text_stats for name, served
                                in state.get("models", {}).items() if served.text_stats})
    _routes(app, home, cfg, metrics, state, events)

    def openapi() -> dict:   # the models are known once the lifespan has loaded them
        if app.openapi_schema is None:
            app.openapi_schema = served_openapi(app, {
                name: (served.spec, served.batcher is not None)
                for name, served in state.get("models", {}).items()})
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _sweep_events(ctx: RouteContext, cfg: ServeConfig) -> None:
    """Unpaired CloudEvents halves past their age go to quarantine, checked every second
    (or sooner for short ages)."""
    while True:
        await asyncio.sleep(min(1.0, cfg.pending_age_s / 4))
        try:
            await quarantine_expired(ctx, ctx.events.expire())
        except Exception:  # noqa: BLE001 - logged; the sweeper must outlive one bad turn
            logging.getLogger("raigov.serve").exception("sweeping unpaired CloudEvents failed")


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


def _routes(app: FastAPI, home: Home, cfg: ServeConfig, metrics: ServeMetrics, state: dict,
            events: PendingEvents) -> None:
    async def capture(table, lake_table: str, model: str) -> None:
        """Capture ``table``; raises :class:`CaptureError` (503) when capture cannot take
        it, or does not acknowledge it within ``capture_timeout_s``."""
        if lake_table != "quarantine" and not cfg.capture:
            return
        done = state["writer"].submit_async(table, lake_table=lake_table, model=model)
        try:
            await asyncio.wait_for(done, cfg.capture_timeout_s)
        except asyncio.TimeoutError:
            metrics.capture_timeouts.inc()
            raise CaptureError(CAPTURE_TIMEOUT.format(timeout=cfg.capture_timeout_s)) from None

    async def quarantine(model: str, version: int | None, rows: list[dict],
                         key: str | None = None) -> None:
        await capture(quarantine_table(rows, version=version, request_id=uuid7(), key=key),
                      "quarantine", model)
        metrics.rows_quarantined.labels(metrics.model_label(model)).inc(len(rows))

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
        """Open to anyone, so it names no model and shows no data: counts only."""
        failed = non_finite = 0
        for served in state["models"].values():
            if served.batcher is None:
                continue   # external: nothing runs here
            try:
                scores = await asyncio.get_running_loop().run_in_executor(
                    None, served.batcher.predict_blocking, served.probe)
                non_finite += not np.all(np.isfinite(scores))
            except Exception as exc:  # noqa: BLE001 - counted, and named in the server's log
                _log.warning("model %r failed its /healthz probe: %s", served.spec.name, exc)
                failed += 1
        problems = [text.format(n=n) for n, text in ((failed, MODELS_FAILED),
                                                      (non_finite, MODELS_NON_FINITE)) if n]
        try:
            _probe_spool(home)
        except OSError as exc:
            problems.append(f"spool not writable: {exc.strerror or type(exc).__name__}")
        writer = state["writer"]
        problems += writer.problems()
        if (control := state["control"].problem()) is not None:
            problems.append(control)
        body = {"status": "ok" if not problems else "failing", "problems": problems,
                "warnings": writer.warnings(), "capture": writer.health_report()}
        return ORJSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/v1/models")
    async def models_() -> dict:
        out = []
        for name, served in sorted(state["models"].items()):
            reason = state["control"].disabled_reason(name, served.registered.version)
            out.append({"name": name, "version": served.registered.version,
                        "status": "disabled" if reason else "enabled",
                        "output_kind": served.spec.output_kind,
                        "external": served.registered.external,
                        "features": list(served.spec.features),
                        "sensitive": list(served.spec.sensitive)})
        return {"models": out}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, request: Request) -> Response:
        started = time.perf_counter()
        served = state["models"].get(name)
        if served is not None and served.batcher is None:
            response = _error(409, SERVED_ELSEWHERE.format(model=name))
        else:
            response = await _predict(name, request, started, caller_of(request))
        label = metrics.model_label(name)
        metrics.requests.labels(label, "predict", str(response.status_code)).inc()
        metrics.latency.labels(label, "predict").observe(time.perf_counter() - started)
        return response

    def time_errors(times, caller: Caller) -> list[RowError]:
        return event_time_errors(times, now=utcnow(), skew_s=cfg.max_clock_skew_s,
                                 may_backfill=may_backfill(caller))

    async def _predict(name: str, request: Request, started: float, caller: Caller) -> Response:
        key = caller.key
        served = lookup(name)
        if isinstance(served, JSONResponse):
            return served
        spec, version = served.spec, served.registered.version
        body, refused = await read_body(request, cfg.limits)
        if refused is not None:
            return await _reject(name, version, [refused], payload_rows=None, raw=body, key=key)
        rows, frame, ts, errors = await run_check(cfg.limits, len(body), check_predict, spec,
                                                  body, cfg.limits)
        errors = [*errors, *time_errors([(None, "timestamp", ts)], caller)]
        if errors:
            return await _reject(name, version, errors, payload_rows=rows, raw=body,
                                 key=key, ts=ts)
        kind = output_kind(spec)
        try:
            outputs = kind.outputs(await served.batcher.predict(frame), spec)  # batcher picks features
        except (ValueError, RaigovError) as exc:   # the network broke its output contract
            return _error(500, str(exc))
        latency_ms = (time.perf_counter() - started) * 1000
        table, ids = await run_work(cfg.limits, len(body), prediction_table_of, spec, version,
                                    frame, outputs, ts, latency_ms, key)
        try:
            await capture(table, "predictions", name)
        except CaptureError as exc:
            return _error(503, str(exc))
        if cfg.capture:
            served_ids.add_served(name, ids)
        metrics.rows_predicted.labels(name).inc(len(ids))
        return ORJSONResponse({"model": name, "version": version, "predictions": [
            {"prediction_id": i, **row} for i, row in zip(ids, kind.response_rows(outputs, spec))]})

    async def _reject(name: str, version: int | None, errors: list[RowError], *, payload_rows,
                      raw: bytes, status: int | None = None, key: str | None = None,
                      ts=None) -> Response:
        """Quarantine a refused request (each row with its reasons, or the raw body; one
        row without payload for a request a cap refused) and answer 413, 403 (a past
        time without scope backfill), 422, or the ``status`` given."""
        status = status or status_for(errors)
        if status == 413:
            payload_rows, raw = None, b""
        elif status == 422:
            status = refusal_status(errors)
        table = await run_work(cfg.limits, len(raw), quarantine_of, errors, payload_rows, raw,
                               version, key, ts)
        try:
            await capture(table, "quarantine", name)
        except CaptureError as exc:
            return _error(503, str(exc))
        metrics.rows_quarantined.labels(metrics.model_label(name)).inc(table.num_rows)
        return _error(status, [e.as_dict() for e in errors], quarantined=table.num_rows)

    served_ids = ServedIds(home, cap=cfg.served_ids_cap)
    state["routes"] = RouteContext(lookup=lookup, capture=capture, quarantine=quarantine,
                                   reject=_reject, metrics=metrics, events=events, home=home,
                                   served_ids=served_ids, event_time_errors=time_errors,
                                   limits=cfg.limits)
    app.include_router(log_router(state["routes"]))


def _probe_spool(home: Home) -> None:
    import os

    path = home.spool / ".healthz"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()


def run_server(home: Home, *, host: str = "127.0.0.1", port: int = 8000,
               config: ServeConfig | None = None, log_level: str = "warning",
               tls_cert: str | None = None, tls_key: str | None = None) -> None:
    """Serve until stopped; over TLS (uvicorn's own) when given a certificate and key."""
    import uvicorn

    uvicorn.run(create_app(home, config), host=host, port=port, log_level=log_level,
                access_log=False, ssl_certfile=tls_cert, ssl_keyfile=tls_key)
