"""The measured and the proven facts of an audit report: metric series over the period
(what the charts draw), data quality incidents and quarantine counts, and the evidence
section (ledger head, event count, verification result, software version, policy
hashes). Pure reads; every value plain JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from raigov.reports.facts import metric_fact
from raigov.reports.queries import facts_ledger_head, jsonable, quarantine_counts
from raigov import __version__
from raigov.home import Home
from raigov.ledger.verify import audit_verify

EACH_ATTRIBUTE = "<attribute>"


@dataclass(frozen=True)
class SeriesSpec:
    metric: str
    segment: str = "all"          # EACH_ATTRIBUTE: one series per sensitive attribute


SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec("performance.accuracy"), SeriesSpec("performance.recall"),
    SeriesSpec("performance.roc_auc"),
    SeriesSpec("fairness.selection_rate_ratio", EACH_ATTRIBUTE),
    SeriesSpec("fairness.equalized_odds_difference", EACH_ATTRIBUTE),
    SeriesSpec("drift.share_drifted"), SeriesSpec("explain.attribution_shift"),
    SeriesSpec("quality.rows"), SeriesSpec("quality.missing_rate"),
    SeriesSpec("quality.label_coverage"),
)
QUALITY_COLUMNS = ("quality.rows", "quality.schema_violation_rate", "quality.missing_rate",
                   "quality.label_coverage")


def _thresholds(policies: list[dict[str, Any]], metric: str,
                segment: str) -> list[dict[str, Any]]:
    out = []
    for p in policies:
        for r in p["rules"]:
            scope = r["sensitive"] or ([r["segment"]] if r["segment"] else ["all"])
            if r["metric"] == metric and r.get("threshold") is not None and \
                    ("*" in scope or segment in scope):
                out.append({"policy": p["policy"], "rule_id": r["id"], "op": r.get("op"),
                            "threshold": r["threshold"], "severity": r["severity"]})
    return out


def metric_series(rows: pd.DataFrame, *, sensitive: list[str],
                  policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One series per charted metric and segment: every window's value with its
    interval, and the policy thresholds that judge it."""
    out = []
    for spec in SERIES:
        segments = sensitive if spec.segment == EACH_ATTRIBUTE else [spec.segment]
        for segment in segments:
            mine = rows[(rows["metric"] == spec.metric) & (rows["segment"] == segment)]
            if mine.empty:
                continue
            points = []
            for row in mine.sort_values(["window_start", "version"]).itertuples(index=False):
                point = metric_fact(row)
                point.update(jsonable({"window_start": row.window_start.to_pydatetime(),
                                       "window_end": row.window_end.to_pydatetime(),
                                       "version": int(row.version)}))
                points.append(point)
            out.append({"metric": spec.metric, "segment": segment, "points": points,
                        "thresholds": _thresholds(policies, spec.metric, segment)})
    return out


def data_quality(home: Home, rows: pd.DataFrame, findings: list[dict[str, Any]], *,
                 model: str, since: dt.datetime | None,
                 until: dt.datetime | None) -> dict[str, Any]:
    """Per window: rows, schema violations, missing values and label coverage; the
    failing quality findings (incidents); and the rows quarantined in the period."""
    overall = rows[rows["metric"].isin(QUALITY_COLUMNS) & (rows["segment"] == "all")]
    windows = []
    for (start, version), group in overall.groupby(["window_start", "version"], sort=True):
        values = {r.metric: metric_fact(r)["value"] for r in group.itertuples(index=False)}
        windows.append(jsonable({"window_start": start.to_pydatetime(),
                                 "version": int(version),
                                 **{m: values.get(m) for m in QUALITY_COLUMNS}}))
    incidents = [f for f in findings if f["metric"].startswith("quality.")
                 and f["status"] in ("fail", "error")]
    return {"windows": windows, "incidents": incidents,
            "quarantine": quarantine_counts(home, model=model, since=since, until=until)}


def evidence(home: Home, *, policies: list[dict[str, Any]],
             judged: list[dict[str, Any]], spec_sha256: str) -> dict[str, Any]:
    """What an auditor checks the report against: the ledger head the facts rest on,
    the number of events up to it, the result of verifying the whole chain and its
    checkpoints, the software version and every policy file hash."""
    seq, head_hash, count = facts_ledger_head(home)
    result = audit_verify(home)
    return {"ledger": {"head_seq": seq, "head_hash": head_hash, "events": count},
            "verification": {"ok": result.ok,
                             "problems": [p.message for p in result.problems]},
            "software": {"name": "raigov", "version": __version__},
            "model_spec_sha256": spec_sha256,
            "policy_files": [{"policy": p["policy"], "version": p["version"],
                              "path": p["path"], "sha256": p["sha256"]} for p in policies],
            "policies_judged": judged}
