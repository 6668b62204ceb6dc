"""What the per-kind performance computations share: the parameters, how a window's
rows split into segments, and the details every bootstrap interval carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raigov.monitors.base import WindowData, segment_name
from raigov.monitors.counts import Grouping, group_rows, overall_grouping

NO_LABELS = "no ground-truth label has arrived for this segment's predictions"
NO_ROWS = "the segment holds no predictions"


class PerformanceParams(BaseModel):
    """``bootstrap`` None takes the model's ``monitoring.bootstrap``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    bootstrap: int | None = Field(default=None, ge=0)
    seed: int = 0
    ece_bins: int = Field(default=10, ge=1)
    score_bins: int = Field(default=200, ge=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@dataclass(frozen=True)
class Settings:
    """The parameters resolved against one model's monitoring config."""

    replicates: int
    seed: int
    confidence: float
    min_n: int
    ece_bins: int
    score_bins: int

    @classmethod
    def of(cls, params: PerformanceParams, window: WindowData) -> "Settings":
        monitoring = window.spec.monitoring
        replicates = monitoring.bootstrap if params.bootstrap is None else params.bootstrap
        return cls(replicates=replicates, seed=params.seed, confidence=params.confidence,
                   min_n=monitoring.min_group_size, ece_bins=params.ece_bins,
                   score_bins=params.score_bins)


def segment_groupings(window: WindowData) -> list[Grouping]:
    """``all``, then each sensitive attribute's groups (``sex=Female``)."""
    groupings = [overall_grouping(len(window.frame))]
    return groupings + [group_rows(window.frame, (c,)) for c in window.spec.sensitive]


def with_class(segment: str, class_name: str) -> str:
    """``all`` -> ``class=Husband``; ``sex=Female`` -> ``sex=Female&class=Husband``."""
    part = segment_name({"class": class_name})
    return part if segment == "all" else f"{segment}&{part}"


def bootstrap_details(settings: Settings, used: int, scheme: str) -> dict[str, Any]:
    return {"ci_method": "bootstrap" if settings.replicates else "none",
            "confidence": settings.confidence, "bootstrap_replicates": settings.replicates,
            "bootstrap_valid": used, "bootstrap_scheme": scheme}


def finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
