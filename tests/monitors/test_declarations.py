"""Monitors declare what they produce: the metric catalog, the policy loader's metric
check and the runner's kind filter all come from those declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from raigov.errors import ConfigError
from raigov.monitors import base
from raigov.monitors.base import MONITORS, MetricInfo, MetricRow, register_monitor
from raigov.monitors.builtin import load_builtin_monitors
from raigov.monitors.catalog import RUNNER_METRICS, metric_info, metric_names, metrics
from raigov.monitors.runner import compute_window
from tests.monitors.drift_fixtures import adult_predictions, adult_spec, make_window

SCORE = MetricInfo("acme.score.<column>", "a score per column")


def _monitor(family: str, declared: object = (), **attrs: object) -> type:
    body: dict[str, object] = {"family": family, "run": lambda self, window: [], **attrs}
    if declared != ():
        body["metrics"] = declared
    return type(f"{family.title()}Monitor", (), body)


def test_the_catalog_is_every_registered_familys_declarations_then_the_runners_own() -> None:
    families = load_builtin_monitors()
    declared = [info for cls in families.values() for info in cls.metrics]
    assert list(metrics()) == declared + list(RUNNER_METRICS)
    assert {"quality", "drift", "performance", "fairness", "explain"} <= set(families)
    assert metric_names()[-1] == "monitor.error"


def test_a_registered_family_adds_its_metrics_and_patterns_and_overriding_takes_them_away() -> None:
    assert metric_info("acme.score.age") is None
    with MONITORS.overriding():
        register_monitor(_monitor("acme", (SCORE,)))
        assert metric_info("acme.score.age") is SCORE
        assert metric_info("acme.score.") is None and metric_info("acme.score.a b") is None
        assert "acme.score.<column>" in metric_names()
    assert metric_info("acme.score.age") is None and "acme" not in MONITORS


def test_the_policy_loader_knows_a_metric_once_a_monitor_declares_it(tmp_path: Path) -> None:
    from raigov.policies.load_errors import PolicyError
    from raigov.policies.loader import load_policy

    path = tmp_path / "acme.yaml"
    path.write_text("policy: acme\nversion: 1\napplies_to: {models: [m]}\nrules:\n"
                    "  - {id: r, metric: acme.score.age, op: '<=', threshold: 1}\n")
    with pytest.raises(PolicyError, match=r"Unknown metric 'acme\.score\.age'"):
        load_policy(path)
    with MONITORS.overriding():
        register_monitor(_monitor("acme", (SCORE,)))
        assert [r.metric for r in load_policy(path).rules] == ["acme.score.age"]


@pytest.mark.parametrize(("cls", "message"), [
    (_monitor("acme"), base.NO_METRICS.format(family="acme", cls="AcmeMonitor", found="None")),
    (_monitor("acme", ("acme.x",)), base.NO_METRICS.format(
        family="acme", cls="AcmeMonitor", found="('acme.x',)")),
    (_monitor("acme", (MetricInfo("drift.x", "?"),)), base.METRIC_OUTSIDE_FAMILY.format(
        family="acme", cls="AcmeMonitor", metric="drift.x")),
    (_monitor("acme", (SCORE, SCORE)), base.DUPLICATE_METRIC.format(
        family="acme", cls="AcmeMonitor", metric=SCORE.name)),
    (_monitor("acme", (SCORE,), output_kinds=("binnary",)), base.UNKNOWN_OUTPUT_KIND.format(
        family="acme", cls="AcmeMonitor", kind="binnary",
        known="binary, multiclass, regression", hint=" Did you mean 'binary'?")),
    (_monitor("acme", (SCORE,), output_kinds="binary"), base.BAD_OUTPUT_KINDS.format(
        family="acme", cls="AcmeMonitor", kinds="binary",
        known="binary, multiclass, regression")),
    (_monitor("monitor", (MetricInfo("monitor.x", "?"),)), base.RESERVED_FAMILY.format(
        family="monitor", cls="MonitorMonitor")),
    (type("Nameless", (), {"metrics": (SCORE,)}), base.NO_FAMILY.format(cls="Nameless")),
    (_monitor("drift", (MetricInfo("drift.x", "?"),)),
     "monitor family 'drift' is already registered (by raigov.monitors.drift.DriftMonitor)."),
])
def test_a_monitor_that_does_not_declare_what_it_produces_is_refused(cls: type,
                                                                      message: str) -> None:
    load_builtin_monitors()
    with MONITORS.overriding():
        with pytest.raises(ConfigError) as err:
            register_monitor(cls)
        assert str(err.value) == message
        assert MONITORS.find(cls.__dict__.get("family", "")) is not cls


def test_the_runner_skips_a_family_whose_output_kinds_leave_out_the_models_kind() -> None:
    calls: list[str] = []

    def emitting(family: str):
        def run(self, window):
            calls.append(family)
            return [MetricRow(f"{family}.n", float(len(window.frame)))]
        return run

    frame = adult_predictions().head(50)
    window = make_window(adult_spec(), frame, frame)
    assert window.spec.output_kind == "binary"
    with MONITORS.overriding():
        for family, kinds in (("forbinary", ("binary",)), ("forregression", ("regression",))):
            register_monitor(_monitor(family, (MetricInfo(f"{family}.n", "rows"),),
                                      output_kinds=kinds, run=emitting(family)))
        register_monitor(_monitor("forall", (MetricInfo("forall.n", "rows"),), run=emitting("forall")))
        rows, errors = compute_window(window, families=("forbinary", "forregression", "forall"))
    assert calls == ["forbinary", "forall"] and errors == []
    assert [(r.metric, r.value) for r in rows] == [("forbinary.n", 50.0), ("forall.n", 50.0)]
