"""``raigov explain`` through the real CLI on a seeded home (predictions captured by a real
``raigov serve``): the contributions plus the baseline are the network's logit for the
captured row, checked against a forward pass of the artifact loaded here; an unknown id
and a model served elsewhere exit 2 with their messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import torch

from raigov.home import Home
from raigov.models.artifact import load_artifact
from raigov.models.registry import get_model, register_model
from raigov.monitors.explain_model import SERVED_ELSEWHERE
from raigov.monitors.explain_one import NOT_EXPLAINABLE, UNKNOWN_PREDICTION
from raigov.monitors.shap_explainer import ADDITIVITY_TOLERANCE
from raigov.store.lake import lake_connection

pytestmark = pytest.mark.slow
MODEL = "income-classifier"


def run_cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", "explain", "--model", MODEL,
                           *args, "--home", str(home.root)],
                          capture_output=True, text=True, timeout=300)


def captured(home: Home, limit: int = 3) -> pd.DataFrame:
    with lake_connection(home, model=MODEL) as con:
        return con.execute("SELECT * FROM predictions ORDER BY prediction_id LIMIT ?",
                           [limit]).df()


def independent_logit(home: Home, row: pd.Series) -> float:
    registered = get_model(home, MODEL, int(row["version"]))
    loaded = load_artifact(registered.artifact_dir, device="cpu")
    x = torch.from_numpy(loaded.preprocessor.transform(row.to_frame().T))
    with torch.no_grad():
        return float(loaded.module(x).reshape(-1)[0])


def test_explain_prints_contributions_that_add_up_to_the_logit_of_the_captured_row(
        seeded_home: Home) -> None:
    rows = captured(seeded_home)
    assert len(rows) == 3
    for _, row in rows.iterrows():
        done = run_cli(seeded_home, "--prediction-id", row["prediction_id"], "--format", "json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        logit = independent_logit(seeded_home, row)
        total = sum(c["contribution"] for c in result["contributions"])
        assert result["method"] == "deep_shap" and result["output"] == "logit"
        assert result["baseline"] + total == pytest.approx(logit, abs=ADDITIVITY_TOLERANCE)
        assert result["output_value"] == pytest.approx(logit, abs=1e-5)
        assert result["prediction"]["score"] == pytest.approx(row["score"], abs=1e-6)
        assert result["inputs"]["age"] == row["age"]
        sizes = [abs(c["contribution"]) for c in result["contributions"]]
        assert sizes == sorted(sizes, reverse=True)
        assert len(sizes) == len(get_model(seeded_home, MODEL).spec.features)


def test_the_table_lists_inputs_contributions_by_size_and_the_completeness_error(
        seeded_home: Home) -> None:
    row = captured(seeded_home, limit=1).iloc[0]
    done = run_cli(seeded_home, "--prediction-id", row["prediction_id"])
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert f"Prediction {row['prediction_id']} of {MODEL}" in text
    assert "Contributions (logit units, largest first):" in text
    assert "Completeness error |baseline + sum - output| = " in text
    block = text.split("largest first):\n")[1].split("\n\n")[0].splitlines()
    values = [abs(float(line.split()[-1])) for line in block]
    assert len(values) == len(get_model(seeded_home, MODEL).spec.features)
    assert values == sorted(values, reverse=True)


def test_an_unknown_prediction_id_exits_2_naming_it_and_the_model(seeded_home: Home) -> None:
    done = run_cli(seeded_home, "--prediction-id", "no-such-id")
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: " + UNKNOWN_PREDICTION.format(
        prediction_id="no-such-id", model=MODEL, home=seeded_home.root)


def test_a_version_served_elsewhere_cannot_be_explained_and_exits_2(
        seeded_home: Home, tmp_path: Path) -> None:
    current = get_model(seeded_home, MODEL)
    empty = tmp_path / "external"
    empty.mkdir()
    external = register_model(seeded_home, current.spec, artifact=empty,
                              reference=current.load_reference())
    row = captured(seeded_home, limit=1).iloc[0]
    done = run_cli(seeded_home, "--prediction-id", row["prediction_id"],
                   "--version", str(external.version))
    assert done.returncode == 2
    reason = SERVED_ELSEWHERE.format(model=MODEL)
    assert done.stderr.strip() == "Error: " + NOT_EXPLAINABLE.format(
        model=MODEL, version=external.version, reason=reason)
    with duckdb.connect(str(seeded_home.catalog_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM models WHERE name = ?", [MODEL]).fetchone()[0] \
            == external.version
