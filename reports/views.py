"""Card and report facts arranged as tables for people: pivots of tidy metric facts
(rows: segments or metrics, columns: metrics or attributes), written with the shared
formatting. Markdown and HTML both draw from these, so they show the same figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raigov.reports.facts import DISPARITY_METRICS as DISPARITIES
from raigov.reports.facts import GROUP_RATE_METRICS as GROUP_RATES
from raigov.reports.facts import PERFORMANCE_METRICS as PERFORMANCE_COLUMNS
from raigov.reports.formatting import format_interval, format_value

INSUFFICIENT_NOTE = ("Figures marked * rest on fewer rows than the model's minimum group "
                     "size (status insufficient_data): shown, never judged.")


@dataclass(frozen=True)
class Cell:
    value: str
    interval: str = ""
    insufficient: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows


EMPTY_CELL = Cell("")


def cell(fact: dict[str, Any] | None) -> Cell:
    if fact is None:
        return EMPTY_CELL
    return Cell(format_value(fact.get("value"), fact.get("metric", "")),
                format_interval(fact.get("ci_low"), fact.get("ci_high")),
                fact.get("status") != "ok", fact.get("reason"))


def _pivot(metrics: list[dict[str, Any]], *, row_key: str, col_key: str,
           columns: tuple[str, ...], rows_order: list[str]) -> Table:
    index = {(m[row_key], m[col_key]): m for m in metrics}
    table = Table(columns)
    for row in rows_order:
        cells = [cell(index.get((row, c))) for c in columns]
        if any(c is not EMPTY_CELL for c in cells):
            table.rows.append((row, cells))
    return table


def _segments(metrics: list[dict[str, Any]]) -> list[str]:
    seen = list(dict.fromkeys(m["segment"] for m in metrics))
    return sorted(seen, key=lambda s: (s != "all", s.count("&"), s))


def performance_table(section: dict[str, Any]) -> Table:
    """Segments (``all`` first, then each group) x performance metrics."""
    metrics = [dict(m, short=m["metric"].removeprefix("performance."))
               for m in section["metrics"]]
    return _pivot(metrics, row_key="segment", col_key="short", columns=PERFORMANCE_COLUMNS,
                  rows_order=_segments(metrics))


def disparity_table(section: dict[str, Any]) -> Table:
    """Headline disparities x sensitive attributes (and intersections)."""
    metrics = [dict(m, short=m["metric"].removeprefix("fairness."))
               for m in section["metrics"] if "=" not in m["segment"]]
    attributes = tuple(_segments(metrics))
    return _pivot(metrics, row_key="short", col_key="segment", columns=attributes,
                  rows_order=list(DISPARITIES))


def group_table(section: dict[str, Any]) -> Table:
    """Each group (``sex=Female``) x its rates and size."""
    metrics = [dict(m, short=m["metric"].removeprefix("fairness."))
               for m in section["metrics"] if "=" in m["segment"]]
    return _pivot(metrics, row_key="segment", col_key="short", columns=GROUP_RATES,
                  rows_order=_segments(metrics))


def any_insufficient(*tables: Table) -> bool:
    return any(c.insufficient for t in tables for _, cells in t.rows for c in cells
               if c is not EMPTY_CELL)


def headline_figures(card: dict[str, Any]) -> list[tuple[str, Cell]]:
    """The few figures a reader sees first: overall performance, the worst
    disparity ratio, dataset drift and the attribution shift."""
    quant = card["quantitative_analyses"]
    overall = {m["metric"]: m for m in quant["performance"]["metrics"]
               if m["segment"] == "all"}
    out = [(name.removeprefix("performance."), cell(overall[name]))
           for name in ("performance.accuracy", "performance.recall", "performance.roc_auc")
           if name in overall]
    ratios = [m for m in quant["fairness"]["metrics"]
              if m["metric"] == "fairness.demographic_parity_ratio" and "=" not in m["segment"]
              and m["value"] is not None]
    if ratios:
        worst = min(ratios, key=lambda m: m["value"])
        out.append((f"demographic_parity_ratio ({worst['segment']})", cell(worst)))
    for name, fact in (("share_drifted", quant["drift"]["share_drifted"]),
                       ("attribution_shift", quant["explanations"]["attribution_shift"])):
        if fact is not None:
            out.append((name, cell(fact)))
    return out
