"""Encryption at rest: a model with a ``privacy`` section writes encrypted segments
that neither pyarrow nor DuckDB can read without the data key, and every monitor
figure computed with the key equals the one computed on a decrypted copy."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from raigov.errors import ConfigError
from raigov.home import Home
from raigov.models.capture.logger import PredictionLogger
from raigov.models.spec import PrivacyConfig
from raigov.monitors.runner import run_monitors
from raigov.monitors.store import read_metric_rows
from raigov.store import parquet_crypto
from raigov.store.lake import lake_connection, segment_files

MODEL = "credit-risk"
DAY = dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc)
FAMILIES = ("quality", "performance", "fairness", "drift")


@pytest.fixture(scope="module")
def credit():
    from raigov.models.demo_models import build_demo_model

    return build_demo_model(MODEL, seed=0)


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "outside" / "data.key"
    path.parent.mkdir()
    path.write_text(secrets.token_hex(32))
    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(path))
    monkeypatch.delenv("RAIGOV_DATA_KEY", raising=False)
    return path


@pytest.fixture
def encrypted_home(tmp_path: Path, credit, key_file) -> tuple[Home, list[str]]:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model

    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit.trained)
    spec = credit.spec.model_copy(update={
        "privacy": PrivacyConfig(),
        "monitoring": credit.spec.monitoring.model_copy(update={"explain_sample": 20,
                                                                 "bootstrap": 0})})
    register_model(home, spec, artifact=tmp_path / "artifact", reference=credit.reference)
    rows = credit.heldout[list(spec.input_columns)].iloc[:200]
    scores = np.linspace(0.05, 0.95, len(rows))
    with PredictionLogger(MODEL, home=home) as log:
        ids = log.log_predictions(rows, labels=(scores >= .5).astype(int), scores=scores,
                                  timestamp=DAY).prediction_ids
        log.log_feedback(ids[:150], credit.heldout["y_true"].iloc[:150].tolist())
    return home, list(spec.sensitive)


def test_every_segment_is_encrypted_and_unreadable_without_the_key(encrypted_home, credit,
                                                                    monkeypatch) -> None:
    home, sensitive = encrypted_home
    files = [f for t in ("predictions", "feedback") for f in segment_files(home, t, model=MODEL)]
    assert len(files) == 2 and sensitive
    originals = {str(v) for c in sensitive for v in credit.heldout[c].iloc[:200].unique()}
    for name in files:
        assert Path(name).read_bytes()[-4:] == b"PARE"          # encrypted footer
        with pytest.raises(OSError, match="encrypted"):
            pq.read_table(name)
        with pytest.raises(duckdb.Error, match="encrypted"):
            duckdb.sql(f"SELECT * FROM read_parquet('{name}')").fetchall()
    # With the key, pyarrow reads the original values back.
    table = pq.read_table(files[0], **parquet_crypto.read_options(home))
    assert {str(v) for c in sensitive for v in table.column(c).to_pylist()} == originals
    # raigov itself, without the key, refuses with a message naming the variable.
    monkeypatch.delenv("RAIGOV_DATA_KEY_FILE")
    with pytest.raises(ConfigError, match="RAIGOV_DATA_KEY_FILE"):
        with lake_connection(home, model=MODEL):
            pass


def test_monitor_figures_equal_those_of_a_decrypted_copy(encrypted_home, tmp_path) -> None:
    home, _ = encrypted_home
    copy = Home.resolve(tmp_path / "copy")
    shutil.copytree(home.root, copy.root)
    options = parquet_crypto.read_options(home)
    for table in ("predictions", "feedback", "quarantine"):
        for name in segment_files(copy, table):
            pq.write_table(pq.read_table(name, **options), name)    # plain again
            assert Path(name).read_bytes()[-4:] == b"PAR1"
    run_monitors(home, families=FAMILIES)
    run_monitors(copy, families=FAMILIES)
    ours, plain = (read_metric_rows(h, model=MODEL).sort_values(["metric", "segment"])
                   .reset_index(drop=True) for h in (home, copy))
    assert len(ours) > 20
    assert ours["metric"].tolist() == plain["metric"].tolist()
    np.testing.assert_allclose(ours["value"].to_numpy(float), plain["value"].to_numpy(float),
                               equal_nan=True)


def test_a_key_file_inside_the_home_is_refused(tmp_path, monkeypatch) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    inside = home.root / "data.key"
    inside.write_text(secrets.token_hex(32))
    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(inside))
    with pytest.raises(ConfigError, match="inside the raigov home"):
        parquet_crypto.load_data_key(home)


def test_pseudonymised_identifiers_are_stable_keyed_tokens() -> None:
    key, other = b"k" * 32, b"o" * 32
    tokens = parquet_crypto.pseudonymise(key, ["A-17", "A-17", "B-2", None])
    assert tokens[0] == tokens[1] != tokens[2] and tokens[3] is None
    assert tokens[0].startswith("ps_") and "A-17" not in tokens[0]
    assert parquet_crypto.pseudonymise(other, ["A-17"])[0] != tokens[0]


def test_serve_refuses_to_start_capture_without_the_data_key(encrypted_home) -> None:
    import os
    import subprocess
    import sys

    home, _ = encrypted_home
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAIGOV_DATA_KEY")}
    done = subprocess.run([sys.executable, "-m", "raigov.cli", "serve", "--home",
                           str(home.root), "--port", "1", "--no-auth"], capture_output=True,
                          text=True,
                          env=env, cwd=Path(__file__).parents[2], timeout=120)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, said
    assert "Capture for credit-risk (privacy section) needs the data key" in said
    assert "RAIGOV_DATA_KEY_FILE" in said


def test_late_labels_recompute_the_window_of_an_encrypted_model(encrypted_home, credit) -> None:
    """An incremental run finds which windows new labels belong to by reading the new
    feedback segments' ids: on an encrypted model those segments are encrypted too."""
    home, _ = encrypted_home
    first = run_monitors(home, families=("performance",))
    assert len(first) == 1
    accuracy = read_metric_rows(home, model=MODEL, metric_prefix="performance.accuracy")
    assert int(accuracy[accuracy["segment"] == "all"]["n"].iloc[0]) == 150
    with lake_connection(home, model=MODEL) as con:
        unlabelled = [r[0] for r in con.execute(
            "SELECT prediction_id FROM labelled WHERE y_true IS NULL ORDER BY ts, "
            "prediction_id").fetchall()]
    assert len(unlabelled) == 50
    late = DAY + dt.timedelta(days=3)
    with PredictionLogger(MODEL, home=home) as log:
        log.log_feedback(unlabelled, credit.heldout["y_true"].iloc[150:200].tolist(),
                         received_at=late)
    again = run_monitors(home, families=("performance",), now=late + dt.timedelta(hours=1))
    assert [r.key.start for r in again] == [r.key.start for r in first]
    accuracy = read_metric_rows(home, model=MODEL, metric_prefix="performance.accuracy")
    assert int(accuracy[accuracy["segment"] == "all"]["n"].iloc[0]) == 200
