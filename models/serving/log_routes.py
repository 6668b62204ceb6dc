"""The capture routes of ``raigov serve`` beside predict: predictions made elsewhere
(``POST /v1/models/{name}/log``), KServe's inference logger (``POST
/v1/models/{name}/events`` and ``POST /v1/events``) and ground truth (``POST
/v1/models/{name}/feedback``, :mod:`raigov.models.serving.feedback`). Event times a
client sets are judged by :mod:`raigov.models.serving.event_time`.

Each route checks every row before it captures any: a request with a bad row is
answered 422 naming each row and field, and all its rows are quarantined with their
reasons, as predict does. The same bounds apply (:mod:`raigov.models.serving.limits`):
a body or a row count over its cap is answered 413. These routes serve every
registered model, with or without a network (an external model is served only through
them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, ORJSONResponse, Response

from raigov.errors import CaptureError
from raigov.home import Home
from raigov.models.serving.auth import NO_AUTH_CALLER, Caller
from raigov.models.serving.event_pairs import EventHalf, Expired, Pair, PendingEvents
from raigov.models.serving.http_bodies import error_response, parse_body, parse_json, parse_timestamp
from raigov.models.serving.feedback import take_feedback
from raigov.models.serving.limits import Limits, read_body, run_check, run_work, too_many_rows
from raigov.models.serving.served_ids import ServedIds
from raigov.models.serving.kserve_events import (NO_MODEL_HEADER, NOT_JSON, decode_half, pair_rows,
                                         read_headers)
from raigov.models.capture.logged_rows import LoggedBatch, read_logged_rows
from raigov.models.capture.records import prediction_table
from raigov.models.spec import ModelSpec
from raigov.models.serving.telemetry import ServeMetrics
from raigov.models.validation import RowError

log = logging.getLogger("raigov.serve")

UNPAIRED_NOT_KEPT = "{n} unpaired CloudEvents halves of model {model!r} could not be quarantined: {error}"
EventTimes = Iterable[tuple[int | None, str, object]]


@dataclass(frozen=True)
class RouteContext:
    """What these routes share with the rest of the server."""

    lookup: Callable[[str], object]          # ServedModel, or the JSONResponse refusing it
    capture: Callable[[pa.Table, str, str], Awaitable[None]]
    quarantine: Callable[[str, int | None, list[dict], str | None], Awaitable[None]]
    reject: Callable[..., Awaitable[Response]]   # (..., status=, key=): quarantine and answer
    metrics: ServeMetrics
    events: PendingEvents
    home: Home
    served_ids: ServedIds
    # (row, field, time) of a request and its caller -> the refused event times
    event_time_errors: Callable[[EventTimes, Caller], list[RowError]]
    limits: Limits = Limits()


def caller_of(request: Request) -> Caller:
    """The authenticated caller (``request.state.caller``; ``NO_AUTH_CALLER`` when keys
    are off)."""
    return getattr(request.state, "caller", NO_AUTH_CALLER)


def log_router(ctx: RouteContext) -> APIRouter:
    router = APIRouter()

    def count(name: str, route: str, response: Response) -> Response:
        ctx.metrics.requests.labels(ctx.metrics.model_label(name), route,
                                    str(response.status_code)).inc()
        return response

    @router.post("/v1/models/{name}/log")
    async def log(name: str, request: Request) -> Response:
        return count(name, "log", await _log(ctx, name, request))

    @router.post("/v1/models/{name}/events")
    async def events(name: str, request: Request) -> Response:
        return count(name, "events", await _event(ctx, name, request))

    @router.post("/v1/events")
    async def events_by_header(request: Request) -> Response:
        name = request.headers.get("ce-inferenceservicename")
        if not name:
            return error_response(422, [RowError(None, "ce-inferenceservicename", "missing",
                                                 NO_MODEL_HEADER).as_dict()])
        return await events(name, request)

    @router.post("/v1/models/{name}/feedback")
    async def feedback(name: str, request: Request) -> Response:
        return count(name, "feedback", await take_feedback(ctx, name, request, caller_of(request)))

    return router


async def _log(ctx: RouteContext, name: str, request: Request) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    version, caller = served.registered.version, caller_of(request)
    body, refused = await read_body(request, ctx.limits)
    if refused is not None:
        return await ctx.reject(name, version, [refused], payload_rows=None, raw=body,
                                key=caller.key)
    rows, batch, errors, times = await run_check(ctx.limits, len(body), _check_log, served.spec,
                                                 body, ctx.limits)
    errors = [*errors, *ctx.event_time_errors(times, caller)]
    if errors:
        return await ctx.reject(name, version, errors, payload_rows=rows, raw=body,
                                key=caller.key)
    return await _capture_batch(ctx, name, served.spec, version, batch, size=len(body),
                                key=caller.key)


def _check_log(spec: ModelSpec, body: bytes, limits: Limits, *, explain: bool = True,
               ) -> tuple[object, LoggedBatch | None, list[RowError], list]:
    """A /log body's rows, the logged batch, every error, and the event times the
    client set (the request's, and each row's own)."""
    payload, problem = parse_body(body)
    if problem is not None:
        return None, None, [problem], []
    rows = payload["rows"]
    if (refused := too_many_rows(rows, limits, what="rows", field="rows")) is not None:
        return None, None, [refused], []
    default_ts, ts_problem = parse_timestamp(payload.get("timestamp"))
    batch = read_logged_rows(spec, rows, default_ts=default_ts, explain=explain)
    own = [(i, "timestamp", ts) for i, (row, ts) in enumerate(zip(rows, batch.timestamps))
           if isinstance(row, dict) and row.get("timestamp") is not None] \
        if isinstance(rows, list) else []
    return rows, batch, ([ts_problem] if ts_problem else []) + batch.errors, \
        [(None, "timestamp", default_ts), *own]


async def _capture_batch(ctx: RouteContext, name: str, spec: ModelSpec, version: int,
                         batch: LoggedBatch, *, size: int, key: str,
                         request_id: str | None = None) -> Response:
    table, ids = await run_work(ctx.limits, size, _logged_table, spec, version, batch, request_id,
                                key)
    try:
        await ctx.capture(table, "predictions", name)
    except CaptureError as exc:
        return error_response(503, str(exc))
    ctx.served_ids.add_served(name, ids)
    ctx.metrics.rows_logged.labels(name).inc(len(ids))
    return ORJSONResponse({"model": name, "version": version, "status": "logged",
                           "accepted": len(ids), "prediction_ids": ids})


def _logged_table(spec: ModelSpec, version: int, batch: LoggedBatch, request_id: str | None,
                  key: str | None):
    return prediction_table(spec, version, batch.frame, batch.outputs, ts=batch.timestamps,
                            prediction_ids=batch.prediction_ids, request_id=request_id, key=key)


async def _event(ctx: RouteContext, name: str, request: Request) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    spec, version = served.spec, served.registered.version
    caller = caller_of(request)
    body, problem = await read_body(request, ctx.limits)
    headers = None
    if problem is None:
        headers, problem = read_headers(request.headers)
    if problem is None:
        decoded, problem = await run_work(ctx.limits, len(body), _decode_event, spec,
                                          headers.half, body, ctx.limits)
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body,
                                key=caller.key)
    result = ctx.events.offer(EventHalf(name, version, headers.event_id, headers.half, decoded,
                                        body, time=headers.time, key=caller.key))
    await quarantine_expired(ctx, ctx.events.expire())
    if not isinstance(result, Pair):
        return ORJSONResponse({"model": name, "id": headers.event_id, "status": result})
    size = len(result.request.body) + len(result.response.body)
    rows, batch, errors = await run_check(ctx.limits, size, _check_pair, spec, result)
    if not errors and rows and rows[0]["timestamp"] is not None:   # ce-time: the pair's
        errors = ctx.event_time_errors([(None, "ce-time", batch.timestamps[0])], caller)
    if errors:
        raw = b'{"request": %s, "response": %s}' % (result.request.body, result.response.body)
        return await ctx.reject(name, version, errors, payload_rows=rows, raw=raw,
                                key=caller.key)
    return await _capture_batch(ctx, name, spec, version, batch, size=size, key=caller.key,
                                request_id=headers.event_id)


def _decode_event(spec: ModelSpec, half: str, body: bytes,
                  limits: Limits) -> tuple[list | None, RowError | None]:
    """One CloudEvent half's rows (request) or outputs (response), within the row cap."""
    payload, problem = parse_json(body)
    if problem is not None:
        return None, RowError(None, None, "json", NOT_JSON.format(
            half=half, error=problem.message.removeprefix("malformed JSON: ")))
    decoded, problem = decode_half(spec, half, payload)
    if problem is None:
        what = "instances" if half == "request" else "predictions"
        problem = too_many_rows(decoded, limits, what=what, field=half)
    return (None, problem) if problem is not None else (decoded, None)


def _check_pair(spec: ModelSpec, pair: Pair, *,
                explain: bool = True) -> tuple[object, LoggedBatch | None, list[RowError]]:
    rows, problem = pair_rows(pair)
    if problem is not None:
        return rows, None, [problem]
    batch = read_logged_rows(spec, rows, explain=explain)
    return rows, batch, batch.errors


async def quarantine_expired(ctx: RouteContext, expired: list[Expired]) -> None:
    """Unpaired CloudEvents halves, each quarantined with the reason it left unpaired."""
    by_model: dict[tuple[str, int, str | None], list[dict]] = {}
    for item in expired:
        half = item.half
        by_model.setdefault((half.model, half.version, half.key), []).append({
            "row_index": None, "payload": half.body, "reason": item.reason,
            "reasons": [{"row": None, "field": "ce-id", "check": "unpaired",
                         "message": item.reason, "value": half.event_id}]})
    for (model, version, key), rows in by_model.items():
        try:
            await ctx.quarantine(model, version, rows, key)
        except CaptureError as exc:    # the writer's fault shows in /healthz; say what it cost
            log.error(UNPAIRED_NOT_KEPT.format(n=len(rows), model=model, error=exc))
