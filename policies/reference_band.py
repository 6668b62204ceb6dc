"""Rule type ``reference_band``: a threshold learned from the model's own reference.

The metric's values over chunks of the reference data (see
:mod:`raigov.monitors.reference_chunks`) give a band, and a window's value is judged
against it:

- ``method: std`` (NannyML-style): mean ± ``k`` standard deviations of the chunk values
  (population standard deviation, as NannyML's ``StandardDeviationThreshold``);
- ``method: relative`` (Evidently-style): mean ± ``margin`` × |mean|.

``side`` says which limit is judged; ``floor`` and ``ceiling`` clamp both limits, so a
band of width zero (a column that is never missing in the reference) cannot fire on
one missing value, and a wide one cannot excuse anything. Fewer than ``min_chunks``
chunks with a value -> ``insufficient_data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from raigov.policies.rules import ReferenceLookup, Rule, Verdict, register_rule_type

if TYPE_CHECKING:
    from raigov.monitors.base import MetricRow

DEFAULT_K = 3.0
DEFAULT_MIN_CHUNKS = 5

NEEDS_MARGIN = "method 'relative' needs 'margin' (e.g. margin: 0.1 for ±10%)"
MARGIN_WITH_STD = "'margin' belongs to method 'relative'; method 'std' takes 'k'"
CHUNKS_AND_SIZE = "give either 'chunks' (how many) or 'chunk_size' (rows each), not both"
FLOOR_ABOVE_CEILING = "'ceiling' ({ceiling}) is below 'floor' ({floor})"
NO_REFERENCE = ("{metric} [{segment}]: a reference band needs the model's reference data, "
                "and there is none here (a band judges a registered model's windows)")
TOO_FEW_CHUNKS = ("{metric} [{segment}]: the reference gave {count} chunk value(s) of "
                  "{size} rows, fewer than min_chunks {min_chunks}: no band")
BAND_REASON = ("{metric} [{segment}] = {value:.4g} (point estimate) {verdict} {expectation} "
               "of the reference band [{low}, {high}] ({how} over {count} reference chunks "
               "of {size} rows{clamped})")


@register_rule_type
class ReferenceBandRule(Rule):
    """The point estimate stays within the band of its values over reference chunks."""

    type: Literal["reference_band"] = "reference_band"
    method: Literal["std", "relative"] = "std"
    k: float = Field(default=DEFAULT_K, gt=0, allow_inf_nan=False)
    margin: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                 validate_default=True)
    side: Literal["upper", "lower", "both"] = "both"
    floor: float | None = Field(default=None, allow_inf_nan=False)
    ceiling: float | None = Field(default=None, allow_inf_nan=False, validate_default=True)
    chunks: int | None = Field(default=None, ge=2, strict=True)
    chunk_size: int | None = Field(default=None, ge=2, strict=True, validate_default=True)
    min_chunks: int = Field(default=DEFAULT_MIN_CHUNKS, ge=2, strict=True)

    @field_validator("margin")
    @classmethod
    def _margin_fits(cls, margin: float | None, info: ValidationInfo) -> float | None:
        method = info.data.get("method")
        if method == "relative" and margin is None:
            raise PydanticCustomError("needs_margin", NEEDS_MARGIN)
        if method == "std" and margin is not None:
            raise PydanticCustomError("margin_with_std", MARGIN_WITH_STD)
        return margin

    @field_validator("chunk_size")
    @classmethod
    def _one_chunking(cls, size: int | None, info: ValidationInfo) -> int | None:
        if size is not None and info.data.get("chunks") is not None:
            raise PydanticCustomError("chunks_and_size", CHUNKS_AND_SIZE)
        return size

    @field_validator("ceiling")
    @classmethod
    def _ordered(cls, ceiling: float | None, info: ValidationInfo) -> float | None:
        floor = info.data.get("floor")
        if floor is not None and ceiling is not None and ceiling < floor:
            raise PydanticCustomError("floor_above_ceiling", FLOOR_ABOVE_CEILING,
                                      {"floor": floor, "ceiling": ceiling})
        return ceiling

    def expectation(self) -> str:
        return {"upper": "the upper limit", "lower": "the lower limit",
                "both": "the limits"}[self.side]

    def judge(self, row: "MetricRow", *, segment: str) -> Verdict:
        return self.judge_with(row, segment=segment, reference=None)

    def judge_with(self, row: "MetricRow", *, segment: str,
                   reference: ReferenceLookup | None) -> Verdict:
        where = {"metric": self.metric, "segment": segment}
        found = reference.chunk_values(self.metric, row.segment, chunk_size=self.chunk_size,
                                       chunks=self.chunks) if reference is not None else None
        if found is None:
            return Verdict("insufficient_data", NO_REFERENCE.format(**where))
        values, size = found
        if len(values) < self.min_chunks:
            return Verdict("insufficient_data", TOO_FEW_CHUNKS.format(
                **where, count=len(values), size=size, min_chunks=self.min_chunks))
        low, high, how = self.band(values)
        clamped_low, clamped_high = self._clamp(low), self._clamp(high)
        value = float(row.value)  # type: ignore[arg-type]  # finite, checked before
        ok = ((self.side == "upper" or value >= clamped_low)
              and (self.side == "lower" or value <= clamped_high))
        clamped = "" if (clamped_low, clamped_high) == (low, high) else \
            f"; limits clamped to [{_fmt(self.floor, '-inf')}, {_fmt(self.ceiling, 'inf')}]"
        text = BAND_REASON.format(
            **where, value=value, verdict="meets" if ok else "violates",
            expectation=self.expectation(),
            low="-inf" if self.side == "upper" else f"{clamped_low:.4g}",
            high="inf" if self.side == "lower" else f"{clamped_high:.4g}",
            how=how, count=len(values), size=size, clamped=clamped)
        return Verdict("pass" if ok else "fail", text, value, "point")

    def band(self, values: list[float]) -> tuple[float, float, str]:
        """The band's (low, high) before clamping, and how it was drawn, in words."""
        center = float(np.mean(values))
        if self.method == "std":
            std = float(np.std(values))
            return (center - self.k * std, center + self.k * std,
                    f"mean {center:.4g} ± {self.k:g} × std {std:.4g}")
        assert self.margin is not None
        spread = self.margin * abs(center)
        return center - spread, center + spread, f"mean {center:.4g} ± {self.margin:.0%}"

    def _clamp(self, limit: float) -> float:
        if self.floor is not None:
            limit = max(limit, self.floor)
        if self.ceiling is not None:
            limit = min(limit, self.ceiling)
        return limit


def _fmt(bound: float | None, open_end: str) -> str:
    return open_end if bound is None else f"{bound:g}"
