"""The common interface of every monitor family, and the one registry they go through.

A monitor is configured by its constructor (parameters only) and computes in ``run``:
given a :class:`WindowData` (the window's predictions, their labels where they have
arrived, the model's reference data) it returns tidy :class:`MetricRow` objects.
Monitors know nothing of policies. Built-in families register exactly the way a user's
own monitor would: ``@register_monitor`` on the class.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

RowStatus = Literal["ok", "insufficient_data", "error"]


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
    sensitive attributes) plus ``prediction_id``, ``ts``, ``label`` (the predicted
    class, 0/1 for binary), ``score`` (probability of the positive class) and
    ``y_true`` (the ground truth, NaN/None where no label has arrived yet).
    ``reference`` is the registered reference data: input columns, and where known
    ``y_true``, ``label`` and ``score``.
    """

    spec: "ModelSpec"
    version: int
    start: dt.datetime
    end: dt.datetime
    frame: "pd.DataFrame"
    reference: "pd.DataFrame"
    artifact_dir: Path | None = None
    reference_profile: dict[str, Any] | None = None  # precomputed at registration

    @property
    def labelled(self) -> "pd.DataFrame":
        """The rows whose ground truth has arrived."""
        return self.frame[self.frame["y_true"].notna()]


class Monitor(Protocol):
    family: ClassVar[str]

    def run(self, window: WindowData) -> list[MetricRow]: ...


MONITORS: dict[str, type] = {}


def register_monitor(cls: type) -> type:
    """Class decorator: make a monitor family known to the runner."""
    family = getattr(cls, "family", None)
    if not family or not isinstance(family, str):
        raise TypeError(f"{cls.__name__} needs a class attribute 'family' (a string)")
    if family in MONITORS and MONITORS[family] is not cls:
        raise ValueError(f"monitor family {family!r} is already registered "
                         f"by {MONITORS[family].__name__}")
    MONITORS[family] = cls
    return cls


def segment_name(values: dict[str, Any]) -> str:
    """``{'sex': 'Female', 'race': 'Black'}`` -> ``'sex=Female&race=Black'``."""
    return "&".join(f"{k}={v}" for k, v in values.items()) if values else "all"
