"""The body of the Markdown model card, section by section (Mitchell et al. 2019)."""

from __future__ import annotations

from typing import Any

from raigov.reports import views as v
from raigov.reports.formatting import (NOT_PROVIDED, format_count, format_day,
                                         format_value, format_when)
from raigov.reports.markdown_text import md_code, md_text, narrative, table


def card_body(card: dict[str, Any]) -> list[str]:
    d = card["model_details"]
    lines = [f"# Model card: {md_text(d['name'])} (version {d['version']})", ""]
    if card["missing"]:
        lines += [f"> **Missing information.** The registered card does not provide: "
                  f"{', '.join(md_code(m) for m in card['missing'])}. These parts are "
                  f"marked \"{NOT_PROVIDED}\" below; nothing was filled in for them.", ""]
    for section in (_details, _intended_use, _factors, _metrics, _evaluation, _training,
                    _quantitative, _ethics, _caveats):
        lines += section(card)
    return lines


def _details(card: dict[str, Any]) -> list[str]:
    d = card["model_details"]
    rows = [("Owner", narrative(d["owner"])), ("Description", narrative(d["description"])),
            ("Version", f"{d['version']} (registered {md_text(format_when(d['created_at']))})"),
            ("Specification SHA-256", md_code(d["spec_sha256"])),
            ("Output", f"{md_text(d['output_kind'])}; classes "
                       f"{', '.join(md_code(c) for c in d['classes'])}; positive class "
                       f"{md_code(d['positive_class'])}; threshold {d['threshold']}"),
            ("Features", ", ".join(md_code(x) for x in d["features"]) or "none"),
            ("Sensitive attributes", ", ".join(md_code(x) for x in d["sensitive"]) or "none"),
            ("Tags", ", ".join(md_code(x) for x in d["tags"]) or "none"),
            ("License", narrative(d["license"])),
            ("References", "; ".join(md_text(r) for r in d["references"]) or "none")]
    return ["## Model details", "", "| | |", "|---|---|",
            *(f"| {k} | {val} |" for k, val in rows), ""]


def _intended_use(card: dict[str, Any]) -> list[str]:
    u = card["intended_use"]
    return ["## Intended use", "", f"- **Primary intended uses:** {narrative(u['intended_use'])}",
            f"- **Primary intended users:** {narrative(u['primary_users'])}",
            f"- **Out-of-scope uses:** {narrative(u['out_of_scope_uses'])}", ""]


def _factors(card: dict[str, Any]) -> list[str]:
    fa = card["factors"]
    attrs = ", ".join(md_code(a) for a in fa["sensitive"]) or "none declared"
    inter = ", ".join(md_code(a) for a in fa["intersections"]) or "none"
    return ["## Factors", "", narrative(fa["narrative"]), "",
            f"Monitored groups: each value of {attrs}; intersections: {inter}. A group "
            f"needs at least {fa['min_group_size']} rows for its figures to be judged.", ""]


def _metrics(card: dict[str, Any]) -> list[str]:
    lines = ["## Metrics", "", "| metric | meaning | better |", "|---|---|---|"]
    for m in card["metrics"]:
        better = {True: "higher", False: "lower", None: ""}[m["higher_is_better"]]
        lines.append(f"| {md_code(m['metric'])} | {md_text(m['meaning'] or '')} | {better} |")
    return [*lines, "", "Intervals are 95% confidence intervals (Wilson for rates, "
            "bootstrap for the others), as computed by the monitors.", ""]


def _evaluation(card: dict[str, Any]) -> list[str]:
    e = card["evaluation_data"]
    w = e["live_windows"]
    live = (f"Production monitoring: {w['windows']} window(s) from "
            f"{md_text(format_day(w['first_start']))} to {md_text(format_day(w['last_start']))}, "
            f"{format_count(w['predictions'])} predictions, {format_count(w['labelled'])} with "
            "ground truth." if w["windows"] else "Production monitoring: no window computed yet.")
    return ["## Evaluation data", "", narrative(e["narrative"]), "", live, ""]


def _training(card: dict[str, Any]) -> list[str]:
    return ["## Training data", "", narrative(card["training_data"]["narrative"]), ""]


def _window(section: dict[str, Any]) -> str:
    w = section["window"]
    return "no window yet" if w is None else \
        f"window {md_text(format_when(w['start']))} to {md_text(format_when(w['end']))}"


def _quantitative(card: dict[str, Any]) -> list[str]:
    q = card["quantitative_analyses"]
    perf, fair = v.performance_table(q["performance"]), v.disparity_table(q["fairness"])
    groups = v.group_table(q["fairness"])
    lines = ["## Quantitative analyses", "",
             f"### Performance by group ({_window(q['performance'])})", "",
             *table(perf, first="segment"),
             f"### Fairness ({_window(q['fairness'])})", "", *table(fair, first="disparity"),
             *table(groups, first="group")]
    if v.any_insufficient(perf, fair, groups):
        lines += [f"\\* {md_text(v.INSUFFICIENT_NOTE)}", ""]
    return lines + _drift(q["drift"]) + _explain(q["explanations"])


def _drift(d: dict[str, Any]) -> list[str]:
    lines = [f"### Drift ({_window(d)})", ""]
    for label, fact in (("Dataset drift (1 = drifted)", d["dataset_drift"]),
                        ("Share of drifted features", d["share_drifted"]),
                        ("Prediction drift score", d["prediction"])):
        if fact is not None:
            lines.append(f"- {label}: {format_value(fact['value'], fact['metric'])}")
    drifted = [md_code(x["feature"]) for x in d["features"] if x.get("drifted")]
    lines.append(f"- Drifted features: {', '.join(drifted) if drifted else 'none'}")
    return [*lines, ""]


def _explain(e: dict[str, Any]) -> list[str]:
    lines = [f"### Explanations ({_window(e)})", "",
             "| rank | feature | mean abs. SHAP | interval |", "|---|---|---|---|"]
    for i, m in enumerate(e["top_features"], 1):
        c = v.cell(m)
        lines.append(f"| {i} | {md_code(m['feature'])} | {c.value} | {c.interval} |")
    shift = e["attribution_shift"]
    if shift is not None:
        lines += ["", f"Attribution shift against the reference: {v.cell(shift).value}"]
    return [*lines, ""]


def _ethics(card: dict[str, Any]) -> list[str]:
    return ["## Ethical considerations", "", narrative(card["ethical_considerations"]), ""]


def _caveats(card: dict[str, Any]) -> list[str]:
    c = card["caveats_and_recommendations"]
    return ["## Caveats and recommendations", "",
            f"- **Limitations:** {narrative(c['limitations'])}",
            f"- **Recommendations:** {narrative(c['recommendations'])}", ""]
