"""``POST /v1/models/{name}/feedback``: ground truth that cannot rewrite the evidence.

A label is taken only for a prediction id this model served (unknown ids: 422 naming
them); the first label of an id stands (a second one: 409), unless it is sent as a
correction (``"correction": true`` and a ``"reason"``, see
:mod:`raigov.models.serving.feedback_body`), which is kept beside the first label and
recorded in the ledger before it is captured: one ``feedback.corrected`` event per
request, naming the model, version, ids and reasons. Label values stay out of the
ledger (they live in the lake, where retention and erasure can reach them; the ledger
is forever). A request is atomic: any refused label refuses them all, and every label
of a refused request is quarantined with the reasons. Which ids were served and
labelled: :mod:`raigov.models.serving.served_ids`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse, ORJSONResponse, Response

from raigov.canonical import utcnow
from raigov.errors import CaptureError, CatalogBusyError
from raigov.home import Home
from raigov.models.capture.records import feedback_table
from raigov.models.output_kinds import output_kind
from raigov.models.serving.auth import NO_AUTH_CALLER, Caller
from raigov.models.serving.feedback_body import LabelItem, read_feedback
from raigov.models.serving.http_bodies import error_response, parse_body, parse_timestamp
from raigov.models.serving.limits import read_body, too_many_rows
from raigov.models.serving.served_ids import IdStatus
from raigov.models.spec import ModelSpec
from raigov.models.validation import RowError

if TYPE_CHECKING:
    from raigov.models.serving.log_routes import RouteContext

UNKNOWN_ID = ("prediction_id {id!r} was never served by model '{model}': this server did not "
              "capture it and the lake does not hold it (an id another process served "
              "within its seal interval is not sealed yet: retry shortly)")
ALREADY_LABELLED = ("prediction_id {id!r} of model '{model}' already has a label, and the first "
                    "label stands; to change it send a correction (\"correction\": true and a "
                    "\"reason\")")
NOTHING_TO_CORRECT = ("prediction_id {id!r} of model '{model}' has no label to correct; send "
                      "its first label without \"correction\"")
CORRECTION_EVENT = "feedback.corrected"
NO_AUTH_ACTOR = "raigov serve (no authentication)"


async def take_feedback(ctx: "RouteContext", name: str, request: Request,
                        caller: Caller) -> Response:
    served = ctx.lookup(name)
    if isinstance(served, JSONResponse):
        return served
    spec, version = served.spec, served.registered.version
    body, refused = await read_body(request, ctx.limits)
    if refused is not None:
        return await ctx.reject(name, version, [refused], payload_rows=None, raw=body,
                                key=caller.key)
    payload, problem = parse_body(body, key="labels")
    labels = payload.get("labels") if payload else None
    if problem is None:
        problem = too_many_rows(labels, ctx.limits, what="labels", field="labels")
    if problem is not None:
        return await ctx.reject(name, version, [problem], payload_rows=None, raw=body,
                                key=caller.key)
    items, errors = read_feedback(payload, spec)
    received, ts_problem = parse_timestamp(payload.get("timestamp"))
    errors += [ts_problem] if ts_problem else []
    errors += ctx.event_time_errors([(None, "timestamp", received)], caller)
    if errors:
        return await ctx.reject(name, version, errors, payload_rows=labels, raw=body,
                                key=caller.key)
    ids = [item.prediction_id for item in items]
    status = await ctx.served_ids.status(name, ids)
    errors = integrity_errors(items, status, model=name)
    plain = [item.prediction_id for item in items if not item.correction]
    if not errors:        # labelled by a concurrent request while this one looked
        raced = ctx.served_ids.labelled_here(name, plain)
        errors = integrity_errors(items, IdStatus([], [*status.labelled, *raced]), model=name)
    if errors:
        status_code = 422 if any(e.check == "unknown" for e in errors) else 409
        return await ctx.reject(name, version, errors, payload_rows=labels, raw=body,
                                status=status_code, key=caller.key)
    ctx.served_ids.add_labelled(name, plain)    # reserved now: the next request sees them
    response = None
    try:
        response = await _take(ctx, name, spec, version, items, received, caller)
    finally:
        if response is None or response.status_code != 200:
            ctx.served_ids.forget_labelled(name, plain)
    return response


async def _take(ctx: "RouteContext", name: str, spec: ModelSpec, version: int,
                items: list[LabelItem], received: pd.Timestamp | None,
                caller: Caller) -> Response:
    kind = output_kind(spec)
    corrections = [item for item in items if item.correction]
    moment = received.to_pydatetime() if received is not None else utcnow()
    seq = None
    try:
        if corrections:
            seq = await asyncio.get_running_loop().run_in_executor(None, lambda: record_corrections(
                ctx.home, model=name, version=version, items=corrections,
                actor=_actor(caller), received_at=moment))
        truths = [item.truth for item in items]
        table = feedback_table([item.prediction_id for item in items],
                               truths if kind.is_classifier else None,
                               y_value=None if kind.is_classifier else truths, received_at=moment,
                               correction=[item.correction for item in items],
                               reason=[item.reason for item in items], key=caller.key)
        await ctx.capture(table, "feedback", name)
    except (CaptureError, CatalogBusyError) as exc:
        return error_response(503, str(exc))
    ctx.served_ids.add_labelled(name, [item.prediction_id for item in corrections])
    ctx.metrics.labels_received.labels(name).inc(len(items))
    answer = {"model": name, "accepted": len(items), "corrections": len(corrections)}
    return ORJSONResponse(answer if seq is None else {**answer, "ledger_seq": seq})


def _actor(caller: Caller) -> str:
    """Who a ledger event names: the API key, or the unauthenticated server."""
    return NO_AUTH_ACTOR if caller is NO_AUTH_CALLER else f"api key '{caller.key}'"


def integrity_errors(items: list[LabelItem], status: IdStatus, *, model: str) -> list[RowError]:
    """Unknown ids (check ``unknown``), second labels that are not corrections and
    corrections with nothing to correct (check ``first_label``), one error per label."""
    unknown, labelled = set(status.unknown), set(status.labelled)
    errors = []
    for i, item in enumerate(items):
        pid = item.prediction_id
        if pid in unknown:
            errors.append(RowError(i, "prediction_id", "unknown",
                                   UNKNOWN_ID.format(id=pid, model=model), pid))
        elif pid in labelled and not item.correction:
            errors.append(RowError(i, "prediction_id", "first_label",
                                   ALREADY_LABELLED.format(id=pid, model=model), pid))
        elif pid not in labelled and item.correction:
            errors.append(RowError(i, "correction", "first_label",
                                   NOTHING_TO_CORRECT.format(id=pid, model=model), pid))
    return errors


def record_corrections(home: Home, *, model: str, version: int, items: list[LabelItem],
                       actor: str, received_at: dt.datetime) -> int:
    """The ledger event of one request's corrections (before their rows are captured:
    a correction is never in the lake without its event). Returns its sequence number."""
    from raigov.ledger.chain import append_event
    from raigov.store.catalog import catalog

    payload = {"model": model, "version": version, "count": len(items),
               "received_at": received_at,
               "corrections": [{"prediction_id": i.prediction_id, "reason": i.reason}
                               for i in items]}
    with catalog(home) as con:
        event = append_event(con, CORRECTION_EVENT, actor=actor, subject=f"{model}@{version}",
                             payload=payload)
    return event.seq
