"""The capture routes of ``raigov serve`` beside predict: predictions made elsewhere
(``POST /v1/models/{name}/log``), KServe's inference logger (``POST
/v1/models/{name}/events`` and ``POST /v1/events``) and ground truth (``POST
/v1/models/{name}/feedback``).

Each route checks every row before it captures any: a request with a bad row is
answered 422 naming each row and field, and all its rows are quarantined with their
reasons, as predict does. These routes serve every registered model, with or without a
network (an external model is served only through them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, ORJSONResponse, Response

from raigov.errors import SpoolFullError
from raigov.models.serving.auth import NO_AUTH_CALLER
from raigov.models.serving.event_pairs import EventHalf, Expired, Pair, PendingEvents
from raigov.models.serving.http_bodies import error_response, parse_body, parse_timestamp
from raigov.models.serving.kserve_events import (NO_MODEL_HEADER, NOT_JSON, decode_half, pair_rows,
                                         read_headers)
from raigov.models.capture.logged_rows import LoggedBatch, read_logged_rows
from raigov.models.output_kinds import output_kind
from raigov.models.capture.records import feedback_table, prediction_table
from raigov.models.spec import ModelSpec
from raigov.models.serving.telemetry import ServeMetrics
from raigov.models.validation import RowError

NOT_A_LIST = "'labels' must be a non-empty list"
NOT_AN_OBJECT = "label must be a JSON object"
BAD_PREDICTION_ID = "field 'prediction_id' must be a string"
BAD_LABEL = "field 'label' must be {hint}"


@dataclass(frozen=True)
class RouteContext:
    """What these routes share with the rest of the server."""

    lookup: Callable[[str], object]          # ServedModel, or the JSONResponse refusing it
    capture: Callable[[pa.Table, str, str], Awaitable[None]]
    quarantine: Callable[[str, int | None, list[dict], str | None], Awaitable[None]]
    reject: Callable[..., Awaitable[Response]]
    metrics: ServeMetrics
    events: PendingEvents


def _key(request: Request) -> str:
    """The name of the API key behind ``request`` (``no-auth`` when keys are off)."""
    return getattr(request.state, "caller", NO_AUTH_CALLER).key


def log_router(ctx: RouteContext) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/models/{name}/log")
    async def log(name: str, request: Request) -> Response:
        response = await _log(ctx, name, await request.body(), _key(request))
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
        response = await _feedback(ctx, name, await request.body(), _key(request))
        ctx.metrics.requests.labels(name, "feedback", str(response.status_code)).inc()
        return response

    return router


async def _log(ctx: RouteContext, name: str, body: bytes, key: str) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    version = served.registered.version
    payload, problem = parse_body(body)
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body, key=key)
    default_ts, ts_problem = parse_timestamp(payload.get("timestamp"))
    batch = read_logged_rows(served.spec, payload["rows"], default_ts=default_ts)
    errors = ([ts_problem] if ts_problem else []) + batch.errors
    if errors:
        return await ctx.reject(name, version, errors, payload_rows=payload["rows"], raw=body,
                                key=key)
    return await _capture_batch(ctx, name, served.spec, version, batch, key=key)


async def _capture_batch(ctx: RouteContext, name: str, spec: ModelSpec, version: int,
                         batch: LoggedBatch, *, key: str, request_id: str | None = None) -> Response:
    table, ids = prediction_table(spec, version, batch.frame, batch.outputs, ts=batch.timestamps,
                                  prediction_ids=batch.prediction_ids, request_id=request_id,
                                  key=key)
    try:
        await ctx.capture(table, "predictions", name)
    except SpoolFullError as exc:
        ctx.metrics.capture_failures.inc()
        return error_response(503, str(exc))
    ctx.metrics.rows_logged.labels(name).inc(len(ids))
    return ORJSONResponse({"model": name, "version": version, "status": "logged",
                           "accepted": len(ids), "prediction_ids": ids})


async def _event(ctx: RouteContext, name: str, request: Request) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    spec, version = served.spec, served.registered.version
    body, key = await request.body(), _key(request)
    headers, problem = read_headers(request.headers)
    if problem is None:
        payload, problem = _json(body, headers.half)
    if problem is None:
        decoded, problem = decode_half(spec, headers.half, payload)
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body, key=key)
    result = ctx.events.offer(EventHalf(name, version, headers.event_id, headers.half, decoded,
                                        body, time=headers.time, key=key))
    await quarantine_expired(ctx, ctx.events.expire())
    if not isinstance(result, Pair):
        return ORJSONResponse({"model": name, "id": headers.event_id, "status": result})
    rows, problem = pair_rows(result)
    batch = read_logged_rows(spec, rows) if rows is not None else None
    errors = [problem] if problem is not None else batch.errors
    if errors:
        raw = b'{"request": %s, "response": %s}' % (result.request.body, result.response.body)
        return await ctx.reject(name, version, errors, payload_rows=rows, raw=raw, key=key)
    return await _capture_batch(ctx, name, spec, version, batch, key=key,
                                request_id=headers.event_id)


def _json(body: bytes, half: str) -> tuple[object, RowError | None]:
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        return None, RowError(None, None, "json", NOT_JSON.format(half=half, error=exc))


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
        await ctx.quarantine(model, version, rows, key)


async def _feedback(ctx: RouteContext, name: str, body: bytes, key: str) -> Response:
    """Ground truth read through the output kind: a class (index or name) for
    classifiers, stored as ``y_true``; a number for regression, stored as ``y_value``."""
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    spec, version = served.spec, served.registered.version
    payload, problem = parse_body(body, key="labels")
    labels = payload.get("labels") if payload else None
    errors = [problem] if problem else _feedback_errors(labels, spec)
    received, ts_problem = parse_timestamp(payload.get("timestamp")) if payload else (None, None)
    errors += [ts_problem] if ts_problem else []
    if errors:
        return await ctx.reject(name, version, errors, payload_rows=labels, raw=body, key=key)
    kind = output_kind(spec)
    truths = [kind.truth(item["label"], spec) for item in labels]
    ids = [item["prediction_id"] for item in labels]
    table = feedback_table(ids, truths if kind.is_classifier else None,
                           y_value=None if kind.is_classifier else truths,
                           received_at=received.to_pydatetime() if received is not None else None,
                           key=key)
    try:
        await ctx.capture(table, "feedback", name)
    except SpoolFullError as exc:
        return error_response(503, str(exc))
    ctx.metrics.labels_received.labels(name).inc(len(labels))
    return ORJSONResponse({"model": name, "accepted": len(labels)})


def _feedback_errors(items: object, spec: ModelSpec) -> list[RowError]:
    if not isinstance(items, list) or not items:
        return [RowError(None, "labels", "type", NOT_A_LIST)]
    kind, errors = output_kind(spec), []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(RowError(i, None, "type", NOT_AN_OBJECT))
            continue
        if not isinstance(item.get("prediction_id"), str):
            errors.append(RowError(i, "prediction_id", "missing" if "prediction_id" not in item
                                   else "type", BAD_PREDICTION_ID))
        if kind.truth(item.get("label"), spec) is None:
            errors.append(RowError(i, "label", "isin", BAD_LABEL.format(hint=kind.truth_hint(spec)),
                                   item.get("label")))
    return errors
