"""``raigov monitor show`` through the real CLI on a real home: the latest window's
rows by default, one window by date, JSON and CSV equal to the catalog's rows, a table
that fits 80 columns, and clear errors (exit 2)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raigov.home import Home
from raigov.models.capture.logger import PredictionLogger
from raigov.monitors.runner import run_monitors
from raigov.monitors.store import read_metric_rows

MODEL = "credit-risk"
ROOT = Path(__file__).parents[2]
DAYS = (dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 5, 5, 10, tzinfo=dt.timezone.utc))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Home:
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model

    root = tmp_path_factory.mktemp("show")
    credit = build_demo_model(MODEL, seed=0)
    home = Home.resolve(root / "home").ensure()
    save_artifact(root / "artifact", credit.trained)
    register_model(home, credit.spec, artifact=root / "artifact", reference=credit.reference)
    rows = credit.heldout[list(credit.spec.input_columns)]
    with PredictionLogger(MODEL, home=home) as log:
        ids = []
        for day, part in zip(DAYS, (rows.iloc[:150], rows.iloc[150:])):
            scores = np.linspace(0.05, 0.95, len(part))
            ids += log.log_predictions(part, labels=(scores >= .5).astype(int), scores=scores,
                                       timestamp=day).prediction_ids
        log.log_feedback(ids[:100], credit.heldout["y_true"].iloc[:100].tolist())
    run_monitors(home, families=("quality", "performance", "fairness"))
    return home


def show(home: Home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "show", "--home",
                           str(home.root), "--model", MODEL, *args],
                          capture_output=True, text=True, cwd=ROOT, env=env)


def catalog_rows(home: Home, day: dt.date) -> list[tuple]:
    frame = read_metric_rows(home, model=MODEL)
    frame = frame[frame["window_start"].dt.date == day].sort_values(["metric", "segment"])
    return [(r.metric, r.segment, None if r.value != r.value else r.value, r.status)
            for r in frame.itertuples()]


def test_json_gives_the_latest_window_s_rows_as_the_catalog_holds_them(home: Home) -> None:
    done = show(home, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["window_start"].startswith("2026-05-05") and report["version"] == 1
    got = [(r["metric"], r["segment"], r["value"], r["status"]) for r in report["rows"]]
    assert got == catalog_rows(home, dt.date(2026, 5, 5)) and len(got) > 50


def test_csv_of_a_window_chosen_by_date_has_one_line_per_row(home: Home) -> None:
    done = show(home, "--window", "2026-05-04", "--format", "csv", "--metric", "performance.")
    assert done.returncode == 0, done.stderr
    parsed = list(csv.DictReader(io.StringIO(done.stdout)))
    expected = [r for r in catalog_rows(home, dt.date(2026, 5, 4)) if r[0].startswith("performance.")]
    assert [(r["metric"], r["segment"]) for r in parsed] == [e[:2] for e in expected]
    accuracy = next(r for r in parsed if (r["metric"], r["segment"]) == ("performance.accuracy", "all"))
    assert float(accuracy["value"]) == pytest.approx(
        next(e[2] for e in expected if e[:2] == ("performance.accuracy", "all")))
    assert json.loads(accuracy["details"])["ci_method"] == "wilson" and accuracy["n"] == "100"


def test_the_table_fits_in_80_columns_and_names_the_window(home: Home) -> None:
    done = show(home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{MODEL} v1 (binary), window 2026-05-05")
    assert max(len(line) for line in lines) <= 80
    assert any("performance.accuracy" in line for line in lines)


def test_a_date_without_a_window_is_exit_2_listing_the_computed_ones(home: Home) -> None:
    done = show(home, "--window", "2026-06-01")
    assert done.returncode == 2
    assert "no computed window starting 2026-06-01" in done.stderr
    assert "2026-05-04, 2026-05-05" in done.stderr


def test_an_unknown_model_is_exit_2_with_a_close_match(home: Home) -> None:
    done = subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "show", "--home",
                           str(home.root), "--model", "credit-risc"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "credit-risk" in done.stderr
