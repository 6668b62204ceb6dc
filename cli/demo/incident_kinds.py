"""The built-in incident kinds. Each registers through ``register_incident_kind``
exactly as a user's own would, and acts only through the hooks of
:class:`raigov.cli.demo.incidents.Incident`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from raigov.cli.demo.incidents import (Condition, Detection, Fleet, Incident, all_match,
                                   register_incident_kind)
from raigov.errors import ConfigError

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec


def _spec(fleet: Fleet, model: str) -> "ModelSpec":
    return fleet.demo_model(model).spec


def _is_classifier(spec: "ModelSpec") -> bool:
    from raigov.models.output_kinds import output_kind

    return output_kind(spec).is_classifier

NEEDS_VALUE = "fault 'new_category' needs 'value', the category upstream starts sending"
VALUE_UNUSED = "'value' is only used by fault 'new_category'"
ALREADY_FEATURE = "{column!r} is already a feature of {model!r}"
NEEDS_CLASSIFIER = ("{kind} changes class labels, but {model!r} is a {output_kind} model without "
                    "classes; use value_shift for the true values of a regression model")
NEEDS_VALUES = ("{kind} moves true values, but {model!r} is a {output_kind} classifier; use "
                "concept_shift for class labels")
NEEDS_TWO_CLASSES = ("{kind} turns a group's positive labels negative, so it needs a binary "
                     "classifier; {model!r} is a {output_kind} model with classes {classes}")
CHANGES_NOTHING = "value_shift with add 0 and factor 1 changes nothing"
MOVES_NOTHING = "a move of 0 standard deviations changes nothing"
SHIFT_NEEDS_ONE = "a covariate_shift needs 'oversample', 'move' or both"
NOT_NUMERICAL = "{model!r} column {column!r} is not numerical: only numerical columns move"
NOT_NEW = ("{value!r} is not a new category of {model!r} column {column!r}: the schema "
           "allows {allowed}")


class Oversample(Condition):
    """Rows matching the condition are ``factor`` times as likely to be drawn."""

    factor: float = Field(gt=0)


class Move(BaseModel):
    """A numerical ``column`` arrives ``std`` of its standard deviation (in the model's
    reference data) higher, rounded like the column's values (``std`` < 0: lower)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    std: float

    @model_validator(mode="after")
    def _moves(self) -> "Move":
        if self.std == 0:
            raise ValueError(MOVES_NOTHING)
        return self


@register_incident_kind
class CovariateShift(Incident):
    """The population changes: a day's rows are drawn from the held-out rows with
    weights (the product of the ``oversample`` factors a row matches) instead of
    uniformly, and/or a numerical column arrives moved by a share of its standard
    deviation (``move``). The model and the ground truth stay as they were."""

    kind: Literal["covariate_shift"] = "covariate_shift"
    oversample: tuple[Oversample, ...] = ()
    move: tuple[Move, ...] = ()
    _steps: dict[str, tuple[float, float | None, float | None]] = PrivateAttr(
        default_factory=dict)     # column -> (step, schema min, schema max), by prepare

    @model_validator(mode="after")
    def _shifts(self) -> "CovariateShift":
        if not self.oversample and not self.move:
            raise ValueError(SHIFT_NEEDS_ONE)
        return self

    def columns(self) -> list[str]:
        return [o.column for o in self.oversample] + [m.column for m in self.move]

    def prepare(self, fleet: Fleet) -> None:
        """The size of each move, from the reference's standard deviation; moved values
        stay within the schema's range (a value past it would be refused)."""
        demo = fleet.demo_model(self.model)
        for move in self.move:
            values = demo.reference[move.column]
            if not pd.api.types.is_numeric_dtype(values):
                raise ConfigError(NOT_NUMERICAL.format(model=self.model, column=move.column))
            schema = demo.spec.inputs.column(move.column)
            self._steps[move.column] = (move.std * float(values.std()), schema.min, schema.max)

    def corrupt(self, rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        if not self._steps:
            return rows
        moved = rows.copy()
        for column, (step, low, high) in self._steps.items():
            values = (moved[column].astype(float) + step).clip(low, high)
            whole = pd.api.types.is_integer_dtype(rows[column])
            moved[column] = values.round().astype(rows[column].dtype) if whole else values
        return moved

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        return (Detection(metric="drift.share_drifted"), Detection(metric="drift.dataset_drift"))

    def sampling_weights(self, pool: pd.DataFrame) -> np.ndarray:
        weights = np.ones(len(pool))
        for rule in self.oversample:
            weights[rule.mask(pool)] *= rule.factor
        return weights


@register_incident_kind
class DataFault(Incident):
    """An upstream system breaks: in a ``share`` of the requests, ``column`` arrives
    null (``fault: null``) or with a category the schema does not know (``fault:
    new_category``, ``value``). Null in a nullable column is accepted and raises its
    missing rate; anything the schema refuses gets a 422 and is quarantined."""

    kind: Literal["data_fault"] = "data_fault"
    column: str
    fault: Literal["null", "new_category"]
    value: str | None = None
    share: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _value_fits(self) -> "DataFault":
        if self.fault == "new_category" and self.value is None:
            raise ValueError(NEEDS_VALUE)
        if self.fault == "null" and self.value is not None:
            raise ValueError(VALUE_UNUSED)
        return self

    def columns(self) -> list[str]:
        return [self.column]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        accepted = self.fault == "null" and spec.inputs.column(self.column).nullable
        if accepted:
            return (Detection(metric="quality.missing_rate", segment=f"column={self.column}"),
                    Detection(metric="quality.missing_rate", segment="all"))
        return (Detection(metric="quality.quarantine_rate"),)

    def prepare(self, fleet: Fleet) -> None:
        column = fleet.demo_model(self.model).spec.inputs.column(self.column)
        allowed = column.allowed
        if self.fault == "new_category" and (allowed is None or self.value in allowed):
            raise ConfigError(NOT_NEW.format(value=self.value, model=self.model,
                                             column=self.column, allowed=allowed or "any value"))

    def corrupt(self, rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        if rng.random() >= self.share:
            return rows
        broken = rows.astype({self.column: object})
        broken[self.column] = self.value
        return broken


@register_incident_kind
class BiasedVersion(Incident):
    """A new model version, trained on data that under-records the good outcomes of
    one group (a ``flip_share`` of the positive labels of the rows matching every
    ``penalise`` condition turned negative), optionally with sensitive attributes added
    as features (``add_features``). Registered on ``day``; the server restarts to serve
    it. After ``until`` the version it replaced is registered again and served."""

    kind: Literal["biased_version"] = "biased_version"
    penalise: Condition | tuple[Condition, ...]
    flip_share: float = Field(gt=0, le=1)
    add_features: tuple[str, ...] = ()

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.penalise if isinstance(self.penalise, tuple) else (self.penalise,)

    def columns(self) -> list[str]:
        return [*(c.column for c in self.conditions), *self.add_features]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        segment = "&".join(c.column for c in self.conditions)
        return (Detection(metric="fairness.selection_rate_ratio", segment=segment),)

    def prepare(self, fleet: Fleet) -> None:
        spec = fleet.demo_model(self.model).spec
        if not _is_classifier(spec) or len(spec.classes) != 2:
            raise ConfigError(NEEDS_TWO_CLASSES.format(kind=self.kind, model=self.model,
                                                       output_kind=spec.output_kind,
                                                       classes=list(spec.classes)))
        for column in self.add_features:
            if column in spec.features:
                raise ConfigError(ALREADY_FEATURE.format(column=column, model=self.model))
        rows = fleet.training_rows(self.model)
        rng = np.random.default_rng([fleet.seed, 0xB1A5])
        flip = (all_match(self.conditions, rows) & (rows["y_true"] == 1).to_numpy()
                & (rng.random(len(rows)) < self.flip_share))
        rows = rows.assign(y_true=np.where(flip, 0, rows["y_true"]))
        spec = spec.model_copy(update={"features": spec.features + self.add_features})
        fleet.resources[self.label] = (fleet.train_version(self.model, rows, spec=spec),
                                       spec, rows)

    def start_day(self, fleet: Fleet) -> None:
        trained, spec, rows = fleet.resources[self.label]
        fleet.register_version(self.model, trained=trained, spec=spec, train_rows=rows)
        fleet.restart_server()

    def end_day(self, fleet: Fleet) -> None:
        fleet.restore_version(self.model)
        fleet.restart_server()


@register_incident_kind
class ConceptShift(Incident):
    """The world changes under the model: for rows matching every ``where`` condition,
    a ``share`` of the ground truth that is not ``to`` becomes ``to``. Inputs and
    predictions stay as they were; only the labels, which arrive days later, tell."""

    kind: Literal["concept_shift"] = "concept_shift"
    where: tuple[Condition, ...] = Field(min_length=1)
    to: Literal[0, 1] = 1
    share: float = Field(gt=0, le=1)

    def columns(self) -> list[str]:
        return [c.column for c in self.where]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        missed = "performance.recall" if self.to == 1 else "performance.precision"
        return (Detection(metric=missed),)

    def prepare(self, fleet: Fleet) -> None:
        spec = _spec(fleet, self.model)
        if not _is_classifier(spec):
            raise ConfigError(NEEDS_CLASSIFIER.format(kind=self.kind, model=self.model,
                                                      output_kind=spec.output_kind))

    def relabel(self, rows: pd.DataFrame, y_true: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        draw = rng.random(len(rows))
        flip = all_match(self.where, rows) & (y_true != self.to) & (draw < self.share)
        return np.where(flip, self.to, y_true)


@register_incident_kind
class ValueShift(Incident):
    """The world changes under a regression model: for rows matching every ``where``
    condition, a ``share`` of the true values become ``value * factor + add``. Inputs
    and predictions stay as they were; only the true values, which arrive days later,
    tell: the residuals drift and the error grows."""

    kind: Literal["value_shift"] = "value_shift"
    where: tuple[Condition, ...] = Field(min_length=1)
    add: float = 0.0
    factor: float = Field(default=1.0, gt=0)
    share: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _changes(self) -> "ValueShift":
        if self.add == 0 and self.factor == 1:
            raise ValueError(CHANGES_NOTHING)
        return self

    def columns(self) -> list[str]:
        return [c.column for c in self.where]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        return (Detection(metric="drift.residual"), Detection(metric="performance.mae"))

    def prepare(self, fleet: Fleet) -> None:
        spec = _spec(fleet, self.model)
        if _is_classifier(spec):
            raise ConfigError(NEEDS_VALUES.format(kind=self.kind, model=self.model,
                                                  output_kind=spec.output_kind))

    def relabel(self, rows: pd.DataFrame, y_true: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        draw = rng.random(len(rows))
        moved = all_match(self.where, rows) & (draw < self.share)
        return np.where(moved, y_true * self.factor + self.add, y_true)
