"""Reconcile the catalog's state tables with the ledger's events (filled below)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from raigov.ledger.chain import LedgerEvent


def reconcile_state(con: duckdb.DuckDBPyConnection, events: Sequence[LedgerEvent]) -> list:
    return []
