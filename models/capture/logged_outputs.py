"""Outputs a model served elsewhere made, as a caller logs them: read and checked per
output kind, then typed exactly like served predictions (:class:`Outputs`).

Which fields a logged row of each kind may carry is registered in
:data:`LOGGED_OUTPUTS` (the same door a user's own kind takes):

- binary: ``label`` (class index or name) and/or ``score`` (P(positive class));
- multiclass: ``label`` and/or ``probabilities`` (a list in ``classes`` order or a
  mapping class -> probability, summing to 1 within 1e-6);
- regression: ``value``.

Each kind names its ``raw`` field: the kind's own strategy turns it into the parts the
caller left out (a binary ``score`` gives the label through the model's threshold;
multiclass ``probabilities`` give the arg-max label and its probability), so a logged
row holds what the same prediction served by raigov would hold. A label the caller
gives is kept as given; with probabilities, ``score`` is then P(that label).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from raigov.errors import did_you_mean
from raigov.models.output_kinds import Outputs, output_kind
from raigov.models.spec import ModelSpec
from raigov.models.validation import RowError
from raigov.registry import Registry

SUM_TOLERANCE = 1e-6

NOT_AN_OBJECT = "field '{prefix}' must be an object with {fields}"
UNKNOWN_FIELD = ("field '{prefix}.{field}' is not an output of a {kind} model "
                 "(allowed: {allowed}).{hint}")
NO_OUTPUT = "row has no output: give at least one of {fields} in '{prefix}'"
BAD_LABEL = "field '{prefix}.label' must be {hint}"
BAD_SCORE = "field '{prefix}.score' must be a probability: a finite number in [0, 1]"
BAD_VALUE = "field '{prefix}.value' must be a finite number"
BAD_PROBABILITIES = ("field '{prefix}.probabilities' must be a list of {k} probabilities in "
                     "classes order {classes} or an object mapping each class to its "
                     "probability")
BAD_CLASSES = ("field '{prefix}.probabilities' must name each class once: missing {missing}, "
               "unknown {unknown} (classes: {classes})")
BAD_PROBABILITY = ("field '{prefix}.probabilities' must hold finite numbers in [0, 1]; "
                   "got {value!r} for class {cls!r}")
BAD_SUM = ("field '{prefix}.probabilities' must sum to 1 within {tolerance:g}; "
           "it sums to {total!r}")


@dataclass(frozen=True)
class LoggedFields:
    """What a logged row of one output kind may carry, and which field the kind's
    strategy (``OutputKind.outputs`` over probabilities) derives the rest from."""

    fields: tuple[str, ...]
    raw: str


LOGGED_OUTPUTS: Registry[LoggedFields] = Registry("logged output kind")
LOGGED_OUTPUTS.register("binary", LoggedFields(("label", "score"), raw="score"))
LOGGED_OUTPUTS.register("multiclass", LoggedFields(("label", "probabilities"), raw="probabilities"))
LOGGED_OUTPUTS.register("regression", LoggedFields(("value",), raw="value"))

Reader = Callable[[object, ModelSpec, str], tuple[Any, str | None]]


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _read_label(value: object, spec: ModelSpec, prefix: str) -> tuple[Any, str | None]:
    kind = output_kind(spec)
    index = kind.truth(value, spec)
    if index is None:
        return None, BAD_LABEL.format(prefix=prefix, hint=kind.truth_hint(spec))
    return int(index), None


def _read_score(value: object, spec: ModelSpec, prefix: str) -> tuple[Any, str | None]:
    score = _finite(value)
    if score is None or not 0.0 <= score <= 1.0:
        return None, BAD_SCORE.format(prefix=prefix)
    return score, None


def _read_value(value: object, spec: ModelSpec, prefix: str) -> tuple[Any, str | None]:
    number = _finite(value)
    return (number, None) if number is not None else (None, BAD_VALUE.format(prefix=prefix))


def _read_probabilities(value: object, spec: ModelSpec, prefix: str) -> tuple[Any, str | None]:
    classes = list(spec.classes)
    if isinstance(value, dict):
        missing = [c for c in classes if c not in value]
        unknown = [c for c in value if c not in classes]
        if missing or unknown:
            return None, BAD_CLASSES.format(prefix=prefix, missing=missing, unknown=unknown,
                                            classes=classes)
        value = [value[c] for c in classes]
    if not isinstance(value, list) or len(value) != len(classes):
        return None, BAD_PROBABILITIES.format(prefix=prefix, k=len(classes), classes=classes)
    out = []
    for cls, p in zip(classes, value):
        number = _finite(p)
        if number is None or not 0.0 <= number <= 1.0:
            return None, BAD_PROBABILITY.format(prefix=prefix, value=p, cls=cls)
        out.append(number)
    total = math.fsum(out)
    if abs(total - 1.0) > SUM_TOLERANCE:
        return None, BAD_SUM.format(prefix=prefix, tolerance=SUM_TOLERANCE, total=total)
    return out, None


READERS: dict[str, Reader] = {"label": _read_label, "score": _read_score, "value": _read_value,
                              "probabilities": _read_probabilities}


def read_outputs(spec: ModelSpec, outputs: Sequence[object], *,
                 prefix: str = "outputs") -> tuple[Outputs, list[RowError]]:
    """Typed outputs of every row, or the errors (row index and field named)."""
    allowed = LOGGED_OUTPUTS.get(spec.output_kind)
    parsed: dict[str, list[Any]] = {f: [None] * len(outputs) for f in allowed.fields}
    errors: list[RowError] = []
    for i, out in enumerate(outputs):
        errors += _read_row(spec, allowed, i, out, parsed, prefix)
    if errors:
        return Outputs(), errors
    return _assemble(spec, allowed, parsed, len(outputs)), []


def _read_row(spec: ModelSpec, allowed: LoggedFields, i: int, out: object,
              parsed: dict[str, list[Any]], prefix: str) -> list[RowError]:
    names = ", ".join(allowed.fields)
    if not isinstance(out, dict):
        return [RowError(i, prefix, "type", NOT_AN_OBJECT.format(prefix=prefix, fields=names))]
    errors = [RowError(i, f"{prefix}.{key}", "unknown", UNKNOWN_FIELD.format(
        prefix=prefix, field=key, kind=spec.output_kind, allowed=names,
        hint=did_you_mean(str(key), allowed.fields))) for key in out if key not in allowed.fields]
    present = [f for f in allowed.fields if out.get(f) is not None]
    if not present and not errors:
        errors.append(RowError(i, prefix, "missing", NO_OUTPUT.format(fields=names, prefix=prefix)))
    for field in present:
        value, problem = READERS[field](out[field], spec, prefix)
        if problem is None:
            parsed[field][i] = value
        else:
            errors.append(RowError(i, f"{prefix}.{field}", "invalid", problem, out[field]))
    return errors


def _assemble(spec: ModelSpec, allowed: LoggedFields, parsed: dict[str, list[Any]],
              n: int) -> Outputs:
    """Given parts where given, derived parts (through the kind's strategy) elsewhere;
    NaN where a row has no such part (stored as NULL)."""
    kind = output_kind(spec)
    parts: dict[str, np.ndarray | None] = {"label": None, "score": None, "value": None,
                                           "probabilities": None}
    raw_rows = [i for i in range(n) if parsed[allowed.raw][i] is not None]
    if raw_rows:
        as_given = spec.model_copy(update={"returns": "probabilities"})
        derived = kind.outputs(np.array([parsed[allowed.raw][i] for i in raw_rows],
                                        dtype=np.float64), as_given)
        for name in parts:
            got = getattr(derived, name)
            if got is not None:
                parts[name] = np.full((n,) + got.shape[1:], np.nan)
                parts[name][raw_rows] = got
    for name in allowed.fields:
        given = [i for i in range(n) if parsed[name][i] is not None]
        if given and name != allowed.raw:
            if parts[name] is None:
                parts[name] = np.full(n, np.nan)
            parts[name][given] = [parsed[name][i] for i in given]
    label, probabilities = parts["label"], parts["probabilities"]
    if label is not None and probabilities is not None:   # P(the predicted class)
        both = ~np.isnan(label) & ~np.isnan(probabilities[:, 0])
        parts["score"][both] = probabilities[both, label[both].astype(int)]
    if label is not None and not np.isnan(label).any():
        parts["label"] = label.astype(np.int64)
    return Outputs(**parts)
