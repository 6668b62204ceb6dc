"""A home written by the previous raigov (the commit before the namespace restructure,
run as its own code) keeps reading right with this one: the catalog's models, the lake's
predictions and labels (columns added since read as NULL), serving, and a monitor run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from raigov.home import Home
from raigov.models.registry import list_models
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.monitors.store import read_metric_rows
from raigov.store.lake import lake_connection

pytestmark = pytest.mark.slow
PREV = "02ffc88"    # the last commit before the restructure: bare models/monitors packages
REPO = Path(__file__).resolve().parents[2]
MODEL = "credit-risk"
NO_PREV = ("the previous version's commit {commit} cannot be read from {repo} ({error}); this "
           "test needs git and the repository's history (a full clone, not a shallow one)")

PREV_SCRIPT = textwrap.dedent("""
    import datetime as dt, json, sys
    from pathlib import Path
    import raigov, models, monitors
    from raigov.home import Home
    from models.artifact import load_artifact, save_artifact
    from models.demo_models import build_demo_model
    from models.logger import PredictionLogger
    from models.registry import register_model
    from monitors.runner import run_monitors

    home, artifact = Home.resolve(sys.argv[1]).ensure(), Path(sys.argv[2])
    demo = build_demo_model("credit-risk", seed=0)
    save_artifact(artifact, demo.trained)
    registered = register_model(home, demo.spec, artifact=artifact, reference=demo.reference)
    rows = demo.heldout[list(demo.spec.input_columns)].reset_index(drop=True)
    scores = load_artifact(registered.artifact_dir, device="cpu").predict_proba(rows)
    half = len(rows) // 2
    days = [dt.datetime(2026, 5, 4, 12, tzinfo=dt.timezone.utc),
            dt.datetime(2026, 5, 5, 12, tzinfo=dt.timezone.utc)]
    ids = []
    with PredictionLogger("credit-risk", home=home) as log:
        for day, part in zip(days, (slice(0, half), slice(half, len(rows)))):
            labels = (scores[part] >= demo.spec.threshold).astype(int)
            ids += log.log_predictions(rows.iloc[part], labels=labels, scores=scores[part],
                                       timestamp=day).prediction_ids
        log.log_feedback(ids[:half], demo.heldout["y_true"].iloc[:half].tolist())
    run_monitors(home, families=("quality", "performance", "fairness"))
    print(json.dumps({"raigov": raigov.__file__, "models": models.__file__,
                      "monitors": monitors.__file__, "ids": ids, "scores": scores.tolist(),
                      "rows": rows.astype(object).where(rows.notna(), None).to_dict("records"),
                      "y_true": demo.heldout["y_true"].astype(int).tolist()}))
""")


@pytest.fixture(scope="module")
def previous_home(tmp_path_factory) -> tuple[Home, dict]:
    """A home made by the previous version's own code, run from a ``git archive``."""
    source = tmp_path_factory.mktemp("prev-source")
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", PREV], capture_output=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or str(exc)
        pytest.fail(NO_PREV.format(commit=PREV, repo=REPO, error=detail.decode(errors="replace")
                                   if isinstance(detail, bytes) else detail))
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    work = tmp_path_factory.mktemp("prev-home")
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", PREV_SCRIPT, str(work / "home"), str(work / "artifact")],
                          capture_output=True, text=True, env=env, cwd=source, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    made = json.loads(done.stdout.strip().splitlines()[-1])
    for package in ("raigov", "models", "monitors"):
        assert Path(made[package]).is_relative_to(source), f"{package} came from {made[package]}"
    return Home.resolve(work / "home"), made


def test_the_previous_homes_models_are_listed_by_this_version(previous_home) -> None:
    home, _ = previous_home
    models = list_models(home)
    assert [(m.name, m.version, m.external) for m in models] == [(MODEL, 1, False)]
    listed = subprocess.run([sys.executable, "-m", "raigov.cli", "models", "list", "--home",
                             str(home.root)], capture_output=True, text=True)
    assert listed.returncode == 0 and MODEL in listed.stdout


def test_the_previous_lake_reads_with_its_labels_and_nulls_in_the_new_columns(previous_home) -> None:
    home, made = previous_home
    with lake_connection(home, model=MODEL) as con:
        got = con.execute("SELECT prediction_id, score, label, value, probabilities, y_true "
                          "FROM labelled").df().set_index("prediction_id").loc[made["ids"]]
        y_value = con.execute("SELECT count(*), count(y_value), count(y_true) FROM feedback").fetchone()
    half = len(made["ids"]) // 2
    np.testing.assert_array_equal(got["score"].to_numpy(), np.array(made["scores"]))
    assert got["value"].isna().all() and got["probabilities"].isna().all()
    assert got["y_true"].iloc[:half].tolist() == [float(y) for y in made["y_true"][:half]]
    assert got["y_true"].iloc[half:].isna().all()
    assert y_value == (half, 0, half)


def test_this_version_serves_the_previous_homes_model_with_the_same_scores(previous_home, tmp_path) -> None:
    home, made = previous_home
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home.root, copy)     # serving writes; keep the module's home as made
    with ServerProcess.with_key(Home.resolve(copy), free_port()) as server:
        r = httpx.post(f"{server.url}/v1/models/{MODEL}/predict", headers=server.headers, json={"rows": made["rows"][:40]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose([p["score"] for p in r.json()["predictions"]], made["scores"][:40],
                               rtol=0, atol=1e-6)


def test_a_monitor_run_of_this_version_continues_the_previous_homes_windows(previous_home) -> None:
    home, made = previous_home
    before = read_metric_rows(home, model=MODEL)
    assert set(before["window_start"].dt.date.astype(str)) == {"2026-05-04", "2026-05-05"}
    from raigov.models.capture.logger import PredictionLogger

    half = len(made["ids"]) // 2
    with PredictionLogger(MODEL, home=home) as log:      # day 2's labels arrive now
        log.log_feedback(made["ids"][half:], made["y_true"][half:])
    run = subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "run", "--home", str(home.root)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    after = read_metric_rows(home, model=MODEL, metric_prefix="performance.accuracy")
    day2 = after[(after["window_start"].dt.date.astype(str) == "2026-05-05") & (after["segment"] == "all")]
    scores = np.array(made["scores"][half:])
    threshold = list_models(home)[0].spec.threshold
    expected = accuracy_score(made["y_true"][half:], (scores >= threshold).astype(int))
    assert day2["value"].tolist() == [pytest.approx(expected, abs=1e-12)]
    day1 = read_metric_rows(home, model=MODEL, metric_prefix="quality.rows")
    assert pd.Series(day1["value"]).tolist() == [float(half), float(len(made["ids"]) - half)]
