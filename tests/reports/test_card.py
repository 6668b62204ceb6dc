"""Model cards from live evidence: figures equal to the catalog's, narrative verbatim,
missing fields flagged (never invented), Hugging Face metadata, a published schema."""

from __future__ import annotations

import json

import pytest
import yaml

from raigov.models.registry import get_model
from raigov.reports.card import UNKNOWN_CARD_FORMAT, build_card
from raigov.reports.formatting import NOT_PROVIDED, format_interval, format_value
from raigov.reports.schema import schema_validator
from raigov.errors import ConfigError, NotFoundError
from raigov.home import Home
from tests.reports.report_helpers import DEMO_MODELS, catalog_figure, register_copy


def card_json(home: Home, model: str) -> dict:
    return json.loads(build_card(home, model, fmt="json"))


def overall(section: dict, metric: str, segment: str = "all") -> dict:
    [fact] = [m for m in section["metrics"] if m["metric"] == metric and m["segment"] == segment]
    return fact


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_the_card_shows_the_catalogs_latest_usable_figures_in_every_format(
        seeded_home_template: Home, model: str) -> None:
    home = seeded_home_template
    card = card_json(home, model)
    text = {fmt: build_card(home, model, fmt=fmt) for fmt in ("md", "html")}
    perf = card["quantitative_analyses"]["performance"]
    for metric in ("performance.accuracy", "performance.roc_auc"):
        expected = catalog_figure(home, model, metric)
        assert perf["window"]["start"][:19] == expected.window_start.isoformat()[:19]
        fact = overall(perf, metric)
        assert (fact["value"], fact["ci_low"], fact["ci_high"], fact["n"]) == (
            expected.value, expected.ci_low, expected.ci_high, expected.n)
        for rendered in text.values():
            assert format_value(expected.value) in rendered
            assert format_interval(expected.ci_low, expected.ci_high) in rendered


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_fairness_drift_and_shap_figures_are_the_catalogs_for_each_group(
        seeded_home_template: Home, model: str) -> None:
    home = seeded_home_template
    card = card_json(home, model)
    quant = card["quantitative_analyses"]
    html = build_card(home, model, fmt="html")
    fairness_start = quant["fairness"]["window"]["start"]
    for attribute in get_model(home, model).spec.sensitive:
        expected = catalog_figure(home, model, "fairness.selection_rate", f"{attribute}=" +
                                  _first_group(quant["fairness"], attribute),
                                  start=fairness_start)
        fact = overall(quant["fairness"], "fairness.selection_rate", expected.segment)
        assert fact["value"] == expected.value and fact["n"] == expected.n
        assert format_value(expected.value) in html
    share = catalog_figure(home, model, "drift.share_drifted")
    assert quant["drift"]["share_drifted"]["value"] == share.value
    top = quant["explanations"]["top_features"][0]
    start = quant["explanations"]["window"]["start"]
    shap = {f: catalog_figure(home, model, f"explain.importance.{f}", start=start).value
            for f in get_model(home, model).spec.features}
    assert top["feature"] == max(shap, key=shap.get) and top["value"] == max(shap.values())


def _first_group(section: dict, attribute: str) -> str:
    return next(m["segment"].split("=", 1)[1] for m in section["metrics"]
                if m["segment"].startswith(f"{attribute}=") and "&" not in m["segment"])


def test_a_card_registered_without_intended_use_shows_it_as_missing(seeded_home: Home) -> None:
    register_copy(seeded_home, "credit-risk", intended_use=None)
    card = card_json(seeded_home, "credit-risk")
    assert card["model_details"]["version"] == 2
    assert card["intended_use"]["intended_use"] is None
    assert "intended_use" in card["missing"]
    markdown = build_card(seeded_home, "credit-risk", fmt="md")
    intended = markdown.split("## Intended use", 1)[1].split("##", 1)[0]
    assert f"**Primary intended uses:** **{NOT_PROVIDED}**" in intended
    html = build_card(seeded_home, "credit-risk", fmt="html")
    assert f'<span class="missing">{NOT_PROVIDED}</span>' in html
    assert "Demonstrating and testing raigov on a small credit-scoring model" not in html


def test_narrative_fields_are_the_registered_text_verbatim(seeded_home_template: Home) -> None:
    registered = get_model(seeded_home_template, "income-classifier").spec.card
    card = card_json(seeded_home_template, "income-classifier")
    assert card["intended_use"]["out_of_scope_uses"] == registered.out_of_scope_uses
    assert card["ethical_considerations"] == registered.ethical_considerations
    assert card["missing"] == ["license"]
    assert card["model_details"]["license"] is None


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_the_card_json_validates_against_its_published_schema(
        seeded_home_template: Home, model: str) -> None:
    errors = list(schema_validator("model_card").iter_errors(card_json(seeded_home_template,
                                                                       model)))
    assert errors == []


def test_the_markdown_front_matter_is_hugging_face_model_card_metadata(
        seeded_home_template: Home) -> None:
    markdown = build_card(seeded_home_template, "income-classifier", fmt="md")
    assert markdown.startswith("---\n")
    meta = yaml.safe_load(markdown.split("---\n")[1])
    assert "license" not in meta  # not provided: left out, never invented
    assert {"demo", "tabular", "raigov"} <= set(meta["tags"])
    assert meta["library_name"] == "pytorch"
    assert meta["pipeline_tag"] == "tabular-classification"
    [result] = meta["model-index"][0]["results"]
    accuracy = catalog_figure(seeded_home_template, "income-classifier", "performance.accuracy")
    by_type = {m["type"]: m["value"] for m in result["metrics"]}
    assert by_type["accuracy"] == accuracy.value
    assert meta["model-index"][0]["name"] == "income-classifier"


def test_an_unknown_card_format_or_model_is_refused(seeded_home_template: Home) -> None:
    with pytest.raises(ConfigError) as excinfo:
        build_card(seeded_home_template, "credit-risk", fmt="pdf")  # type: ignore[arg-type]
    assert str(excinfo.value) == UNKNOWN_CARD_FORMAT.format(fmt="pdf",
                                                            allowed="md, html, json", hint="")
    with pytest.raises(NotFoundError, match="Did you mean 'credit-risk'"):
        build_card(seeded_home_template, "credit-rsk")
