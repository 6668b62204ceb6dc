"""The capture routes of ``raigov serve`` beside predict: predictions made elsewhere
(``POST /v1/models/{name}/log``), KServe's inference logger (``POST
/v1/models/{name}/events`` and ``POST /v1/events``) and ground truth (``POST
/v1/models/{name}/feedback``, :mod:`raigov.models.serving.feedback`). Event times a
client sets are judged by :mod:`raigov.models.serving.event_time`.

Each route checks every row before it captures any: a request with a bad row is
answered 422 naming each row and field, and all its rows are quarantined with their
reasons, as predict does. These routes serve every registered model, with or without a
network (an external model is served only through them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import orjson
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, ORJSONResponse, Response

from raigov.errors import SpoolFullError
from raigov.home import Home
from raigov.models.serving.event_pairs import EventHalf, Expired, Pair, PendingEvents
from raigov.models.serving.event_time import refusal_status
from raigov.models.serving.feedback import take_feedback
from raigov.models.serving.http_bodies import error_response, parse_body, parse_timestamp
from raigov.models.serving.served_ids import ServedIds
from raigov.models.serving.kserve_events import (NO_MODEL_HEADER, NOT_JSON, decode_half, pair_rows,
                                         read_headers)
from raigov.models.capture.logged_rows import LoggedBatch, read_logged_rows
from raigov.models.capture.records import prediction_table
from raigov.models.spec import ModelSpec
from raigov.models.serving.telemetry import ServeMetrics
from raigov.models.validation import RowError

EventTimes = Iterable[tuple[int | None, str, object]]


@dataclass(frozen=True)
class RouteContext:
    """What these routes share with the rest of the server."""

    lookup: Callable[[str], object]          # ServedModel, or the JSONResponse refusing it
    capture: Callable[[pa.Table, str, str], Awaitable[None]]
    quarantine: Callable[[str, int | None, list[dict]], Awaitable[None]]
    reject: Callable[..., Awaitable[Response]]   # (..., status=422): quarantine and answer
    metrics: ServeMetrics
    events: PendingEvents
    home: Home
    served_ids: ServedIds
    # (row, field, time) of a request and its caller -> the refused event times
    event_time_errors: Callable[[EventTimes, object | None], list[RowError]]


def caller_of(request: Request) -> object | None:
    """The authenticated caller (``request.state.caller``), or None without auth."""
    return getattr(request.state, "caller", None)


def log_router(ctx: RouteContext) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/models/{name}/log")
    async def log(name: str, request: Request) -> Response:
        response = await _log(ctx, name, await request.body(), caller_of(request))
        ctx.metrics.requests.labels(name, "log", str(response.status_code)).inc()
        return response

    @router.post("/v1/models/{name}/events")
    async def events(name: str, request: Request) -> Response:
        response = await _event(ctx, name, request)
        ctx.metrics.requests.labels(name, "events", str(response.status_code)).inc()
        return response

    @router.post("/v1/events")
    async def events_by_header(request: Request) -> Response:
        name = request.headers.get("ce-inferenceservicename")
        if not name:
            return error_response(422, [RowError(None, "ce-inferenceservicename", "missing",
                                                 NO_MODEL_HEADER).as_dict()])
        return await events(name, request)

    @router.post("/v1/models/{name}/feedback")
    async def feedback(name: str, request: Request) -> Response:
        response = await take_feedback(ctx, name, await request.body(), caller_of(request))
        ctx.metrics.requests.labels(name, "feedback", str(response.status_code)).inc()
        return response

    return router


async def _log(ctx: RouteContext, name: str, body: bytes, caller: object | None) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    version = served.registered.version
    payload, problem = parse_body(body)
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body)
    rows = payload["rows"]
    default_ts, ts_problem = parse_timestamp(payload.get("timestamp"))
    batch = read_logged_rows(served.spec, rows, default_ts=default_ts)
    own = [(i, "timestamp", ts) for i, (row, ts) in enumerate(zip(rows, batch.timestamps))
           if isinstance(row, dict) and row.get("timestamp") is not None] \
        if isinstance(rows, list) else []
    errors = ([ts_problem] if ts_problem else []) + batch.errors
    errors += ctx.event_time_errors([(None, "timestamp", default_ts), *own], caller)
    if errors:
        return await ctx.reject(name, version, errors, payload_rows=rows, raw=body,
                                status=refusal_status(errors))
    return await _capture_batch(ctx, name, served.spec, version, batch)


async def _capture_batch(ctx: RouteContext, name: str, spec: ModelSpec, version: int,
                         batch: LoggedBatch, *, request_id: str | None = None) -> Response:
    table, ids = prediction_table(spec, version, batch.frame, batch.outputs, ts=batch.timestamps,
                                  prediction_ids=batch.prediction_ids, request_id=request_id)
    try:
        await ctx.capture(table, "predictions", name)
    except SpoolFullError as exc:
        ctx.metrics.capture_failures.inc()
        return error_response(503, str(exc))
    ctx.served_ids.add_served(name, ids)
    ctx.metrics.rows_logged.labels(name).inc(len(ids))
    return ORJSONResponse({"model": name, "version": version, "status": "logged",
                           "accepted": len(ids), "prediction_ids": ids})


async def _event(ctx: RouteContext, name: str, request: Request) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    spec, version = served.spec, served.registered.version
    body = await request.body()
    headers, problem = read_headers(request.headers)
    if problem is None:
        payload, problem = _json(body, headers.half)
    if problem is None:
        decoded, problem = decode_half(spec, headers.half, payload)
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body)
    result = ctx.events.offer(EventHalf(name, version, headers.event_id, headers.half, decoded,
                                        body, time=headers.time))
    await quarantine_expired(ctx, ctx.events.expire())
    if not isinstance(result, Pair):
        return ORJSONResponse({"model": name, "id": headers.event_id, "status": result})
    rows, problem = pair_rows(result)
    batch = read_logged_rows(spec, rows) if rows is not None else None
    errors = [problem] if problem is not None else batch.errors
    if not errors and rows and rows[0]["timestamp"] is not None:   # ce-time: the pair's
        errors = ctx.event_time_errors([(None, "ce-time", batch.timestamps[0])],
                                       caller_of(request))
    if errors:
        raw = b'{"request": %s, "response": %s}' % (result.request.body, result.response.body)
        return await ctx.reject(name, version, errors, payload_rows=rows, raw=raw,
                                status=refusal_status(errors))
    return await _capture_batch(ctx, name, spec, version, batch, request_id=headers.event_id)


def _json(body: bytes, half: str) -> tuple[object, RowError | None]:
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        return None, RowError(None, None, "json", NOT_JSON.format(half=half, error=exc))


async def quarantine_expired(ctx: RouteContext, expired: list[Expired]) -> None:
    """Unpaired CloudEvents halves, each quarantined with the reason it left unpaired."""
    by_model: dict[tuple[str, int], list[dict]] = {}
    for item in expired:
        half = item.half
        by_model.setdefault((half.model, half.version), []).append({
            "row_index": None, "payload": half.body, "reason": item.reason,
            "reasons": [{"row": None, "field": "ce-id", "check": "unpaired",
                         "message": item.reason, "value": half.event_id}]})
    for (model, version), rows in by_model.items():
        await ctx.quarantine(model, version, rows)
