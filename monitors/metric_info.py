"""What a metric name means (the type of ``raigov.monitors.catalog``'s entries), in a
module of its own so a monitor module can declare its metrics without importing the
catalog that lists them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    meaning: str
    higher_is_better: bool | None = None
    needs_labels: bool = False

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]
