"""Which report sections evidence which points of the EU AI Act's Annex IV (technical
documentation, Regulation (EU) 2024/1689) and which NIST AI RMF 1.0 subcategories, and
which points this report cannot evidence. A point is ``evidenced``, ``partly
evidenced`` (the report shows part of what the point asks; the note says what is
missing) or ``not evidenced``; a point is downgraded when the facts it needs are
missing (a card field not provided, no monitoring window, no fairness figures)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Callable

Level = Literal["evidenced", "partly evidenced", "not evidenced"]
ANNEX_IV = "EU AI Act Annex IV"
NIST = "NIST AI RMF 1.0"
GAP_FIELD = "the card does not provide {field}"
GAP_DATA = "{what}"


@dataclass(frozen=True)
class Point:
    framework: str
    ref: str
    title: str
    sections: tuple[str, ...] = ()
    level: Level = "evidenced"
    needs: tuple[str, ...] = ()     # card fields, or keys of NEEDS
    note: str = ""


def _a(ref: str, title: str, sections: tuple[str, ...] = (), level: Level = "evidenced",
       needs: tuple[str, ...] = (), note: str = "") -> Point:
    return Point(ANNEX_IV, ref, title, sections, level if sections else "not evidenced",
                 needs, note)


def _n(ref: str, title: str, sections: tuple[str, ...] = (), level: Level = "evidenced",
       needs: tuple[str, ...] = (), note: str = "") -> Point:
    return Point(NIST, ref, title, sections, level if sections else "not evidenced",
                 needs, note)


_OUT_OF_SCOPE = "raigov does not record this"
POINTS: tuple[Point, ...] = (
    _a("1(a)", "Intended purpose, provider and version", ("model-card",),
       needs=("intended_use", "owner", "description")),
    _a("1(b)", "Interaction with hardware or software outside the system", note=_OUT_OF_SCOPE),
    _a("1(c)", "Versions of relevant software and update requirements", ("evidence", "model-card"),
       "partly evidenced", note="raigov's version and the model version and spec hash only"),
    _a("1(d)", "Forms in which the system is placed on the market", note=_OUT_OF_SCOPE),
    _a("1(e)", "Hardware on which the system is intended to run", note=_OUT_OF_SCOPE),
    _a("1(f)", "Photographs or illustrations of products", note=_OUT_OF_SCOPE),
    _a("1(g)", "User interface provided to the deployer", note=_OUT_OF_SCOPE),
    _a("1(h)", "Instructions for use", ("model-card",), "partly evidenced",
       ("out_of_scope_uses", "recommendations"),
       "intended and out-of-scope uses and recommendations, not full instructions for use"),
    _a("2(a)", "Methods and steps of development", ("model-card",), "partly evidenced",
       ("training_data",), "the training data description only"),
    _a("2(b)", "Design specifications and key design choices", ("model-card",),
       "partly evidenced", ("ethical_considerations",),
       "inputs, sensitive attributes, output and threshold; not the design rationale"),
    _a("2(c)", "System architecture and computational resources", note=_OUT_OF_SCOPE),
    _a("2(d)", "Data requirements and datasheets of the data sets", ("model-card",),
       "partly evidenced", ("training_data", "evaluation_data"),
       "the card's data descriptions; no full datasheet"),
    _a("2(e)", "Assessment of human oversight measures (Art. 14)", ("alerts",),
       "partly evidenced", note="who acknowledged and resolved alerts, not the assessment"),
    _a("2(f)", "Pre-determined changes to the system", note=_OUT_OF_SCOPE),
    _a("2(g)", "Validation and testing: data, metrics (accuracy, robustness, "
               "discriminatory impact), test logs", ("card-quantitative", "findings", "charts"),
       needs=("evaluation_data", "windows", "fairness")),
    _a("2(h)", "Cybersecurity measures", note=_OUT_OF_SCOPE),
    _a("3", "Monitoring, functioning and control: performance limits, accuracy for "
            "groups, foreseeable risks, input data specifications",
       ("card-quantitative", "alerts", "data-quality"), needs=("limitations", "windows",
                                                              "fairness")),
    _a("4", "Appropriateness of the performance metrics", ("model-card", "policies"),
       "partly evidenced", note="the metrics and thresholds used; the argument for them "
                                "is not written by raigov"),
    _a("5", "Risk management system (Art. 9)", ("policies", "findings", "alerts", "waivers"),
       "partly evidenced", ("policies",), "the risk controls in operation, not the system"),
    _a("6", "Changes made through the lifecycle", ("model-card", "evidence"),
       "partly evidenced", note="the model version and spec hash; no change history"),
    _a("7", "Harmonised standards applied", note=_OUT_OF_SCOPE),
    _a("8", "EU declaration of conformity (Art. 47)", note=_OUT_OF_SCOPE),
    _a("9", "Post-market performance evaluation and monitoring plan (Art. 72)",
       ("charts", "data-quality", "alerts", "evidence"), needs=("windows",)),
    _n("GOVERN 1.4", "Risk management through transparent policies and controls",
       ("policies", "findings"), needs=("policies",)),
    _n("GOVERN 1.5", "Ongoing monitoring and periodic review", ("charts", "alerts"),
       "partly evidenced", ("windows",), "monitoring in operation; review cadence not shown"),
    _n("GOVERN 1.6", "Inventory of AI systems", ("model-card",), "partly evidenced",
       note="this model's registry entry only"),
    _n("MAP 1.1", "Intended purposes and context documented", ("model-card",),
       needs=("intended_use", "out_of_scope_uses", "primary_users")),
    _n("MAP 2.2", "Knowledge limits and human oversight of outputs documented",
       ("model-card",), needs=("limitations", "recommendations")),
    _n("MEASURE 1.1", "Approaches and metrics for AI risks selected",
       ("model-card", "policies"), needs=("policies",)),
    _n("MEASURE 2.1", "Test sets, metrics and tools documented", ("model-card",),
       needs=("evaluation_data",)),
    _n("MEASURE 2.3", "Performance measured in deployment-like conditions",
       ("card-quantitative", "charts"), needs=("windows",)),
    _n("MEASURE 2.4", "Functionality and behaviour monitored in production",
       ("charts", "data-quality"), needs=("windows",)),
    _n("MEASURE 2.5", "Valid and reliable; limits of generalisability documented",
       ("card-quantitative", "model-card"), needs=("limitations", "windows")),
    _n("MEASURE 2.7", "Security and resilience evaluated", note=_OUT_OF_SCOPE),
    _n("MEASURE 2.8", "Transparency and accountability risks examined",
       ("evidence", "alerts"), "partly evidenced",
       note="a verified ledger and named actors; not the risk examination"),
    _n("MEASURE 2.9", "Model explained and output interpreted in context",
       ("card-quantitative",), needs=("explanations",)),
    _n("MEASURE 2.10", "Privacy risk examined", note=_OUT_OF_SCOPE),
    _n("MEASURE 2.11", "Fairness and bias evaluated and documented",
       ("card-quantitative", "findings", "charts"), needs=("fairness",)),
    _n("MEASURE 2.12", "Environmental impact assessed", note=_OUT_OF_SCOPE),
    _n("MEASURE 2.13", "Effectiveness of the measurement evaluated", ("findings", "data-quality"),
       "partly evidenced", note="insufficient-data findings and label coverage"),
    _n("MEASURE 3.1", "Existing and emergent risks tracked in deployment",
       ("findings", "alerts"), needs=("windows",)),
    _n("MANAGE 1.3", "Responses to high-priority risks documented", ("alerts", "waivers"),
       "partly evidenced", note="alert resolutions and waivers (accepted risks)"),
    _n("MANAGE 2.4", "Mechanisms to supersede, disengage or deactivate the system",
       note="the kill switch exists, but its history is not part of this report"),
    _n("MANAGE 4.1", "Post-deployment monitoring plans implemented",
       ("charts", "alerts", "data-quality"), needs=("windows",),
       note="monitoring and incident response; appeal and decommissioning not covered"),
    _n("MANAGE 4.3", "Incidents and errors tracked, responded to and documented",
       ("alerts", "data-quality")),
)

NEEDS: dict[str, tuple[Callable[[dict[str, Any]], bool], str]] = {
    "windows": (lambda f: bool(f["period"]["windows"]), "no monitoring window in the period"),
    "fairness": (lambda f: any(m["value"] is not None for m in
                               f["card"]["quantitative_analyses"]["fairness"]["metrics"]),
                 "no fairness figure in the period"),
    "explanations": (lambda f: bool(f["card"]["quantitative_analyses"]["explanations"]
                                    ["top_features"]), "no explanation figure in the period"),
    "policies": (lambda f: bool(f["policies"]), "no policy in force applies to the model"),
}


def _gaps(point: Point, facts: dict[str, Any]) -> list[str]:
    gaps = []
    for need in point.needs:
        if need in NEEDS:
            check, why = NEEDS[need]
            if not check(facts):
                gaps.append(GAP_DATA.format(what=why))
        elif need in facts["card"]["missing"]:
            gaps.append(GAP_FIELD.format(field=need))
    return gaps


def assess(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every point with its level for these facts, the sections that evidence it and
    why it is not (fully) evidenced."""
    out = []
    for point in POINTS:
        gaps = _gaps(point, facts)
        level = point.level
        if gaps and level == "evidenced":
            level = "partly evidenced"
        if gaps and len(gaps) == len(point.needs) and point.needs and \
                all(n in NEEDS for n in point.needs):
            level = "not evidenced"
        out.append({"framework": point.framework, "ref": point.ref, "title": point.title,
                    "sections": list(point.sections), "level": level,
                    "note": "; ".join([*gaps, *([point.note] if point.note else [])])})
    return out
