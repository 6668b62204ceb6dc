"""Model cards (Mitchell et al. 2019, "Model Cards for Model Reporting") from live
evidence: the narrative from the registration, the figures from the latest monitoring
windows. ``build_card`` renders Markdown (with Hugging Face metadata as YAML front
matter), self-contained HTML, or JSON that validates against
``reports/schema/model_card.schema.json``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from raigov.models.registry import RegisteredModel, get_model
from raigov.monitors.store import computed_windows, read_metric_rows
from raigov.reports import facts as f
from raigov.reports.queries import jsonable
from raigov.errors import ConfigError, did_you_mean
from raigov.home import Home

CardFormat = Literal["md", "html", "json"]
CARD_FORMATS: tuple[str, ...] = ("md", "html", "json")
CARD_SCHEMA_VERSION = "1.0"
CARD_KIND = "raigov.model_card"
UNKNOWN_CARD_FORMAT = "Unknown model card format '{fmt}'. Allowed: {allowed}.{hint}"


def check_format(fmt: str, allowed: tuple[str, ...], template: str) -> None:
    """Raise :class:`ConfigError` naming the allowed formats when ``fmt`` is not one."""
    if fmt not in allowed:
        raise ConfigError(template.format(fmt=fmt, allowed=", ".join(allowed),
                                          hint=did_you_mean(str(fmt), allowed)))


def card_facts(home: Home, model: str, *, version: int | None = None,
               since: dt.datetime | None = None,
               until: dt.datetime | None = None) -> dict[str, Any]:
    """The card's facts: registry narrative plus the latest windows' figures (of the
    period when given). Plain JSON data, deterministic for the same catalog state."""
    registered = get_model(home, model, version)
    rows = read_metric_rows(home, model=model, version=registered.version, since=since,
                            until=until)
    text = f.narrative(registered)
    return {
        "schema_version": CARD_SCHEMA_VERSION, "kind": CARD_KIND, "as_of": f.as_of(rows),
        "model_details": f.model_details(registered),
        "intended_use": {k: text[k] for k in ("intended_use", "out_of_scope_uses",
                                              "primary_users")},
        "factors": f.factors(registered),
        "metrics": f.metric_glossary(f.CARD_METRICS),
        "evaluation_data": {"narrative": text["evaluation_data"],
                            "live_windows": live_windows(home, registered, since=since,
                                                         until=until)},
        "training_data": {"narrative": text["training_data"]},
        "quantitative_analyses": f.quantitative_analyses(rows),
        "ethical_considerations": text["ethical_considerations"],
        "caveats_and_recommendations": {"limitations": text["limitations"],
                                        "recommendations": text["recommendations"]},
        "missing": f.missing_fields(registered),
    }


def live_windows(home: Home, model: RegisteredModel, *, since: dt.datetime | None,
                 until: dt.datetime | None) -> dict[str, Any]:
    """The monitored production windows of this version: how many, when, how many
    predictions and how many of them have their ground truth."""
    windows = sorted((start, counts) for (version, start), counts
                     in computed_windows(home, model.name).items()
                     if version == model.version and (since is None or start >= since)
                     and (until is None or start < until))
    return jsonable({
        "windows": len(windows),
        "first_start": windows[0][0] if windows else None,
        "last_start": windows[-1][0] if windows else None,
        "predictions": sum(c[0] for _, c in windows),
        "labelled": sum(c[1] for _, c in windows)})


def build_card(home: Home, model: str, *, fmt: CardFormat = "md",
               version: int | None = None) -> str:
    """The model card of ``model`` (its latest version unless ``version``) as
    Markdown, HTML or JSON."""
    check_format(fmt, CARD_FORMATS, UNKNOWN_CARD_FORMAT)
    facts = card_facts(home, model, version=version)
    if fmt == "json":
        return card_json(facts)
    if fmt == "html":
        from raigov.reports.render_html import render_card_html

        return render_card_html(facts)
    from raigov.reports.markdown import render_card_markdown

    return render_card_markdown(facts)


def card_json(facts: dict[str, Any]) -> str:
    return json.dumps(facts, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
