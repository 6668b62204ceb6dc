"""What a model's output means: one strategy object per output kind (binary, multiclass,
regression), registered in :data:`OUTPUT_KINDS` through the same door a user's own
kind would take. Each kind owns what used to be written as ``if kind == "binary"``:
how a raw model output becomes the predicted class, score, value and class
probabilities; what a response row holds; how a ground-truth label is read; and which
spec fields it needs.

Lake contract (one schema for every kind; see :mod:`raigov.models.capture.records`):

============== ======== =============================================================
column         type     meaning
============== ======== =============================================================
label          BIGINT   predicted class index into ``spec.classes`` (NULL: regression)
score          DOUBLE   binary: P(positive class); multiclass: P(predicted class)
value          DOUBLE   regression: the predicted value (NULL for classifiers)
probabilities  DOUBLE[] multiclass: P(class) in ``spec.classes`` order
y_true         BIGINT   feedback, classifiers: the true class index
y_value        DOUBLE   feedback, regression: the true value
============== ======== =============================================================

Monitors see ``y_true`` as the true class index (classifiers) or the true value
(regression), NaN where no label has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from raigov.registry import Registry

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

BAD_SHAPE = ("model {model!r} ({kind}) returned an output of shape {shape}; expected "
             "{expected}")
CLASSES_NEEDED = "a {kind} classifier needs 'classes' ({least} or more class names)"
NO_CLASSES = "a regression model has no 'classes'; remove the field"
POSITIVE_NOT_A_CLASS = "positive_class {positive!r} is not one of classes {classes}"


@dataclass(frozen=True)
class Outputs:
    """A batch of predictions, typed for the kind (absent parts are None)."""

    label: np.ndarray | None = None          # int64 [n]
    score: np.ndarray | None = None          # float64 [n]
    value: np.ndarray | None = None          # float64 [n]
    probabilities: np.ndarray | None = None  # float64 [n, k]

    def __len__(self) -> int:
        for part in (self.label, self.value, self.score):
            if part is not None:
                return len(part)
        return 0

    def finite(self) -> bool:
        parts = [p for p in (self.score, self.value, self.probabilities) if p is not None]
        return all(bool(np.all(np.isfinite(p))) for p in parts)

    def take(self, rows: slice | np.ndarray) -> "Outputs":
        return Outputs(*(None if p is None else p[rows]
                         for p in (self.label, self.score, self.value, self.probabilities)))


class OutputKind:
    """The strategy interface; subclasses are the kinds."""

    name: ClassVar[str]
    is_classifier: ClassVar[bool]
    #: the lake column whose distribution ``drift.prediction`` compares with the
    #: reference's, and whether it is "numerical" or "categorical"
    prediction_column: ClassVar[str]
    prediction_drift_kind: ClassVar[str]
    #: y_true and the prediction share a scale, so ``y_true - value`` is a residual
    has_residuals: ClassVar[bool] = False

    def spec_problems(self, spec: "ModelSpec") -> list[str]:
        """What the spec lacks or holds wrongly for this kind (empty: fine)."""
        return []

    def outputs(self, raw: np.ndarray, spec: "ModelSpec") -> Outputs:
        """The model's raw output (logits or probabilities per ``spec.returns``, or
        values) as typed predictions. Raises ValueError on a wrong shape."""
        raise NotImplementedError

    def response_rows(self, outputs: Outputs, spec: "ModelSpec") -> list[dict[str, Any]]:
        """The per-row part of a predict response (without the prediction id)."""
        raise NotImplementedError

    def truth(self, value: object, spec: "ModelSpec") -> float | int | None:
        """A ground-truth label as stored (class index or value), None if invalid."""
        raise NotImplementedError

    def truth_hint(self, spec: "ModelSpec") -> str:
        """What a valid label looks like, for error messages."""
        raise NotImplementedError

    # JSON Schemas of the kind's parts of the HTTP API (the served OpenAPI document)
    def truth_schema(self, spec: "ModelSpec") -> dict[str, Any]:
        """A feedback ``label``."""
        raise NotImplementedError

    def outputs_schema(self, spec: "ModelSpec") -> dict[str, Any]:
        """A ``/log`` row's ``outputs``."""
        raise NotImplementedError

    def response_row_schema(self, spec: "ModelSpec") -> dict[str, Any]:
        """One prediction of a predict response, without ``prediction_id``."""
        raise NotImplementedError


def _as_2d(raw: np.ndarray) -> np.ndarray:
    out = np.asarray(raw, dtype=np.float64)
    return out[:, None] if out.ndim == 1 else out


def _class_index(value: object, classes: tuple[str, ...]) -> int | None:
    if isinstance(value, bool):
        return int(value) if len(classes) == 2 else None
    if isinstance(value, (int, np.integer)) and 0 <= int(value) < len(classes):
        return int(value)
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    return None


def _class_label_schema(classes: tuple[str, ...]) -> dict[str, Any]:
    """A class given by its index or its name (booleans for two classes)."""
    choices: list[dict[str, Any]] = [{"type": "integer", "minimum": 0, "maximum": len(classes) - 1},
                                     {"type": "string", "enum": list(classes)}]
    if len(classes) == 2:
        choices.append({"type": "boolean"})
    return {"anyOf": choices}


def _object(properties: dict[str, Any], *, required: tuple[str, ...] = (),
            at_least_one: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = list(required)
    if at_least_one:
        out["minProperties"] = 1
    return out


_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}


class BinaryKind(OutputKind):
    name = "binary"
    is_classifier = True
    prediction_column = "score"
    prediction_drift_kind = "numerical"

    def spec_problems(self, spec):
        if len(spec.classes) != 2:
            return [CLASSES_NEEDED.format(kind="binary", least=2).replace(" or more", "")]
        if spec.positive_class not in spec.classes:
            return [POSITIVE_NOT_A_CLASS.format(positive=spec.positive_class,
                                                classes=list(spec.classes))]
        return []

    def outputs(self, raw, spec):
        x = _as_2d(raw)
        if x.ndim != 2 or x.shape[1] != 1:
            raise ValueError(BAD_SHAPE.format(model=spec.name, kind=self.name,
                                              shape=tuple(np.shape(raw)), expected="[N] or [N, 1]"))
        col = x[:, 0]
        score = col if spec.returns == "probabilities" else _sigmoid(col)
        positive = spec.classes.index(spec.positive_class)
        hit = score >= spec.threshold
        label = np.where(hit, positive, 1 - positive).astype(np.int64)
        return Outputs(label=label, score=score)

    def response_rows(self, outputs, spec):
        return [{"label": int(lab), "class": spec.classes[int(lab)], "score": float(s)}
                for lab, s in zip(outputs.label, outputs.score)]

    def truth(self, value, spec):
        return _class_index(value, spec.classes)

    def truth_hint(self, spec):
        return f"one of {list(range(len(spec.classes)))} or {list(spec.classes)}"

    def truth_schema(self, spec):
        return _class_label_schema(spec.classes)

    def outputs_schema(self, spec):
        return _object({"label": _class_label_schema(spec.classes), "score": _PROBABILITY},
                       at_least_one=True)

    def response_row_schema(self, spec):
        return _object({"label": {"type": "integer", "minimum": 0, "maximum": 1},
                        "class": {"type": "string", "enum": list(spec.classes)},
                        "score": _PROBABILITY}, required=("label", "class", "score"))


class MulticlassKind(OutputKind):
    name = "multiclass"
    is_classifier = True
    prediction_column = "label"
    prediction_drift_kind = "categorical"

    def spec_problems(self, spec):
        return [] if len(spec.classes) >= 3 else [CLASSES_NEEDED.format(kind="multiclass", least=3)]

    def outputs(self, raw, spec):
        x = np.asarray(raw, dtype=np.float64)
        k = len(spec.classes)
        if x.ndim != 2 or x.shape[1] != k:
            raise ValueError(BAD_SHAPE.format(model=spec.name, kind=self.name,
                                              shape=tuple(x.shape), expected=f"[N, {k}]"))
        proba = x if spec.returns == "probabilities" else _softmax(x)
        label = np.argmax(proba, axis=1).astype(np.int64)
        score = proba[np.arange(len(proba)), label]
        return Outputs(label=label, score=score, probabilities=proba)

    def response_rows(self, outputs, spec):
        return [{"label": int(lab), "class": spec.classes[int(lab)], "score": float(s),
                 "probabilities": dict(zip(spec.classes, map(float, p)))}
                for lab, s, p in zip(outputs.label, outputs.score, outputs.probabilities)]

    def truth(self, value, spec):
        return _class_index(value, spec.classes)

    def truth_hint(self, spec):
        return f"one of {list(range(len(spec.classes)))} or {list(spec.classes)}"

    def truth_schema(self, spec):
        return _class_label_schema(spec.classes)

    def outputs_schema(self, spec):
        k = len(spec.classes)
        as_list = {"type": "array", "items": _PROBABILITY, "minItems": k, "maxItems": k}
        as_map = _object({c: _PROBABILITY for c in spec.classes}, required=spec.classes)
        return _object({"label": _class_label_schema(spec.classes),
                        "probabilities": {"anyOf": [as_list, as_map]}}, at_least_one=True)

    def response_row_schema(self, spec):
        classes = list(spec.classes)
        return _object({"label": {"type": "integer", "minimum": 0, "maximum": len(classes) - 1},
                        "class": {"type": "string", "enum": classes}, "score": _PROBABILITY,
                        "probabilities": _object({c: _PROBABILITY for c in classes},
                                                 required=spec.classes)},
                       required=("label", "class", "score", "probabilities"))


class RegressionKind(OutputKind):
    name = "regression"
    is_classifier = False
    prediction_column = "value"
    prediction_drift_kind = "numerical"
    has_residuals = True

    def spec_problems(self, spec):
        return [NO_CLASSES] if spec.classes else []

    def outputs(self, raw, spec):
        x = _as_2d(raw)
        if x.ndim != 2 or x.shape[1] != 1:
            raise ValueError(BAD_SHAPE.format(model=spec.name, kind=self.name,
                                              shape=tuple(np.shape(raw)), expected="[N] or [N, 1]"))
        return Outputs(value=x[:, 0].copy())

    def response_rows(self, outputs, spec):
        return [{"value": float(v)} for v in outputs.value]

    def truth(self, value, spec):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        out = float(value)
        return out if np.isfinite(out) else None

    def truth_hint(self, spec):
        return "a finite number (the true value)"

    def truth_schema(self, spec):
        return {"type": "number"}

    def outputs_schema(self, spec):
        return _object({"value": {"type": "number"}}, required=("value",))

    def response_row_schema(self, spec):
        return _object({"value": {"type": "number"}}, required=("value",))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


OUTPUT_KINDS: Registry[OutputKind] = Registry("output kind")
for _kind in (BinaryKind(), MulticlassKind(), RegressionKind()):
    OUTPUT_KINDS.register(_kind.name, _kind)


def output_kind(spec_or_name: "ModelSpec | str") -> OutputKind:
    """The strategy of a spec (or of a kind's name)."""
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.output_kind
    return OUTPUT_KINDS.get(name)
