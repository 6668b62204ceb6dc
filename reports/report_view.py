"""What the report template needs beyond the facts: the table of contents, the charts,
the mapping from sections to regulatory points, and a few groupings. Derived from the
facts alone, so the same facts always render the same report."""

from __future__ import annotations

from typing import Any

from raigov.reports.charts import Chart, build_chart, has_values
from raigov.reports.formatting import format_when

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("model-card", "Model card"),
    ("policies", "Policies in force"),
    ("findings", "Findings"),
    ("alerts", "Alerts and their lifecycle"),
    ("waivers", "Waivers used"),
    ("charts", "Metrics over the period"),
    ("data-quality", "Data quality and quarantine"),
    ("evidence", "Evidence"),
    ("compliance", "Regulatory mapping"),
    ("appendix-findings", "Appendix: every finding"),
)
SECTION_TITLES = {**dict(SECTIONS), "card-quantitative": "Model card: quantitative analyses"}
NOT_PASSING = ("fail", "error", "waived", "insufficient_data")


def period_label(period: dict[str, Any]) -> str:
    """``Period 2024-05-01 00:00 UTC to 2024-06-01 00:00 UTC`` (either end may be open)."""
    since, until = period["since"], period["until"]
    if since is None and until is None:
        return "Period: every monitoring window"
    if since is None:
        return f"Period: until {format_when(until)}"
    if until is None:
        return f"Period: from {format_when(since)}"
    return f"Period: {format_when(since)} to {format_when(until)}"


def charts(facts: dict[str, Any]) -> list[Chart]:
    return [build_chart(s) for s in facts["metric_series"] if has_values(s)]


def section_mapping(compliance: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each report section with the points it evidences (fully or in part)."""
    out = []
    for section_id, title in [*SECTIONS[1:2], ("card-quantitative",
                                                SECTION_TITLES["card-quantitative"]),
                              *SECTIONS[2:9]]:
        points = [p for p in compliance if section_id in p["sections"]
                  and p["level"] != "not evidenced"]
        out.append({"id": section_id, "title": title,
                    "annex_iv": [p["ref"] for p in points if p["framework"].startswith("EU")],
                    "nist": [p["ref"] for p in points if p["framework"].startswith("NIST")]})
    return out


def report_context(facts: dict[str, Any]) -> dict[str, Any]:
    findings = facts["findings"]["items"]
    return {"sections": SECTIONS, "section_titles": SECTION_TITLES,
            "period_text": period_label(facts["period"]), "charts": charts(facts),
            "notable_findings": [f for f in findings if f["status"] in NOT_PASSING],
            "mapping": section_mapping(facts["compliance"]),
            "declared": [(p["policy"], w) for p in facts["policies"] for w in p["waivers"]],
            "annex_iv": [p for p in facts["compliance"] if p["framework"].startswith("EU")],
            "nist": [p for p in facts["compliance"] if p["framework"].startswith("NIST")]}
