"""Scenario files: the shipped ones load; a broken one reports every problem with its
file, line and field; incident kinds come from one registry, a user's own included."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from raigov.cli.demo import scenario as sc
from raigov.cli.demo.incidents import (INCIDENT_KINDS, QUARANTINE_IS_A_METRIC, Incident,
                                       load_incident_kinds, register_incident_kind)
from raigov.cli.demo.scenario_checks import NOT_ONE_METRIC
from raigov.cli.demo.scenario import ScenarioError, load_scenario, shipped_scenarios
from raigov.errors import ConfigError

BUILTIN_KINDS = {"covariate_shift", "data_fault", "biased_version", "concept_shift",
                 "value_shift"}

BROKEN = """\
scenario: broken
days: 10
traffic:
  models:
    income-classifer: {rows_per_day: 10}
  weekly_patern: [1]
labels: {coverage: 1.5}
incidents:
  - kind: covariate_shfit
    model: income-classifier
    day: 3
  - kind: data_fault
    model: credit-risk
    day: 4
    column: purpose
    fault: nul
    share: 0.2
  - kind: biased_version
    model: credit-risk
    day: 4
    expect: [{metric: fairness, segment: sex}]
    penalise: {column: sex, values: [female]}
    flip_share: 0.2
"""

VALID_HEAD = """\
scenario: ok
days: 10
traffic:
  models:
    income-classifier: {rows_per_day: 10}
incidents:
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_every_shipped_scenario_loads_and_the_short_one_has_every_builtin_kind() -> None:
    loaded = {path.stem: load_scenario(path) for path in shipped_scenarios()}
    assert {"default", "calm", "smoke"} <= set(loaded)
    assert loaded["calm"].incidents == ()
    assert {i.kind for i in loaded["smoke"].incidents} == BUILTIN_KINDS
    # the default scenario's text model adds the kinds of cli/demo/incidents_text.py
    assert {i.kind for i in loaded["default"].incidents} == BUILTIN_KINDS | {"topic_shift",
                                                                          "text_fault"}
    assert load_scenario(None).name == "default"


def test_a_broken_scenario_reports_every_problem_with_file_line_and_field(tmp_path) -> None:
    path = _write(tmp_path, BROKEN)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = caught.value.problems
    assert problems == [
        f"{path}, line 4, field 'traffic.models': " + sc.UNKNOWN_MODEL.format(
            model="income-classifer",
            known="income-classifier, credit-risk, hours-estimator, job-sector, review-sentiment",
            hint=" Did you mean 'income-classifier'?"),
        f"{path}, line 6, field 'traffic.weekly_patern': " + sc.UNKNOWN_FIELD.format(
            allowed="models, weekly_pattern, daily_noise, max_rows_per_request",
            hint=" Did you mean 'weekly_pattern'?"),
        f"{path}, line 7, field 'labels.coverage': Input should be less than or equal to 1 "
        "(got 1.5)",
        f"{path}, line 9, field 'incidents[0].kind': " + sc.UNKNOWN_KIND.format(
            kind="covariate_shfit", known=", ".join(sorted(INCIDENT_KINDS)),
            hint=" Did you mean 'covariate_shift' or 'value_shift'?"),
        f"{path}, line 16, field 'incidents[1].fault': Input should be 'null' or "
        "'new_category' (got 'nul') Did you mean 'null'?",
        f"{path}, line 19, field 'incidents[2].model': "
        + sc.MODEL_WITHOUT_TRAFFIC.format(model="credit-risk"),
        f"{path}, line 21, field 'incidents[2].expect[0].metric': " + NOT_ONE_METRIC.format(
            metric="fairness", examples="fairness.demographic_parity_difference, "
            "fairness.demographic_parity_ratio, fairness.equalized_odds_difference"),
    ]
    assert str(path) in str(caught.value) and caught.value.exit_code == 2


def test_incidents_are_checked_against_the_days_the_models_and_their_columns(tmp_path) -> None:
    path = _write(tmp_path, VALID_HEAD + """\
  - {kind: concept_shift, model: income-classifier, day: 12, where: [{column: agee, max: 30}],
     share: 0.5, expect: [{metric: performance.recal}]}
  - {kind: covariate_shift, model: credit-risk, day: 2,
     oversample: [{column: age, min: 50, factor: 2}]}
  - {kind: data_fault, model: income-classifier, day: 2, column: workclass, fault: "null",
     share: 0.5, expect: [{quarantine: true}]}
""")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = "\n".join(caught.value.problems)
    assert sc.DAY_AFTER_END.format(day=12, days=10) in text
    assert "'income-classifier' has no input column 'agee'" in text
    assert "Did you mean 'age'?" in text
    assert "unknown metric 'performance.recal'" in text
    assert "field 'incidents[2].expect[0]': " + QUARANTINE_IS_A_METRIC in text
    assert "Did you mean 'performance.recall'" in text
    assert sc.MODEL_WITHOUT_TRAFFIC.format(model="credit-risk") in text


def test_a_missing_file_and_invalid_yaml_say_where(tmp_path) -> None:
    with pytest.raises(sc.ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"line \d+, field 'days': while parsing"):
        load_scenario(_write(tmp_path, "scenario: x\ndays: [1\n"))


def test_a_shorter_run_leaves_out_later_incidents_and_clips_the_others() -> None:
    smoke = load_scenario(sc.SCENARIOS_DIR / "smoke.yaml")
    short, left_out = smoke.with_overrides(days=4, seed=7, rows_per_day=50)
    assert short.days == 4 and short.seed == 7
    assert [i.label for i in left_out] == ["country-feed-down", "retrain-penalises-women",
                                           "young-graduates-earn-more", "women-work-longer"]
    assert [i.until for i in short.incidents] == [2, 4, 4]
    assert smoke.incidents[-2].label == "young-graduates-earn-more"
    assert smoke.incidents[-2].until == 8, "no 'until': the incident lasts to the last day"
    assert {m.rows_per_day for m in short.traffic.models.values()} == {50}


def test_a_users_own_incident_kind_goes_through_the_same_registry(tmp_path) -> None:
    load_incident_kinds()

    class Outage(Incident):
        kind: Literal["outage"] = "outage"

        def default_expectation(self, spec):  # noqa: ANN001, ANN201
            return ()

    with INCIDENT_KINDS.overriding():
        register_incident_kind(Outage)
        loaded = load_scenario(_write(tmp_path, VALID_HEAD + "  - {kind: outage, model: "
                                      "income-classifier, day: 3, until: 4}\n"))
        assert isinstance(loaded.incidents[0], Outage) and loaded.incidents[0].active(4)
        with pytest.raises(ConfigError, match="incident kind 'outage' is already registered"):
            register_incident_kind(type("Other", (Outage,), {}))
    assert "outage" not in INCIDENT_KINDS


def test_every_incident_kind_and_demo_model_is_in_the_readme() -> None:
    from raigov.models.demo_models import DEMO_MODELS

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    kinds = sorted(load_incident_kinds())
    assert len(kinds) >= 5
    missing = [k for k in kinds if f"| `{k}` |" not in readme]
    assert missing == []
    assert [m for m in DEMO_MODELS if f"| `{m}` |" not in readme] == []


def test_a_shipped_scenario_is_named_and_an_unknown_name_lists_the_shipped_ones(tmp_path) -> None:
    assert sc.resolve_scenario("calm") == sc.SCENARIOS_DIR / "calm.yaml"
    assert load_scenario("calm").name == "calm" and load_scenario("calm").incidents == ()
    assert load_scenario("default").path == str(sc.DEFAULT_SCENARIO)
    # a file that exists wins over a shipped name
    own = _write(tmp_path, VALID_HEAD + "  []\n")
    assert sc.resolve_scenario(str(own)) == own
    with pytest.raises(sc.ConfigError) as err:
        load_scenario("clam")
    assert str(err.value) == sc.UNKNOWN_SCENARIO.format(
        name="clam", known="calm, default, smoke", hint=" Did you mean 'calm'?")
    with pytest.raises(sc.ConfigError, match="not found"):
        load_scenario(str(tmp_path / "missing.yaml"))


def test_the_command_names_an_unknown_scenario_before_any_progress(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "raigov.cli", "demo", "--home",
                           str(tmp_path / "home"), "--scenario", "clam", "--no-dashboard"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "'clam' is neither a shipped scenario nor a file" in out
    assert "calm, default, smoke" in out and "Did you mean 'calm'?" in out
    assert "Training models" not in out and "Traceback" not in out
