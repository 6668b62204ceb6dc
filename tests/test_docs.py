"""Public means documented: every metric name, CLI command, monitor family, rule type,
output format and shipped policy pack has its place in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "raigov") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        if getattr(cmd, "hidden", False):
            continue
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out += _commands(cmd, full)
    return out


def test_every_metric_name_is_in_the_readme_table() -> None:
    from raigov.monitors.catalog import metrics

    missing = [m.name for m in metrics() if f"| `{m.name}` |" not in README]
    assert missing == []


def test_every_cli_command_is_documented() -> None:
    from raigov.cli import main

    missing = [c for c in _commands(main) if c not in README]
    assert missing == []


def test_every_monitor_family_has_a_paragraph() -> None:
    from raigov.monitors.builtin import load_builtin_monitors

    missing = [f for f in load_builtin_monitors() if f"- **{f}**" not in README]
    assert missing == []


def test_every_rule_type_and_output_format_is_documented() -> None:
    from raigov.policies.formats import FORMATS
    from raigov.policies.rules import RULE_TYPES

    assert [t for t in RULE_TYPES if f"`type: {t}`" not in README] == []
    assert [f for f in FORMATS if f"`{f}`" not in README] == []


def test_every_shipped_policy_pack_is_listed() -> None:
    from raigov.policies.loader import pack_paths

    assert [p.name for p in pack_paths() if f"`{p.name}`" not in README] == []


def test_every_option_of_raigov_serve_is_in_its_synopsis() -> None:
    from raigov.cli import main

    start = README.index("\n### raigov serve\n")
    section = README[start:README.index("\n### ", start + 1)]
    options = [o for p in main.commands["serve"].params if not getattr(p, "hidden", False)
               for o in p.opts if o.startswith("--")]
    assert "--max-body-bytes" in options and [o for o in options if o not in section] == []


@pytest.mark.parametrize("route", ["GET /healthz", "GET /v1/models", "POST /v1/models/{name}/predict",
                                   "POST /v1/models/{name}/feedback", "POST /v1/models/{name}/log",
                                   "POST /v1/models/{name}/events", "POST /v1/events",
                                   "GET /metrics"])
def test_every_http_route_is_documented(route: str) -> None:
    assert f"`{route}`" in README


def test_the_readme_has_exactly_the_two_setup_commands_ci_runs() -> None:
    commands = re.findall(r"^bash \.ci/install && .+$", README, flags=re.M)
    assert commands == ["bash .ci/install && .venv/bin/raigov demo",
                        "bash .ci/install && .venv/bin/python -m pytest"]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "bash .ci/install && .venv/bin/python -m pytest" in ci


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_the_plugins_section_names_the_group_the_settings_and_every_door_that_exists() -> None:
    import importlib

    from raigov.home import Home
    from raigov.plugins import ENTRY_POINT_GROUP, SETTINGS_KEYS

    section = _section("Plugins")
    assert f'"{ENTRY_POINT_GROUP}"' in section and f"`{ENTRY_POINT_GROUP}`" in section
    assert f"<home>/{Home(Path('.')).settings_path.name}" in section
    assert [k for k in SETTINGS_KEYS if f"`{k}`" not in section] == []
    doors = re.findall(r"^\| [a-z ]+ \| `@?(raigov\.[\w.]+)", section, flags=re.M)
    assert len(doors) == 4
    for dotted in doors:
        module, _, name = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), dotted
    for attribute in ("family", "metrics", "output_kinds"):
        assert f"- `{attribute}`:" in section


def test_the_plugins_sections_monitor_example_registers_and_runs() -> None:
    from raigov.monitors.base import MONITORS
    from raigov.monitors.catalog import metric_info
    from tests.monitors.drift_fixtures import adult_predictions, adult_spec, make_window

    [code] = re.findall(r"```python\n(.*?)```", _section("Plugins"), flags=re.S)
    frame = adult_predictions().head(20)
    with MONITORS.overriding():
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md#plugins", "exec"), namespace)  # noqa: S102 - our README
        assert metric_info("acme.mean_score") is not None
        [row] = MONITORS.get("acme")().run(make_window(adult_spec(), frame, frame))
    assert (row.metric, row.n) == ("acme.mean_score", 20)
    assert row.value == pytest.approx(float(frame["score"].sum()) / 20)


@pytest.mark.slow
def test_the_bring_your_own_model_walkthrough_runs_as_written(tmp_path) -> None:
    import sys

    from tests.walkthrough import run_walkthrough, walkthrough_steps
    from tests.walkthrough_checks import check_walkthrough_results

    steps = walkthrough_steps(README)
    assert [s.language for s in steps].count("python") >= 3 and any(s.serves for s in steps)
    outputs = run_walkthrough(README, tmp_path, python=Path(sys.executable))
    check_walkthrough_results(tmp_path, outputs)
