"""``raigov monitor run --engine spark``: Spark SQL over the same lake gives the same
metric rows as the DuckDB engine (issue 16), and its counts equal a hand count.

Spark runs in local mode, started by the product itself (a real JVM). The seeded
fleet's models all have a privacy section, so every segment Spark reads here is
encrypted and goes through raigov's KMS client for Spark."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raigov.home import Home

pytestmark = pytest.mark.slow
RAIGOV = [sys.executable, "-m", "raigov.cli"]
KEY = ["model", "version", "window_start", "metric", "segment"]

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark_home(seeded_home_template: Home, tmp_path_factory) -> tuple[Home, str]:
    """A copy of the seeded fleet whose every window the CLI recomputed on Spark."""
    target = tmp_path_factory.mktemp("spark") / "home"
    shutil.copytree(seeded_home_template.root, target)
    done = subprocess.run([*RAIGOV, "monitor", "run", "--home", str(target), "--engine",
                           "spark", "--force"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr[-3000:]
    return Home.resolve(target), done.stdout


@pytest.fixture(scope="module")
def engine():
    from raigov.monitors.spark_engine import SparkEngine

    spark = SparkEngine("local[2]")
    yield spark
    spark.close()


def _rows(home: Home) -> pd.DataFrame:
    from raigov.monitors.store import read_metric_rows

    return read_metric_rows(home).sort_values(KEY).reset_index(drop=True)


def test_the_spark_engine_gives_the_duckdb_engines_metric_rows(seeded_home_template: Home,
                                                                spark_home) -> None:
    home, stdout = spark_home
    duck, spark = _rows(seeded_home_template), _rows(home)
    assert "window(s) computed" in stdout
    assert set(duck["model"]) >= {"income-classifier", "credit-risk", "job-sector",
                                  "hours-estimator"}
    merged = duck.merge(spark, on=KEY, how="outer", suffixes=("_duck", "_spark"),
                        indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][KEY].head()
    assert len(merged) == len(duck) > 1000
    assert (merged["status_duck"] == merged["status_spark"]).all()
    assert (merged["n_duck"].fillna(-1) == merged["n_spark"].fillna(-1)).all()
    duck_v, spark_v = (merged[f"value_{s}"].to_numpy(float) for s in ("duck", "spark"))
    np.testing.assert_allclose(spark_v, duck_v, rtol=0, atol=1e-9, equal_nan=True)
    families = set(merged["metric"].str.split(".").str[0])
    assert {"fairness", "drift", "performance", "quality", "explain"} <= families
    drift = merged[merged["metric"].str.startswith("drift.feature.")]
    assert len(drift) > 50   # exact value counts: drift scores equal, not within a bin


def test_spark_counts_equal_a_hand_count_and_fairness_reads_no_rows(seeded_home_template: Home,
                                                                    engine) -> None:
    """The cell table and value counts Spark computes equal pandas' own count of the
    window's rows; a fairness-only pass never reads the rows onto the driver, and its
    rows equal the DuckDB engine's."""
    from raigov.monitors.runner import compute_window, load_window, pending_windows
    from raigov.monitors.version_state import VersionStates

    home = seeded_home_template
    states = VersionStates(home)
    key = pending_windows(home, "income-classifier", window="1d", force=True)[1]
    rows = load_window(home, key, states=states)
    frame = rows.frame
    with engine.window(home, key, states) as window:
        table = window.aggregates.cell_table(["sex", "race"])
        counted = window.aggregates.value_counts(["age", "workclass", "score", "nope"])
        fairness, errors = compute_window(window, families=("fairness",))
        assert not window.rows_read
        assert window.n_rows == len(frame) > 100
    hand = (frame.assign(y=frame["y_true"].fillna(-1)).groupby(["sex", "race", "y", "label"])
            .size().rename("n").reset_index())
    spark = (table.assign(y=table["y_true"].fillna(-1)).groupby(["sex", "race", "y", "label"])
             ["n"].sum().reset_index())
    pd.testing.assert_frame_equal(spark.sort_values(["sex", "race", "y", "label"])
                                  .reset_index(drop=True),
                                  hand.sort_values(["sex", "race", "y", "label"])
                                  .reset_index(drop=True), check_dtype=False)
    assert set(counted) == {"age", "workclass", "score"}
    for column in ("age", "workclass"):
        expect = frame[column].dropna().value_counts().sort_index()
        got = counted[column].set_index("value")["n"].sort_index()
        assert got.to_dict() == expect.to_dict()
    assert counted["age"].attrs["integer"] and not counted["score"].attrs["integer"]
    assert not errors
    duck, _ = compute_window(rows, families=("fairness",))
    assert len(fairness) == len(duck) > 20
    for ours, theirs in zip(fairness, duck):
        assert (ours.metric, ours.segment, ours.n, ours.status) == \
               (theirs.metric, theirs.segment, theirs.n, theirs.status)
        assert ours.value == pytest.approx(theirs.value, abs=1e-12, nan_ok=True)


def test_usage_errors_come_first_and_name_the_option(tmp_path: Path) -> None:
    for args, message in ((["--spark-master", "local[1]"], "--spark-master needs --engine"),
                          (["--engine", "spark", "--jobs", "2"], "--jobs applies to the "
                                                                 "DuckDB engine")):
        done = subprocess.run([*RAIGOV, "monitor", "run", "--home", str(tmp_path), *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert message in done.stderr and "Starting Spark" not in done.stderr


def test_a_lake_on_object_storage_is_refused_with_the_reason(seeded_home_template: Home,
                                                             engine, monkeypatch) -> None:
    from raigov.errors import ConfigError
    from raigov.monitors.runner import pending_windows
    from raigov.monitors.version_state import VersionStates

    home = seeded_home_template
    key = pending_windows(home, "income-classifier", window="1d", force=True)[0]
    monkeypatch.setenv("RAIGOV_LAKE_URL", "s3://raigov-nowhere/lake")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="hadoop-aws"):
        with engine.window(home, key, VersionStates(home)):
            pass


FOREIGN_SESSION = """
import sys
from pyspark.sql import SparkSession
SparkSession.builder.master("local[1]").appName("a-notebook").getOrCreate()
from raigov.home import Home
from raigov.monitors.runner import pending_windows
from raigov.monitors.spark_engine import SparkEngine
from raigov.monitors.version_state import VersionStates
home = Home.resolve(sys.argv[1])
key = pending_windows(home, "income-classifier", window="1d", force=True)[1]
engine = SparkEngine("local[2]")
with engine.window(home, key, VersionStates(home)) as window:
    print(engine.spark.sparkContext.appName, window.n_rows)
"""


def test_a_session_the_process_already_had_still_reads_encrypted_segments(
        seeded_home_template: Home, tmp_path: Path) -> None:
    """A notebook's own Spark session (or one a library opens on import: nannyml's
    flaml does) is reused, its static settings fixed: raigov's KMS client still reaches
    it, and the encrypted window's rows are counted."""
    from raigov.monitors.runner import load_window, pending_windows
    from raigov.monitors.version_state import VersionStates

    home = seeded_home_template
    key = pending_windows(home, "income-classifier", window="1d", force=True)[1]
    expected = len(load_window(home, key, states=VersionStates(home)).frame)
    script = tmp_path / "notebook.py"
    script.write_text(FOREIGN_SESSION)
    done = subprocess.run([sys.executable, str(script), str(home.root)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["a-notebook", str(expected)]
