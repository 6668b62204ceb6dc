"""Incidents the demo injects into its traffic, and the one registry of their kinds.

An incident kind is a frozen pydantic model that subclasses :class:`Incident` and goes
through :func:`register_incident_kind`, the built-ins (``raigov.cli.demo.incident_kinds``)
exactly like a user's own. The planner and the replay never ask which kind an incident
is: they call the hooks every kind has, whose defaults change nothing.

- :meth:`Incident.sampling_weights`: which held-out rows a day's traffic draws (a
  covariate shift draws more of some);
- :meth:`Incident.relabel`: the ground truth delivered later (a concept shift);
- :meth:`Incident.corrupt`: one request's rows as an upstream system sends them (a
  data fault);
- :meth:`Incident.prepare` before the traffic, :meth:`Incident.start_day` at the start
  of its first day (a new model version is trained, then registered and served),
  :meth:`Incident.end_day` at the start of the day after its last (the version it
  replaced is served again);
- :meth:`Incident.default_expectation`: which alerts should catch it, when the scenario
  does not say (``expect``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raigov.errors import ConfigError
from raigov.registry import Registry

if TYPE_CHECKING:
    from raigov.models.demo_models import DemoModel
    from raigov.models.spec import ModelSpec
    from raigov.models.tabular import TrainedModel
    from raigov.home import Home

BUILTIN_KIND_MODULES = ("raigov.cli.demo.incident_kinds", "raigov.cli.demo.incidents_text")
NO_KIND_NAME = "{cls} needs a default string for its 'kind' field"
NOT_AN_INCIDENT = "{cls} is not a subclass of raigov.cli.demo.incidents.Incident"
UNTIL_BEFORE_DAY = "'until' (day {until}) is before 'day' ({day})"
QUARANTINE_IS_A_METRIC = ("'quarantine: true' is not an expectation: rows the server refuses "
                          "are caught by a rule on their share, {metric: "
                          "quality.quarantine_rate}")
CONDITION_EMPTY = "a condition needs 'min', 'max' or 'values'"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Detection(_Frozen):
    """A rule that should catch an incident: its ``metric``, one exact metric name
    (``drift.share_drifted``, ``quality.quarantine_rate``), and where given its
    ``segment`` (``sex``, ``column=native_country``). An alert on any other metric or
    segment is no detection of this incident."""

    metric: str = Field(min_length=1)
    segment: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_quarantine(cls, data: Any) -> Any:
        if isinstance(data, dict) and "quarantine" in data:
            raise ValueError(QUARANTINE_IS_A_METRIC)
        return data

    def matches(self, *, metric: str, segment: str) -> bool:
        return metric == self.metric and (self.segment is None or segment == self.segment)

    def label(self) -> str:
        return self.metric + (f" [{self.segment}]" if self.segment else "")


class Condition(_Frozen):
    """Rows whose ``column`` lies in ``[min, max]`` and/or is one of ``values``."""

    column: str
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> "Condition":
        if self.min is None and self.max is None and self.values is None:
            raise ValueError(CONDITION_EMPTY)
        return self

    def mask(self, rows: pd.DataFrame) -> np.ndarray:
        values = rows[self.column]
        out = values.notna().to_numpy()
        if self.values is not None:
            out &= values.isin(list(self.values)).to_numpy()
        numeric = pd.to_numeric(values, errors="coerce") if self.min is not None \
            or self.max is not None else None
        if self.min is not None:
            out &= (numeric >= self.min).to_numpy()
        if self.max is not None:
            out &= (numeric <= self.max).to_numpy()
        return out


def all_match(conditions: tuple[Condition, ...], rows: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(rows), dtype=bool)
    for condition in conditions:
        mask &= condition.mask(rows)
    return mask


class Fleet(Protocol):
    """What an incident may do to the running demo (``raigov.cli.demo.fleet.Fleet``)."""

    home: "Home"
    seed: int
    resources: dict[str, Any]

    def demo_model(self, name: str) -> "DemoModel": ...

    def training_rows(self, name: str) -> pd.DataFrame: ...

    def train_version(self, name: str, rows: pd.DataFrame, *,
                      spec: "ModelSpec") -> "TrainedModel": ...

    def register_version(self, name: str, *, trained: "TrainedModel", spec: "ModelSpec",
                         train_rows: pd.DataFrame) -> int: ...

    def restore_version(self, name: str) -> int: ...

    def restart_server(self) -> None: ...


class Incident(BaseModel):
    """The fields every incident kind shares; a kind adds its parameters and hooks.
    ``day`` and ``until`` count from 1 (the first simulated day); no ``until``: the
    incident lasts to the scenario's last day (the loaded scenario sets it so)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    model: str
    day: int = Field(ge=1)
    until: int | None = Field(default=None, ge=1)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str = ""
    expect: tuple[Detection, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Incident":
        if self.until is not None and self.until < self.day:
            raise ValueError(UNTIL_BEFORE_DAY.format(until=self.until, day=self.day))
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.kind}-{self.model}-day{self.day}"

    def active(self, day: int) -> bool:
        return self.day <= day and (self.until is None or day <= self.until)

    def columns(self) -> list[str]:
        """The input columns the incident names (checked against the model's)."""
        return []

    def expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        return self.expect or self.default_expectation(spec)

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        raise NotImplementedError

    def sampling_weights(self, pool: pd.DataFrame) -> np.ndarray | None:
        return None

    def relabel(self, rows: pd.DataFrame, y_true: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        return y_true

    def corrupt(self, rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return rows

    def prepare(self, fleet: Fleet) -> None:
        """Before any traffic (e.g. train a model version)."""

    def start_day(self, fleet: Fleet) -> None:
        """At the start of the incident's first day, before that day's traffic."""

    def end_day(self, fleet: Fleet) -> None:
        """At the start of the day after the incident's last, before that day's traffic
        (only when the scenario goes on after it)."""


INCIDENT_KINDS: Registry[type[Incident]] = Registry("incident kind")


def register_incident_kind(cls: type[Incident]) -> type[Incident]:
    """Class decorator: make an incident kind usable in scenario files under its
    ``kind``."""
    if not (isinstance(cls, type) and issubclass(cls, Incident)):
        raise ConfigError(NOT_AN_INCIDENT.format(cls=cls))
    name = cls.model_fields["kind"].default
    if not isinstance(name, str) or not name:
        raise ConfigError(NO_KIND_NAME.format(cls=cls.__name__))
    return INCIDENT_KINDS.register(name, cls)


def load_incident_kinds(extra_modules: tuple[str, ...] = ()) -> Registry[type[Incident]]:
    """Import the built-in kinds (and a user's own modules); return the registry."""
    for module in (*BUILTIN_KIND_MODULES, *extra_modules):
        importlib.import_module(module)
    return INCIDENT_KINDS
