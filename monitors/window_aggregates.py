"""A window reduced to what the counting monitors need, computed by another engine.

The DuckDB engine hands monitors the window's rows (``WindowData.frame``). An engine
that computes over the lake where the rows lie (``raigov.monitors.spark_engine``) hands
them :class:`WindowAggregates` instead: the window's row count, its *cell table* (rows
grouped by the sensitive columns, ``y_true`` and ``label``, with a count ``n``) and per
column its *value counts*. The finishing code is the monitors' own: a cell table goes
through the same ``row_cells`` and ``group_rows`` as rows do (so validation, group
order and the ``<missing>`` group are the same), weighted by ``n``; value counts become
the same exact :class:`~raigov.monitors.drift_fast.Counts` a column of rows gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from raigov.monitors.counts import CELLS, Grouping, group_rows, row_cells

if TYPE_CHECKING:
    from raigov.monitors.drift_fast import Counts
    from raigov.monitors.reference_profile import ColumnKind

COUNT = "n"


class WindowAggregates(Protocol):
    """What an aggregating engine computes for one window (lazily, on first ask)."""

    @property
    def rows(self) -> int:
        """The window's row count."""

    def cell_table(self, columns: Sequence[str]) -> pd.DataFrame:
        """One row per present combination of ``columns``, ``y_true`` and ``label``
        (NULL kept as its own value), with its row count in column ``n``."""

    def value_counts(self, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Per column of ``columns`` the window has: one row per distinct non-null value
        (column ``value``) with its count ``n``, and whether the column's type is
        integral (``attrs["integer"]``). A column the window lacks is left out."""


def weighted_cell_counts(table: pd.DataFrame, columns: Sequence[str], *,
                         cache: dict[str, Grouping] | None = None
                         ) -> tuple[Grouping, np.ndarray]:
    """The grouping of ``columns`` and its ``(groups, 6)`` count table from a cell
    table: what ``group_rows`` and ``cell_counts`` give on the rows it counts."""
    cells = row_cells(table)
    grouping = group_rows(table, columns, cache=cache)
    n_groups, n_cells = len(grouping.values), len(CELLS)
    weights = table[COUNT].to_numpy(dtype=np.float64)
    flat = np.bincount(grouping.codes * n_cells + cells, weights=weights,
                       minlength=n_groups * n_cells)
    return grouping, np.rint(flat).astype(np.int64).reshape(n_groups, n_cells)


def distribution(counts: pd.DataFrame, *, kind: "ColumnKind") -> "Counts":
    """The exact distribution ``window_distribution`` gives for the counted column
    (NaN and +-inf dropped, values sorted for numerical columns)."""
    from raigov.monitors.drift_fast import Counts

    n = counts[COUNT].to_numpy(dtype=np.int64)
    if kind == "categorical":
        values = counts["value"].astype(object).to_numpy(dtype=object)
        return Counts(values, n)
    x = counts["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    x, n = x[finite], n[finite]
    order = np.argsort(x, kind="stable")
    return Counts(x[order], n[order], integer=bool(counts.attrs.get("integer", False)))
