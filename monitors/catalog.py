"""Every metric name a monitor may emit, with its meaning: what policies refer to and
what ``raigov metrics`` lists. Nothing here is kept by hand: each registered monitor
family declares its metrics (``metrics``, a tuple of :class:`MetricInfo`, on the class),
built-ins and plugins alike; the runner adds its own ``monitor.error``. Names with a
``<feature>``-style part are patterns."""

from __future__ import annotations

import re

from raigov.monitors.base import MONITORS, RUNNER_FAMILY, MetricInfo

__all__ = ["RUNNER_METRICS", "MetricInfo", "metric_info", "metric_names", "metrics"]

#: The rows the runner writes itself, whatever the families.
RUNNER_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(f"{RUNNER_FAMILY}.error", "a monitor family failed on this window (segment: "
               "the family; the error in details): shown, never silently skipped", False),
)

_PLACEHOLDER = re.compile(r"<[A-Za-z_][A-Za-z0-9_]*>")
_cache: dict[tuple[int, ...], list[tuple[MetricInfo, re.Pattern[str]]]] = {}

def metrics() -> tuple[MetricInfo, ...]:
    """The catalog: every registered family's declared metrics, in registration order,
    then the runner's own. Imports the built-in families (plugins are loaded by the
    process: ``raigov.plugins.load_plugins``)."""
    from raigov.monitors.builtin import load_builtin_monitors

    families = load_builtin_monitors()
    return (*(info for cls in families.values() for info in cls.metrics), *RUNNER_METRICS)


def metric_info(name: str) -> MetricInfo | None:
    """The catalog entry that ``name`` matches (exactly or by pattern), or None."""
    for info, pattern in _patterns():
        if pattern.match(name):
            return info
    return None


def metric_names() -> list[str]:
    return [m.name for m in metrics()]


def _patterns() -> list[tuple[MetricInfo, re.Pattern[str]]]:
    catalog = metrics()   # registers the built-ins before the key is read
    key = tuple(id(cls) for cls in MONITORS.values())
    if key not in _cache:
        _cache.clear()
        _cache[key] = [(m, _pattern(m.name)) for m in catalog]
    return _cache[key]


def _pattern(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)
    return re.compile("^" + r"[^\s]+".join(re.escape(p) for p in parts) + "$")
