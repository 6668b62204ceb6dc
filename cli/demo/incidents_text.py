"""Incident kinds of a text model's traffic. Registered through
``register_incident_kind`` like the built-ins of ``incident_kinds``; they act only
through the hooks of :class:`raigov.cli.demo.incidents.Incident`.

- ``topic_shift``: a day's reviews are drawn with texts matching ``pattern`` (a regular
  expression, case-insensitive) ``factor`` times as likely: the vocabulary moves.
- ``text_fault``: an upstream feed breaks the texts of a ``share`` of requests: every
  text ``empty`` (refused with 422 and quarantined: a text must hold a non-blank
  character) or ``truncated`` to its first ``keep_words`` words (accepted; the mean
  length falls and the vocabulary with it).

A version whose scores drop for reviews that mention a group is the ``biased_version``
kind on the group's column (``penalise: {column: mentions, values: [women]}``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from raigov.cli.demo.incidents import Detection, Fleet, Incident, register_incident_kind
from raigov.errors import ConfigError

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

NOT_TEXT = "{kind}: column {column!r} of {model!r} is a {dtype} column, not a text column"
BAD_PATTERN = "'pattern' is not a valid regular expression: {error}"
WORDS_UNUSED = "'keep_words' is only used by fault 'truncated'"
MATCHES_NOTHING = ("topic_shift pattern {pattern!r} matches none of {model!r}'s held-out "
                   "texts in column {column!r}")


def _check_text(incident: Incident, fleet: Fleet, column: str) -> None:
    dtype = fleet.demo_model(incident.model).spec.inputs.column(column).dtype
    if dtype != "text":
        raise ConfigError(NOT_TEXT.format(kind=incident.kind, column=column,
                                          model=incident.model, dtype=dtype))


@register_incident_kind
class TopicShift(Incident):
    """Texts matching ``pattern`` are ``factor`` times as likely to be drawn."""

    kind: Literal["topic_shift"] = "topic_shift"
    column: str
    pattern: str = Field(min_length=1)
    factor: float = Field(gt=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(BAD_PATTERN.format(error=exc)) from None
        return pattern

    def columns(self) -> list[str]:
        return [self.column]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        return (Detection(metric=f"drift.feature.{self.column}"),
                Detection(metric="drift.embedding", segment=f"column={self.column}"))

    def prepare(self, fleet: Fleet) -> None:
        _check_text(self, fleet, self.column)
        pool = fleet.demo_model(self.model).heldout
        if not self._matches(pool).any():
            raise ConfigError(MATCHES_NOTHING.format(pattern=self.pattern, model=self.model,
                                                     column=self.column))

    def _matches(self, pool: pd.DataFrame) -> np.ndarray:
        return pool[self.column].astype(str).str.contains(
            self.pattern, case=False, regex=True).to_numpy()

    def sampling_weights(self, pool: pd.DataFrame) -> np.ndarray:
        return np.where(self._matches(pool), self.factor, 1.0)


@register_incident_kind
class TextFault(Incident):
    """In a ``share`` of requests, every text of ``column`` arrives empty, or cut to its
    first ``keep_words`` words."""

    kind: Literal["text_fault"] = "text_fault"
    column: str
    fault: Literal["empty", "truncated"]
    share: float = Field(gt=0, le=1)
    keep_words: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _words_fit(self) -> "TextFault":
        if self.fault == "empty" and self.keep_words is not None:
            raise ValueError(WORDS_UNUSED)
        return self

    def columns(self) -> list[str]:
        return [self.column]

    def default_expectation(self, spec: "ModelSpec") -> tuple[Detection, ...]:
        if self.fault == "empty":         # an empty text is rejected at validation
            return (Detection(metric="quality.quarantine_rate"),)
        return (Detection(metric="quality.text_length", segment=f"column={self.column}"),
                Detection(metric=f"drift.feature.{self.column}"),
                Detection(metric="drift.embedding", segment=f"column={self.column}"))

    def prepare(self, fleet: Fleet) -> None:
        _check_text(self, fleet, self.column)

    def corrupt(self, rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        if rng.random() >= self.share:
            return rows
        broken = rows.copy()
        if self.fault == "empty":
            broken[self.column] = ""
        else:
            keep = self.keep_words or 2
            broken[self.column] = [" ".join(str(t).split()[:keep]) for t in rows[self.column]]
        return broken
