"""Rule types: what a rule in a policy file says, and how it judges one metric row.

Every rule type is a frozen pydantic model that subclasses :class:`Rule` and goes
through :func:`register_rule_type`, built-ins exactly like a user's own. The common
fields (id, metric, severity, sensitive, segment, min_samples, ...) live on
:class:`Rule`; a type adds its own parameters and implements :meth:`Rule.judge`,
which turns a usable metric row into a :class:`Verdict`. The evaluator never asks
which type a rule is.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from raigov.monitors.catalog import metric_info, metric_names
from raigov.errors import ConfigError, did_you_mean
from raigov.registry import Registry

if TYPE_CHECKING:
    from raigov.monitors.base import MetricRow

Severity = Literal["info", "warning", "critical"]
Judge = Literal["point", "ci_bound"]
Bound = Literal["unfavourable", "favourable"]
VerdictStatus = Literal["pass", "fail", "insufficient_data", "error"]

#: Metric families computed per sensitive attribute (their rows' segment is the
#: attribute name, ``sex`` or ``sex&race``): a rule on them must name ``sensitive``.
PER_ATTRIBUTE_FAMILIES = ("fairness",)
#: ``sensitive: "*"`` / ``segment: "*"``: every attribute or segment there is.
EVERY = "*"

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}
#: For ``judge: ci_bound``: the CI bound on the unfavourable side of each operator.
UNFAVOURABLE_BOUND: dict[str, str] = {">=": "ci_low", ">": "ci_low",
                                      "<=": "ci_high", "<": "ci_high"}
#: ``bound: favourable``: the other end, so the rule fails only when the whole interval
#: violates the limit (the data show a violation; sampling noise alone does not fire).
FAVOURABLE_BOUND: dict[str, str] = {">=": "ci_high", ">": "ci_high",
                                    "<=": "ci_low", "<": "ci_low"}
BOUND_NEEDS_CI = "'bound' applies only to judge 'ci_bound'"

UNKNOWN_METRIC_SHORT = "Unknown metric '{metric}'"
UNKNOWN_OPERATOR_SHORT = "Unknown operator '{op}'"
CI_BOUND_OP = "judge 'ci_bound' needs op '>=', '>', '<=' or '<', not '{op}'"
RANGE_EMPTY = "a range rule needs 'min', 'max' or both"
RANGE_ORDER = "'max' ({max}) is below 'min' ({min})"
SEGMENT_AND_SENSITIVE = "give either 'sensitive' or 'segment', not both"
NEEDS_SENSITIVE = ("a {family} metric is computed per sensitive attribute: give "
                   "'sensitive' (an attribute, a list for an intersection, or '*')")
EVERY_ALONE = "'*' stands for every sensitive attribute and cannot be combined with names"
NO_TYPE_NAME = "{cls} needs a default string for its 'type' field"
NOT_A_RULE = "{cls} is not a subclass of policies.rules.Rule"
PASS_REASON = "{metric} [{segment}] = {judged:.4g} ({label}) meets {expectation}"
FAIL_REASON = "{metric} [{segment}] = {judged:.4g} ({label}) violates {expectation}"
NO_BOUND_REASON = ("{metric} [{segment}]: judge 'ci_bound' needs the {bound} of the "
                   "confidence interval, which the metric row does not carry (bootstrap "
                   "off or too few rows)")


@dataclass(frozen=True)
class Verdict:
    """What a rule type says about one usable metric row."""

    status: VerdictStatus
    reason: str
    judged: float | None = None
    judge: Judge = "point"


class ReferenceLookup(Protocol):
    """Where a rule that judges against the reference finds a metric's values over
    reference chunks (:mod:`raigov.monitors.reference_chunks` gives them per model
    version): ``(values, chunk_size)``, or None when there is no reference. ``chunks``
    (how many) or ``chunk_size`` (rows each) choose the split; neither: the default."""

    def chunk_values(self, metric: str, segment: str, *, chunk_size: int | None = None,
                     chunks: int | None = None) -> tuple[list[float], int] | None: ...


class Rule(BaseModel):
    """The fields every rule type shares. Subclasses add parameters and ``judge``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=200)
    metric: str
    severity: Severity = "warning"
    segment: str | None = Field(default=None, min_length=1)
    sensitive: tuple[str, ...] = Field(default=(), validate_default=True)
    min_samples: int | None = Field(default=None, ge=1, strict=True)
    description: str = ""
    references: tuple[str, ...] = ()

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric_info(metric) is None:
            raise PydanticCustomError("unknown_metric", UNKNOWN_METRIC_SHORT,
                                      {"metric": metric, "hint": metric_hint(metric)})
        return metric

    @field_validator("sensitive", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("sensitive")
    @classmethod
    def _sensitive_fits(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if EVERY in names and len(names) > 1:
            raise PydanticCustomError("every_alone", EVERY_ALONE)
        if names and info.data.get("segment") is not None:
            raise PydanticCustomError("segment_and_sensitive", SEGMENT_AND_SENSITIVE)
        metric = info.data.get("metric")
        family = metric.split(".", 1)[0] if metric else None
        if not names and "segment" in info.data and info.data["segment"] is None \
                and family in PER_ATTRIBUTE_FAMILIES:
            raise PydanticCustomError("needs_sensitive", NEEDS_SENSITIVE, {"family": family})
        return names

    def expectation(self) -> str:
        """What the rule asks, in words: ``>= 0.8``."""
        raise NotImplementedError

    def finding_fields(self) -> dict[str, Any]:
        """``op``, ``threshold`` and ``judge`` as a finding records them."""
        return {"op": self.expectation(), "threshold": None, "judge": "point"}

    def judge(self, row: "MetricRow", *, segment: str) -> Verdict:
        """Judge a metric row whose value is a finite number."""
        raise NotImplementedError

    def judge_with(self, row: "MetricRow", *, segment: str,
                   reference: ReferenceLookup | None) -> Verdict:
        """What the evaluator calls: :meth:`judge`, unless the type also needs the
        model's reference (``reference_band`` does); ``reference`` may be None."""
        return self.judge(row, segment=segment)


def metric_hint(name: str) -> str:
    """``" Did you mean 'x'?"`` for a mistyped metric name: the close names that
    share the most of its words (``selection_ratio`` -> ``selection_rate_ratio``)."""
    close = difflib.get_close_matches(name, metric_names(), n=6, cutoff=0.6)
    words = set(re.split(r"[._]", name))

    def shared(candidate: str) -> int:
        return len(words & set(re.split(r"[._]", candidate)))

    best = max((shared(c) for c in close), default=0)
    return did_you_mean(name, [c for c in close if shared(c) == best][:3])


RULE_TYPES: Registry[type[Rule]] = Registry("rule type")


def register_rule_type(cls: type[Rule]) -> type[Rule]:
    """Class decorator: make a rule type usable in policy files under its ``type``."""
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise ConfigError(NOT_A_RULE.format(cls=cls))
    name = cls.model_fields["type"].default
    if not isinstance(name, str) or not name:
        raise ConfigError(NO_TYPE_NAME.format(cls=cls.__name__))
    return RULE_TYPES.register(name, cls)


def rule_type(name: object) -> type[Rule] | None:
    """The rule type a policy file names, or None (the loader reports it with the
    file and line)."""
    return RULE_TYPES.find(name)


def is_finite_number(value: Any) -> bool:
    """A real number (Python or numpy), not bool, not NaN or infinite."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


@register_rule_type
class ThresholdRule(Rule):
    """``metric op threshold``, judged on the point estimate or on the confidence
    interval's bound on the unfavourable side (``>=``: lower bound, ``<=``: upper)."""

    type: Literal["threshold"] = "threshold"
    op: str
    threshold: float = Field(strict=True, allow_inf_nan=False)
    judge_on: Judge = Field(default="point", alias="judge")
    bound: Bound | None = Field(default=None, validate_default=True)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("op")
    @classmethod
    def _known_op(cls, op: str) -> str:
        if op not in OPERATORS:
            raise PydanticCustomError("unknown_operator", UNKNOWN_OPERATOR_SHORT,
                                      {"op": op, "valid": ", ".join(f"'{o}'" for o in OPERATORS)})
        return op

    @field_validator("judge_on")
    @classmethod
    def _bound_exists(cls, judge: str, info: ValidationInfo) -> str:
        op = info.data.get("op")
        if judge == "ci_bound" and op is not None and op not in UNFAVOURABLE_BOUND:
            raise PydanticCustomError("ci_bound_op", CI_BOUND_OP, {"op": op})
        return judge

    @field_validator("bound")
    @classmethod
    def _bound_with_ci(cls, bound: str | None, info: ValidationInfo) -> str | None:
        if bound is not None and info.data.get("judge_on") == "point":
            raise PydanticCustomError("bound_needs_ci", BOUND_NEEDS_CI)
        return bound

    def expectation(self) -> str:
        return f"{self.op} {self.threshold:g}"

    def finding_fields(self) -> dict[str, Any]:
        return {"op": self.op, "threshold": self.threshold, "judge": self.judge_on}

    def judge(self, row: "MetricRow", *, segment: str) -> Verdict:
        if self.judge_on == "point":
            judged, label = row.value, "point estimate"
        else:
            bound = (FAVOURABLE_BOUND if self.bound == "favourable"
                     else UNFAVOURABLE_BOUND)[self.op]
            judged = getattr(row, bound)
            label = ("lower" if bound == "ci_low" else "upper") + " CI bound"
            if not is_finite_number(judged):
                return Verdict("insufficient_data", NO_BOUND_REASON.format(
                    metric=self.metric, segment=segment, bound=label), None, "ci_bound")
        assert judged is not None
        ok = OPERATORS[self.op](float(judged), self.threshold)
        text = (PASS_REASON if ok else FAIL_REASON).format(
            metric=self.metric, segment=segment, judged=judged, label=label,
            expectation=self.expectation())
        return Verdict("pass" if ok else "fail", text, float(judged), self.judge_on)


@register_rule_type
class RangeRule(Rule):
    """The point estimate lies within ``[min, max]`` (either end may be left open):
    e.g. a positive rate between 0.01 and 0.99 catches a model stuck on one class."""

    type: Literal["range"] = "range"
    min: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    max: float | None = Field(default=None, strict=True, allow_inf_nan=False,
                              validate_default=True)

    @field_validator("max")
    @classmethod
    def _ordered(cls, high: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if "min" in info.data and low is None and high is None:
            raise PydanticCustomError("range_empty", RANGE_EMPTY)
        if low is not None and high is not None and high < low:
            raise PydanticCustomError("range_order", RANGE_ORDER, {"min": low, "max": high})
        return high

    def expectation(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        return f"within [{low}, {high}]"

    def judge(self, row: "MetricRow", *, segment: str) -> Verdict:
        value = float(row.value)  # type: ignore[arg-type]  # finite, checked before
        ok = (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        text = (PASS_REASON if ok else FAIL_REASON).format(
            metric=self.metric, segment=segment, judged=value, label="point estimate",
            expectation=self.expectation())
        return Verdict("pass" if ok else "fail", text, value, "point")
