"""A finding: one rule judged on one model, window and segment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

FindingStatus = Literal["pass", "fail", "insufficient_data", "waived", "error"]
Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Finding:
    """Never a silent pass: every status carries a ``reason`` a person can read."""

    policy: str
    policy_version: int
    policy_sha256: str
    rule_id: str
    metric: str
    segment: str
    model: str
    version: int | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    status: FindingStatus
    severity: Severity
    reason: str
    observed: float | None = None          # the point estimate
    judged: float | None = None            # what was compared (point or CI bound)
    judge: Literal["point", "ci_bound"] = "point"
    ci_low: float | None = None
    ci_high: float | None = None
    op: str | None = None
    threshold: float | None = None
    n: int | None = None
    groups: dict[str, Any] = field(default_factory=dict)   # per-group values and sizes
    references: tuple[str, ...] = ()
    waiver: dict[str, Any] | None = None
