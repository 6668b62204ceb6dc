"""The body of ``POST /v1/models/{name}/feedback``, read and checked before any label
is taken::

    {"labels": [{"prediction_id": "0193...", "label": ">50K"}, ...],
     "timestamp": "2026-03-04T10:00:00Z",           # optional: when the labels arrived
     "correction": true, "reason": "re-audited"}    # optional: the request's default

A label is the class (index or name) for classifiers, the true value for regression.
The first label of a prediction id stands; a second one is refused unless it is sent
as a correction: ``"correction": true`` with a non-empty ``"reason"``, on the item or
for the whole request (an item's own fields win). A prediction id appears at most once
in a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from raigov.errors import did_you_mean
from raigov.models.output_kinds import output_kind
from raigov.models.spec import ModelSpec
from raigov.models.validation import RowError

BODY_FIELDS = ("labels", "timestamp", "correction", "reason")
ITEM_FIELDS = ("prediction_id", "label", "correction", "reason")
MAX_REASON_LENGTH = 1000

NOT_A_LIST = "'labels' must be a non-empty list"
NOT_AN_OBJECT = "label must be a JSON object"
BAD_PREDICTION_ID = "field 'prediction_id' must be a string"
BAD_LABEL = "field 'label' must be {hint}"
UNKNOWN_BODY_FIELD = ("field '{field}' is not part of a feedback body (allowed: {allowed})."
                      "{hint}")
UNKNOWN_ITEM_FIELD = "field '{field}' is not part of a label (allowed: {allowed}).{hint}"
BAD_CORRECTION = "field 'correction' must be true or false"
BAD_REASON = (f"field 'reason' must be a non-empty string of at most {MAX_REASON_LENGTH} "
              "characters")
NO_REASON = ("a correction needs a 'reason' (on the label or for the request): a non-empty "
             "string saying why the label changes")
REASON_WITHOUT_CORRECTION = ("field 'reason' explains a correction; send it with "
                             "\"correction\": true (a first label needs no reason)")
REPEATED_ID = ("prediction_id {id!r} appears more than once in the request (labels {rows}); "
               "send one label per id")


@dataclass(frozen=True)
class LabelItem:
    """One checked label: ``truth`` is the class index (classifiers) or the value."""

    prediction_id: str
    truth: Any
    correction: bool
    reason: str | None


def read_feedback(payload: dict, spec: ModelSpec) -> tuple[list[LabelItem], list[RowError]]:
    """Every label of the body, or every problem found (none: all labels are good)."""
    errors = _body_errors(payload)
    items = payload.get("labels")
    if not isinstance(items, list) or not items:
        return [], errors + [RowError(None, "labels", "type", NOT_A_LIST)]
    default_correction = payload.get("correction", False)
    default_reason = payload.get("reason")
    read = [_item(i, item, spec, default_correction, default_reason, errors)
            for i, item in enumerate(items)]
    errors += _repeated([item.get("prediction_id") if isinstance(item, dict) else None
                         for item in items])
    if "reason" in payload and not any(item.correction for item in read if item is not None) \
            and not any(e.field == "correction" for e in errors):
        errors.append(RowError(None, "reason", "correction", REASON_WITHOUT_CORRECTION))
    errors.sort(key=lambda e: -1 if e.row is None else e.row)
    return ([item for item in read if item is not None] if not errors else []), errors


def _body_errors(payload: dict) -> list[RowError]:
    errors = [RowError(None, str(key), "unknown", UNKNOWN_BODY_FIELD.format(
        field=key, allowed=", ".join(BODY_FIELDS), hint=did_you_mean(str(key), BODY_FIELDS)))
        for key in payload if key not in BODY_FIELDS]
    if not isinstance(payload.get("correction", False), bool):
        errors.append(RowError(None, "correction", "type", BAD_CORRECTION, payload["correction"]))
    if "reason" in payload and not _is_reason(payload["reason"]):
        errors.append(RowError(None, "reason", "type", BAD_REASON, payload["reason"]))
    return errors


def _item(i: int, item: object, spec: ModelSpec, default_correction: object,
          default_reason: object, errors: list[RowError]) -> LabelItem | None:
    if not isinstance(item, dict):
        errors.append(RowError(i, None, "type", NOT_AN_OBJECT))
        return None
    before = len(errors)
    for key in item:
        if key not in ITEM_FIELDS:
            errors.append(RowError(i, str(key), "unknown", UNKNOWN_ITEM_FIELD.format(
                field=key, allowed=", ".join(ITEM_FIELDS), hint=did_you_mean(str(key), ITEM_FIELDS))))
    pid = item.get("prediction_id")
    if not isinstance(pid, str):
        errors.append(RowError(i, "prediction_id", "missing" if "prediction_id" not in item
                               else "type", BAD_PREDICTION_ID))
    kind = output_kind(spec)
    truth = kind.truth(item.get("label"), spec)
    if truth is None:
        errors.append(RowError(i, "label", "isin", BAD_LABEL.format(hint=kind.truth_hint(spec)),
                               item.get("label")))
    correction = item.get("correction", default_correction)
    reason = item.get("reason", default_reason)
    if not isinstance(correction, bool):
        errors.append(RowError(i, "correction", "type", BAD_CORRECTION, correction))
    elif "reason" in item and not _is_reason(item["reason"]):
        errors.append(RowError(i, "reason", "type", BAD_REASON, item["reason"]))
    elif correction and reason is None:
        errors.append(RowError(i, "reason", "missing", NO_REASON))
    elif not correction and "reason" in item:
        errors.append(RowError(i, "reason", "correction", REASON_WITHOUT_CORRECTION))
    if len(errors) > before or not isinstance(pid, str):
        return None
    return LabelItem(pid, truth, bool(correction), reason if correction else None)


def _is_reason(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= MAX_REASON_LENGTH


def _repeated(ids: Sequence[object]) -> list[RowError]:
    where: dict[str, list[int]] = {}
    for i, pid in enumerate(ids):
        if isinstance(pid, str):
            where.setdefault(pid, []).append(i)
    return [RowError(i, "prediction_id", "unique", REPEATED_ID.format(id=pid, rows=rows), pid)
            for pid, rows in where.items() if len(rows) > 1 for i in rows]
