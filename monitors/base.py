"""The common interface of every monitor family, and the one registry they go through.

A monitor is configured by its constructor (parameters only) and computes in ``run``:
given a :class:`WindowData` (the window's predictions, their labels where they have
arrived, the model's reference data) it returns tidy :class:`MetricRow` objects.
Monitors know nothing of policies. Built-in families register exactly the way a user's
own monitor would: ``@register_monitor`` on the class, into :data:`MONITORS`.

A monitor class declares what it is and what it produces, as class attributes:

- ``family``: its name, the first part of every metric it emits (``drift``);
- ``metrics``: a tuple of :class:`MetricInfo`, every metric name (or pattern, with a
  ``<feature>`` part) it emits; ``raigov.monitors.catalog`` is made of these;
- ``output_kinds`` (optional): the output kinds it serves (``("binary",)``); without
  it, every kind. The runner skips a family that does not serve the model's kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from raigov.errors import ConfigError, did_you_mean
from raigov.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec
    from raigov.monitors.window_aggregates import WindowAggregates

RowStatus = Literal["ok", "insufficient_data", "error"]

NO_FAMILY = "{cls} needs a class attribute 'family' (a string such as 'drift')"
RESERVED_FAMILY = ("monitor family {family!r} ({cls}) is reserved for the runner's own "
                   "rows (monitor.error); choose another name")
NO_METRICS = ("monitor family {family!r} ({cls}) must declare 'metrics', a tuple of "
              "raigov.monitors.catalog.MetricInfo naming every metric it emits; found {found}")
METRIC_OUTSIDE_FAMILY = ("monitor family {family!r} ({cls}) declares metric {metric!r}: "
                         "its metrics must be named '{family}.<name>'")
DUPLICATE_METRIC = "monitor family {family!r} ({cls}) declares metric {metric!r} twice"
BAD_OUTPUT_KINDS = ("monitor family {family!r} ({cls}) declares output_kinds {kinds!r}; "
                    "give a tuple of output kinds from: {known}")
UNKNOWN_OUTPUT_KIND = ("monitor family {family!r} ({cls}) declares unknown output kind "
                       "{kind!r} (output kinds: {known}).{hint}")
NO_RUN = "monitor family {family!r} ({cls}) needs a method run(window) -> list[MetricRow]"
#: The family of the runner's own rows: no monitor may take it.
RUNNER_FAMILY = "monitor"


@dataclass(frozen=True)
class MetricInfo:
    """One metric a monitor declares: its name (``<family>.<name>``, or a pattern with
    a ``<feature>``-style part), what it means, which way is better and whether it
    needs ground truth."""

    name: str
    meaning: str
    higher_is_better: bool | None = None
    needs_labels: bool = False

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class MetricRow:
    """One figure: ``metric`` is ``<family>.<name>`` (see ``raigov.monitors.catalog``);
    ``segment`` is ``all``, ``sex=Female`` or ``sex=Female&race=Black``."""

    metric: str
    value: float | None
    segment: str = "all"
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    status: RowStatus = "ok"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.metric.split(".", 1)[0]


@dataclass
class WindowData:
    """What a monitor sees of one window.

    ``frame`` holds one row per prediction: the model's input columns (features and
    sensitive attributes) plus ``prediction_id``, ``ts`` and the output columns of the
    model's output kind (:mod:`raigov.models.output_kinds`): ``label`` (the predicted
    class index; NULL for regression), ``score`` (binary: P(positive); multiclass:
    P(predicted class)), ``value`` (the regression prediction), ``probabilities``
    (multiclass, in ``spec.classes`` order); and ``y_true``: the true class index for
    classifiers, the true value for regression, NaN where no label has arrived yet.
    ``reference`` is the registered reference data: input columns, and where known
    ``y_true`` and the output columns. ``quarantined``: the rows of this version the
    server rejected and quarantined with an event time in the window (None where no
    capture stands behind the frame, e.g. a data file).
    """

    spec: "ModelSpec"
    version: int
    start: dt.datetime
    end: dt.datetime
    frame: "pd.DataFrame"
    reference: "pd.DataFrame"
    artifact_dir: Path | None = None
    reference_profile: dict[str, Any] | None = None  # precomputed at registration
    quarantined: int | None = None
    cache_dir: Path | None = None   # the version's derived state on disk (None: none kept)
    #: counts computed by an aggregating engine (raigov.monitors.window_aggregates);
    #: None on the DuckDB engine, where monitors count the rows themselves
    aggregates: "WindowAggregates | None" = None

    @property
    def n_rows(self) -> int:
        """The window's row count (from the aggregates when an engine computed them,
        so asking does not read the rows)."""
        return self.aggregates.rows if self.aggregates is not None else len(self.frame)

    @property
    def labelled(self) -> "pd.DataFrame":
        """The rows whose ground truth has arrived."""
        return self.frame[self.frame["y_true"].notna()]


class Monitor(Protocol):
    family: ClassVar[str]
    metrics: ClassVar[tuple[MetricInfo, ...]]

    def run(self, window: WindowData) -> list[MetricRow]: ...


def _check_monitor(family: str, cls: type) -> None:
    """What registration asks of a monitor class (see the module docstring)."""
    where = {"family": family, "cls": getattr(cls, "__qualname__", repr(cls))}
    if family == RUNNER_FAMILY:
        raise ConfigError(RESERVED_FAMILY.format(**where))
    if not callable(getattr(cls, "run", None)):
        raise ConfigError(NO_RUN.format(**where))
    declared = getattr(cls, "metrics", None)
    if not isinstance(declared, tuple) or not declared or not all(
            isinstance(m, MetricInfo) for m in declared):
        raise ConfigError(NO_METRICS.format(**where, found=repr(declared)))
    seen: set[str] = set()
    for info in declared:
        if info.family != family or "." not in info.name:
            raise ConfigError(METRIC_OUTSIDE_FAMILY.format(**where, metric=info.name))
        if info.name in seen:
            raise ConfigError(DUPLICATE_METRIC.format(**where, metric=info.name))
        seen.add(info.name)
    _check_output_kinds(getattr(cls, "output_kinds", None), where)


def _check_output_kinds(kinds: object, where: dict[str, str]) -> None:
    if kinds is None:
        return
    from raigov.models.output_kinds import OUTPUT_KINDS

    known = OUTPUT_KINDS.names()
    if not isinstance(kinds, tuple) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise ConfigError(BAD_OUTPUT_KINDS.format(**where, kinds=kinds, known=", ".join(known)))
    for kind in kinds:
        if kind not in OUTPUT_KINDS:
            raise ConfigError(UNKNOWN_OUTPUT_KIND.format(**where, kind=kind,
                                                         known=", ".join(known),
                                                         hint=did_you_mean(kind, known)))


MONITORS: Registry[type] = Registry("monitor family", check=_check_monitor)


def register_monitor(cls: type) -> type:
    """Class decorator: make a monitor family known to the runner, the metric catalog
    and the policy loader, under its ``family``."""
    family = getattr(cls, "family", None)
    if not family or not isinstance(family, str):
        raise ConfigError(NO_FAMILY.format(cls=getattr(cls, "__qualname__", repr(cls))))
    return MONITORS.register(family, cls)


def serves_kind(cls: type, kind: str) -> bool:
    """Whether a monitor class serves models of output kind ``kind`` (a class without
    ``output_kinds`` serves every kind)."""
    kinds = getattr(cls, "output_kinds", None)
    return kinds is None or kind in kinds


def segment_name(values: dict[str, Any]) -> str:
    """``{'sex': 'Female', 'race': 'Black'}`` -> ``'sex=Female&race=Black'``."""
    return "&".join(f"{k}={v}" for k, v in values.items()) if values else "all"
