"""How figures and times are written in cards and reports: one place, so a test can
write a catalog value the same way and find it in the rendered text."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

NOT_PROVIDED = "Not provided"
NO_VALUE = "n/a"
COUNT_METRICS = ("quality.rows", "fairness.group_size", "drift.dataset_drift")


def format_value(value: Any, metric: str = "") -> str:
    """A metric value: counts as integers, everything else with 4 decimals
    (``0.8123``); None, NaN and infinities as ``n/a``."""
    if value is None or isinstance(value, bool):
        return NO_VALUE if value is None else str(value).lower()
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return NO_VALUE
    if metric in COUNT_METRICS:
        return f"{number:,.0f}"
    return f"{number:.4f}"


def format_interval(low: Any, high: Any) -> str:
    """``[0.8012, 0.8234]``, or an empty string when either bound is missing."""
    if low is None or high is None:
        return ""
    if format_value(low) == NO_VALUE or format_value(high) == NO_VALUE:
        return ""
    return f"[{format_value(low)}, {format_value(high)}]"


def format_count(value: Any) -> str:
    if value is None:
        return NO_VALUE
    return f"{int(value):,}"


def format_when(value: Any) -> str:
    """An ISO 8601 time as ``2024-05-01 00:00 UTC``; a date stays a date."""
    if value is None or value == "":
        return NO_VALUE
    moment = value if isinstance(value, dt.datetime) else _parse(str(value))
    if moment is None:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def format_day(value: Any) -> str:
    """An ISO 8601 time as its UTC date (``2024-05-01``)."""
    text = format_when(value)
    return text[:10] if text != NO_VALUE else text


def _parse(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def short_hash(digest: str | None, length: int = 12) -> str:
    return (digest or "")[:length]
