"""Acceptance: a user's plugin distribution, built and pip-installed in the test, adds an
architecture, a monitor family, a rule type and an output format that real ``raigov
serve``, ``raigov monitor run`` and ``raigov policy-check`` processes use, with no change
in raigov; the same through the home's settings list; an unknown plugin is exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from raigov.home import Home
from raigov.plugins import PLUGIN_FAILED
from tests.plugins import acme_plugin as acme
from tests.plugins.register_acme import MODEL, REQUEST_ROWS, TAG

REGISTER_SCRIPT = Path(__file__).with_name("register_acme.py")
RULE_ID = "score-ceiling"


@pytest.fixture(scope="module")
def plugin_source(tmp_path_factory) -> Path:
    return acme.write_plugin_source(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def installed_plugin(plugin_source: Path, tmp_path_factory) -> Path:
    """The plugin installed by pip into a target directory (with its dist-info)."""
    target = tmp_path_factory.mktemp("site")
    acme.pip_install(plugin_source, target)
    assert list(target.glob("raigov_acme-0.1.0.dist-info/entry_points.txt"))
    return target


def _raigov(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)


def _env(pythonpath: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONUNBUFFERED": "1"}


def _linear_scores(home: Home, rows: list[dict]) -> np.ndarray:
    """The plugin network's P(positive), recomputed with numpy from the artifact files
    (state dict read with weights_only=True), independent of the serving path."""
    import torch

    from raigov.models.encoding import Preprocessor
    from raigov.models.registry import artifact_dir

    directory = artifact_dir(home, MODEL, 1)
    state = torch.load(directory / "weights.pt", weights_only=True)
    assert json.loads((directory / "architecture.json").read_text())["name"] == acme.ARCHITECTURE
    pre = Preprocessor.from_dict(json.loads((directory / "preprocess.json").read_text()))
    x = pre.transform(pd.DataFrame(rows)).astype(np.float64)
    logit = x @ state["linear.weight"].numpy().astype(np.float64).T[:, 0] + float(state["linear.bias"])
    return 1 / (1 + np.exp(-logit))


def _policy(path: Path, ceiling: float) -> Path:
    path.write_text(f"""policy: acme-scores
version: 1
applies_to: {{tags: [{TAG}]}}
rules:
  - id: {RULE_ID}
    type: {acme.RULE_TYPE}
    metric: {acme.METRIC}
    ceiling: {ceiling}
    min_samples: 10
    severity: critical
""")
    return path


def _serve_and_predict(home: Home, rows: list[dict], monkeypatch) -> list[float]:
    from raigov.models.serving.server_process import ServerProcess, free_port

    with ServerProcess.with_key(home, free_port()) as server:
        response = httpx.post(f"{server.url}/v1/models/{MODEL}/predict", headers=server.headers, json={"rows": rows},
                              timeout=120)
    assert response.status_code == 200, response.text
    return [p["score"] for p in response.json()["predictions"]]


@pytest.mark.slow
@pytest.mark.parametrize("way", ["entry_point", "settings"])
def test_a_plugins_architecture_monitor_rule_type_and_format_work_in_real_processes(
        way: str, installed_plugin: Path, plugin_source: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    if way == "entry_point":
        path = installed_plugin
    else:   # the bare source tree: no dist-info, so only the settings list finds it
        path = plugin_source
        home.settings_path.write_text(f"# this home's plugins\nplugins:\n  - {acme.AUTOLOAD}\n")
    env = _env(path)
    monkeypatch.setenv("PYTHONPATH", str(path))   # for the server process

    subprocess.run([sys.executable, str(REGISTER_SCRIPT), str(home.root), str(tmp_path)],
                   env=env, check=True, timeout=600)
    rows = json.loads((tmp_path / "rows.json").read_text())
    scores = _serve_and_predict(home, rows, monkeypatch)
    assert len(scores) == REQUEST_ROWS
    np.testing.assert_allclose(scores, _linear_scores(home, rows), rtol=1e-5, atol=1e-6)

    run = _raigov("monitor", "run", "--home", home.root, env=env)
    assert run.returncode == 0, run.stderr
    from raigov.monitors.store import read_metric_rows

    frame = read_metric_rows(home, model=MODEL, metric_prefix=f"{acme.FAMILY}.")
    assert list(frame["metric"]) == [acme.METRIC]
    assert frame["value"].iloc[0] == pytest.approx(float(np.mean(scores)), rel=1e-9)
    assert int(frame["n"].iloc[0]) == REQUEST_ROWS

    mean = float(np.mean(scores))
    high, low = round(mean + 0.05, 4), round(mean - 0.05, 4)
    ok = _raigov("policy-check", "--policy", _policy(tmp_path / "pass.yaml", high),
                 "--model", MODEL, "--home", home.root, "--format", "json", env=env)
    assert ok.returncode == 0, ok.stderr
    [finding] = json.loads(ok.stdout)["findings"]
    assert (finding["rule_id"], finding["status"]) == (RULE_ID, "pass")
    assert finding["reason"] == (f"{acme.METRIC} [all] = {mean:.4f} is under the acme "
                                 f"ceiling {high:g}")

    bad = _raigov("policy-check", "--policy", _policy(tmp_path / "fail.yaml", low),
                  "--model", MODEL, "--home", home.root, "--format", acme.FORMAT, env=env)
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.strip() == f"ACME {RULE_ID} fail"

    listed = _raigov("metrics", "--home", home.root, env=env)
    assert listed.returncode == 0 and acme.METRIC in listed.stdout


@pytest.mark.slow
def test_without_the_settings_list_the_bare_plugin_source_is_not_loaded(tmp_path: Path) -> None:
    # a source tree of its own: pip may leave build metadata (an entry point) in the
    # shared one once another test has installed it
    source = acme.write_plugin_source(tmp_path / "bare")
    home = Home.resolve(tmp_path / "home").ensure()
    env = _env(source)
    without = _raigov("metrics", "--home", home.root, env=env)
    assert without.returncode == 0 and acme.METRIC not in without.stdout
    home.settings_path.write_text(f"plugins: [{acme.AUTOLOAD}]\n")
    listed = _raigov("metrics", "--home", home.root, env=env)
    assert listed.returncode == 0 and acme.METRIC in listed.stdout


@pytest.mark.slow
def test_an_unknown_plugin_in_the_settings_is_exit_2_naming_it_the_file_and_the_error(
        tmp_path: Path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    home.settings_path.write_text("plugins:\n  - raigov_acme_missing\n")
    result = _raigov("metrics", "--home", home.root, env=dict(os.environ))
    assert result.returncode == 2
    where = f"plugins list in {home.settings_path}, line 2"
    assert result.stderr.strip() == "Error: " + PLUGIN_FAILED.format(
        name="raigov_acme_missing", where=where,
        error="ModuleNotFoundError: No module named 'raigov_acme_missing'", hint="")


@pytest.mark.slow
def test_an_installed_entry_point_that_fails_is_exit_2_naming_the_entry_point(
        tmp_path: Path) -> None:
    project = tmp_path / "raigov-broken"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        acme.PYPROJECT.replace(acme.DISTRIBUTION, "raigov-broken")
        .replace(f'acme = "{acme.PACKAGE}:register"', 'broken = "raigov_broken:register"')
        .replace(f'packages = ["{acme.PACKAGE}"]', 'packages = ["raigov_broken"]'))
    (project / "raigov_broken").mkdir()
    (project / "raigov_broken" / "__init__.py").write_text(
        "def register():\n    raise RuntimeError('the licence server is down')\n")
    target = tmp_path / "site"
    acme.pip_install(project, target)
    result = _raigov("policy-check", "--help", env=_env(target))
    assert result.returncode == 2
    where = ("entry point 'broken = raigov_broken:register' in group raigov.plugins of "
             "raigov-broken 0.1.0")
    assert result.stderr.strip() == "Error: " + PLUGIN_FAILED.format(
        name="broken", where=where, error="RuntimeError: the licence server is down", hint="")
