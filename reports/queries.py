"""The catalog and lake reads that reports need and no other area offers: findings
of a period, quarantine counts, the ledger head the facts rest on, and the
``report.exported`` events. Each opens the catalog (or the lake) for one read and
closes it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from raigov.canonical import canonical_json
from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.store.lake import lake_connection
from raigov.ledger.chain import GENESIS_HASH, LedgerEvent, read_events

REPORT_EXPORTED = "report.exported"

_FINDING_COLUMNS = (
    "finding_id", "version", "window_start", "window_end", "policy", "policy_version",
    "policy_sha256", "rule_id", "metric", "segment", "status", "severity", "observed",
    "judged", "judge", "op", "threshold", "ci_low", "ci_high", "n", "reason", "waiver",
    "alert_id", "actor", "run_id", "evaluated_at")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (times as UTC ISO 8601, NaN as None)."""
    return json.loads(canonical_json(value))


def _in_period_sql(column: str) -> str:
    return f"(? IS NULL OR {column} >= ?) AND (? IS NULL OR {column} < ?)"


def read_findings(home: Home, *, model: str, since: dt.datetime | None,
                  until: dt.datetime | None) -> list[dict[str, Any]]:
    """Every finding recorded for ``model`` whose window starts in the period (a
    finding without a window counts by its evaluation time), oldest window first."""
    columns = ", ".join(c if c != "waiver" else "waiver::VARCHAR" for c in _FINDING_COLUMNS)
    sql = (f"SELECT {columns} FROM findings WHERE model = ? AND "
           f"({_in_period_sql('coalesce(window_start, evaluated_at)')}) "
           "ORDER BY coalesce(window_start, evaluated_at), policy, rule_id, segment, "
           "evaluated_at, finding_id")
    with catalog(home, read_only=True) as con:
        try:
            rows = con.execute(sql, [model, since, since, until, until]).fetchall()
        except duckdb.CatalogException:  # a catalog written before findings existed
            return []
    out = []
    for row in rows:
        item = dict(zip(_FINDING_COLUMNS, row))
        item["waiver"] = json.loads(item["waiver"]) if item["waiver"] else None
        out.append(jsonable(item))
    return out


def quarantine_counts(home: Home, *, model: str, since: dt.datetime | None,
                      until: dt.datetime | None) -> dict[str, Any]:
    """Rows quarantined for ``model`` in the period: in all, by reason and by day."""
    where = f"WHERE {_in_period_sql('received_at')}"
    params = [since, since, until, until]
    with lake_connection(home, model=model, threads=1) as con:
        total = con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchone()[0]
        by_reason = con.execute(
            f"SELECT coalesce(nullif(reason, ''), '(no reason given)') AS r, count(*) "
            f"FROM quarantine {where} GROUP BY r ORDER BY count(*) DESC, r", params).fetchall()
        by_day = con.execute(
            f"SELECT CAST(received_at AS DATE) AS d, count(*) FROM quarantine {where} "
            "GROUP BY d ORDER BY d", params).fetchall()
    return jsonable({"total": int(total),
                     "by_reason": [{"reason": r, "rows": int(n)} for r, n in by_reason],
                     "by_day": [{"date": d, "rows": int(n)} for d, n in by_day]})


def facts_ledger_head(home: Home) -> tuple[int, str, int]:
    """(seq, hash, events up to it) of the last ledger event that is not a report
    export: exporting a report changes no fact, so it must not change the head that
    the facts name (two exports over the same evidence give the same facts)."""
    with catalog(home, read_only=True) as con:
        row = con.execute("SELECT seq, hash FROM ledger WHERE kind <> ? ORDER BY seq DESC "
                          "LIMIT 1", [REPORT_EXPORTED]).fetchone()
        if row is None:
            return 0, GENESIS_HASH, 0
        count = con.execute("SELECT count(*) FROM ledger WHERE seq <= ?", [row[0]]).fetchone()
    return int(row[0]), str(row[1]), int(count[0])


def export_events(home: Home) -> list[LedgerEvent]:
    """Every ``report.exported`` event, in chain order."""
    with catalog(home, read_only=True) as con:
        return read_events(con, kind=REPORT_EXPORTED)
