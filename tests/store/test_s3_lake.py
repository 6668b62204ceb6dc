"""The lake on object storage (``RAIGOV_LAKE_URL=s3://...``) against a real S3 endpoint
(SeaweedFS on loopback, see ``conftest.py``). Rows are counted by reading the objects
with pyarrow directly, never through raigov's own readers."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from raigov.home import Home
from raigov.models.capture.logger import PredictionLogger
from raigov.store.lake import lake_connection
from tests import home_copies
from tests.serving.conftest import (MODEL, credit_demo, model_home,  # noqa: F401
                                    request_rows, template_home)

RAIGOV = [sys.executable, "-m", "raigov.cli"]
DAY = dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc)


def objects(endpoint, url: str, under: str = "") -> dict[str, int]:
    """Every object under the lake URL (path relative to it -> size), listed directly."""
    root = url.removeprefix("s3://")
    infos = endpoint.filesystem().get_file_info(
        fs.FileSelector(f"{root}/{under}".rstrip("/"), recursive=True, allow_not_found=True))
    return {i.path.removeprefix(root + "/"): i.size for i in infos if i.type == fs.FileType.File}


def read_ids(endpoint, url: str, paths: list[str]) -> list[str]:
    s3 = endpoint.filesystem()
    root = url.removeprefix("s3://")
    ids: list[str] = []
    for path in paths:
        ids += pq.read_table(f"{root}/{path}", filesystem=s3,
                             columns=["prediction_id"]).column("prediction_id").to_pylist()
    return ids


def parquet(listing: dict[str, int], table: str = "predictions") -> list[str]:
    return sorted(p for p in listing if p.startswith(f"{table}/") and p.endswith(".parquet"))


def log_days(home: Home, rows, *, batches: int, per_batch: int, day: dt.datetime) -> list[str]:
    """Log ``batches`` separate captures (one segment each) on ``day``; returns the ids."""
    ids = []
    for b in range(batches):
        chunk = rows.iloc[b * per_batch:(b + 1) * per_batch]
        scores = np.linspace(0.05, 0.95, len(chunk))
        with PredictionLogger(MODEL, home=home) as log:
            ids += log.log_predictions(chunk, labels=(scores >= .5).astype(int), scores=scores,
                                       timestamp=day + dt.timedelta(minutes=b)).prediction_ids
    return ids


def test_predictions_served_by_raigov_serve_land_in_s3_exactly_once(
        model_home, request_rows, s3_lake, s3_endpoint) -> None:
    from raigov.models.serving.server_process import ServerProcess, free_port

    received: list[str] = []
    started = time.monotonic()
    with ServerProcess.with_key(model_home, free_port()) as server:
        with server.client(timeout=30) as client:
            for i in range(40):
                batch = request_rows[(i * 5) % 200:(i * 5) % 200 + 5]
                r = client.post(f"/v1/models/{MODEL}/predict", json={"rows": batch})
                assert r.status_code == 200, r.text
                received += [p["prediction_id"] for p in r.json()["predictions"]]
    elapsed = time.monotonic() - started
    assert len(received) == 200
    listing = objects(s3_endpoint, s3_lake)
    files = parquet(listing)
    assert files, f"no prediction segment in the bucket: {sorted(listing)}"
    found = read_ids(s3_endpoint, s3_lake, files)
    assert len(found) == 200 and sorted(found) == sorted(received)
    assert not (model_home.root / "lake" / "predictions" / f"model={MODEL}").exists()
    print(f"captured 200 rows into S3 in {elapsed:.1f} s (serve start to stop)")


def test_compaction_on_s3_keeps_every_row_and_never_shows_a_half_object(
        model_home, credit_demo, s3_lake, s3_endpoint) -> None:
    rows = credit_demo.heldout[list(credit_demo.spec.input_columns)]
    ids = log_days(model_home, rows, batches=4, per_batch=30, day=DAY)
    before = parquet(objects(s3_endpoint, s3_lake))
    assert len(before) == 4
    # Killed after the new object is uploaded, before the manifest names it.
    env = {**os.environ, "RAIGOV_REWRITE_PAUSE_AT": "publish"}
    proc = subprocess.Popen([*RAIGOV, "lake", "compact", "--home", str(model_home.root)],
                            env=env, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "raigov-rewrite-step publish" in line, line
    proc.kill()
    proc.wait()
    leftover = parquet(objects(s3_endpoint, s3_lake))
    assert len(leftover) == 5 and any(Path(p).name.startswith("c-") for p in leftover)
    with lake_connection(model_home, model=MODEL) as con:
        seen = [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]
    assert sorted(seen) == sorted(ids), "the unpublished object is not visible"
    done = subprocess.run([*RAIGOV, "lake", "compact", "--home", str(model_home.root)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    listing = objects(s3_endpoint, s3_lake)
    after = parquet(listing)
    assert [Path(p).name for p in after] == ["c-000001-0.parquet"]
    assert sorted(read_ids(s3_endpoint, s3_lake, after)) == sorted(ids)
    manifest_key = str(Path(after[0]).parent / "_manifest.json")
    manifest = json.loads(endpoint_read(s3_endpoint, s3_lake, manifest_key))
    assert manifest["files"] == ["c-000001-0.parquet"] and len(manifest["replaced"]) == 4
    stats = subprocess.run([*RAIGOV, "lake", "stats", "--format", "json", "--home",
                            str(model_home.root)], capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stderr
    row = next(r for r in json.loads(stats.stdout) if r["table"] == "predictions")
    assert (row["files"], row["rows"]) == (1, 120)


def endpoint_read(endpoint, url: str, key: str) -> bytes:
    with endpoint.filesystem().open_input_stream(f"{url.removeprefix('s3://')}/{key}") as s:
        return s.read()


def test_erasure_and_retention_on_s3_remove_the_rows_from_the_objects(
        model_home, credit_demo, s3_lake, s3_endpoint) -> None:
    from raigov.models.erasure import apply_retention, erase

    rows = credit_demo.heldout[list(credit_demo.spec.input_columns)]
    ids = log_days(model_home, rows, batches=2, per_batch=25, day=DAY)
    doomed = ids[3:8]
    result = erase(model_home, MODEL, prediction_ids=doomed, reason="subject request")
    assert result.predictions == 5
    files = parquet(objects(s3_endpoint, s3_lake))
    left = read_ids(s3_endpoint, s3_lake, files)
    assert len(left) == 45 and not set(left) & set(doomed)
    assert sorted(left) == sorted(set(ids) - set(doomed))
    days = credit_demo.spec.monitoring.retention_days
    removed = apply_retention(model_home, now=DAY + dt.timedelta(days=days + 2))
    assert removed[MODEL]["predictions"] == 1
    assert parquet(objects(s3_endpoint, s3_lake)) == []
    with lake_connection(model_home, model=MODEL) as con:
        assert con.execute("SELECT count(*) FROM predictions").fetchone()[0] == 0
    # SeaweedFS keeps the emptied prefix as a directory (listed below); the lake no
    # longer counts it as a partition, and a second pass finds nothing to expire.
    from raigov.store.lake import partitions
    from raigov.store.lake_fs import lake_fs
    table = f"{s3_lake.removeprefix('s3://')}/predictions"
    listed = s3_endpoint.filesystem().get_file_info(fs.FileSelector(table, recursive=True))
    assert [i for i in listed if i.base_name.startswith("date=")]
    assert partitions(model_home, "predictions", MODEL) == []
    assert lake_fs(model_home).existing([lake_fs(model_home).root / "predictions" / f"model={MODEL}"
                                         / f"date={DAY.date()}"]) == []
    assert apply_retention(model_home, now=DAY + dt.timedelta(days=days + 2)) == {}


def test_encrypted_segments_on_s3_are_not_plain_parquet(
        tmp_path, credit_demo, s3_lake, s3_endpoint, monkeypatch) -> None:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model
    from raigov.models.spec import PrivacyConfig

    key_file = tmp_path / "outside" / "data.key"
    key_file.parent.mkdir()
    key_file.write_text(secrets.token_hex(32))
    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(key_file))
    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit_demo.trained)
    spec = credit_demo.spec.model_copy(update={"privacy": PrivacyConfig()})
    register_model(home, spec, artifact=tmp_path / "artifact", reference=credit_demo.reference)
    ids = log_days(home, credit_demo.heldout[list(spec.input_columns)], batches=1,
                   per_batch=40, day=DAY)
    files = parquet(objects(s3_endpoint, s3_lake))
    assert len(files) == 1
    raw = endpoint_read(s3_endpoint, s3_lake, files[0])
    assert raw[-4:] == b"PARE"
    for column in spec.sensitive:
        for value in map(str, credit_demo.heldout[column].iloc[:40].unique()):
            if len(value) > 3:
                assert value.encode() not in raw
    with pytest.raises(OSError, match="encrypted"):
        pq.read_table(f"{s3_lake.removeprefix('s3://')}/{files[0]}",
                      filesystem=s3_endpoint.filesystem())
    with lake_connection(home, model=MODEL) as con:
        got = [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]
    assert sorted(got) == sorted(ids)


METRIC_COLUMNS = ("model, version, window_start, window_end, family, metric, segment, "
                  "value, ci_low, ci_high, n, status")


def metric_rows(home: Home, stores: home_copies.Stores) -> list[tuple]:
    from raigov.store.catalog import catalog

    saved = home_copies.current().environment()
    home_copies.set_environment({home_copies.CATALOG_ENV: stores.catalog_url})
    try:
        with catalog(home, read_only=True) as con:
            return [tuple(r) for r in con.execute(
                f"SELECT {METRIC_COLUMNS} FROM metric_rows WHERE family <> 'explain' "
                f"ORDER BY {METRIC_COLUMNS}").fetchall()]
    finally:
        home_copies.set_environment(saved)


def test_monitor_run_on_s3_gives_the_metric_rows_of_a_local_lake(
        template_home, credit_demo, tmp_path, s3_lake, s3_endpoint, monkeypatch) -> None:
    rows = credit_demo.heldout[list(credit_demo.spec.input_columns)]
    # Two copies of the template, each with its own catalog (a database of its own under
    # the PostgreSQL matrix): one on a local lake/, one on the bucket.
    local, local_stores = home_copies.copy_home(template_home, tmp_path / "local", activate=False)
    remote, remote_stores = home_copies.copy_home(template_home, tmp_path / "remote",
                                                  activate=False)
    monkeypatch.delenv("RAIGOV_LAKE_URL")
    if local_stores.catalog_url:
        monkeypatch.setenv("RAIGOV_CATALOG_URL", local_stores.catalog_url)
    log_days(local, rows, batches=3, per_batch=60, day=DAY)
    with PredictionLogger(MODEL, home=local) as log:   # labels for the first 120
        with lake_connection(local, model=MODEL) as con:
            ids = [r[0] for r in con.execute("SELECT prediction_id FROM predictions "
                                             "ORDER BY ts, prediction_id LIMIT 120").fetchall()]
        log.log_feedback(ids, credit_demo.heldout["y_true"].iloc[:120].tolist())
    # The same traffic, byte for byte, in the bucket.
    fs.copy_files(str(local.lake), s3_lake.removeprefix("s3://"),
                  destination_filesystem=s3_endpoint.filesystem())
    results = {}
    for home, stores, url in ((local, local_stores, None), (remote, remote_stores, s3_lake)):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RAIGOV_LAKE_URL", "RAIGOV_CATALOG_URL")}
        if url:
            env["RAIGOV_LAKE_URL"] = url
        if stores.catalog_url:
            env["RAIGOV_CATALOG_URL"] = stores.catalog_url
        done = subprocess.run([*RAIGOV, "monitor", "run", "--home", str(home.root)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode in (0, 1), done.stderr
        results[home.root.name] = metric_rows(home, stores)
    assert len(results["local"]) > 20
    assert results["remote"] == results["local"]


@pytest.mark.parametrize("url, words", [
    ("ftp://bucket/lake", "unknown scheme 'ftp'"),
    ("s3:///lake", "names no bucket"),
    ("s3://no-such-bucket-here/lake", "does not exist"),
])
def test_a_bad_lake_url_is_a_clear_error_naming_the_variable(
        home, s3_lake, url, words) -> None:
    env = {**os.environ, "RAIGOV_LAKE_URL": url}
    done = subprocess.run([*RAIGOV, "lake", "stats", "--home", str(home.root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "RAIGOV_LAKE_URL" in done.stderr and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_endpoint_is_a_clear_error_naming_the_variable(home) -> None:
    from raigov.models.serving.server_process import free_port

    env = {**os.environ, "RAIGOV_LAKE_URL": "s3://bucket/lake", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    done = subprocess.run([*RAIGOV, "lake", "stats", "--home", str(home.root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "RAIGOV_LAKE_URL" in done.stderr and "cannot reach" in done.stderr, done.stderr
    assert time.monotonic() - started < 60


def test_labels_through_raigov_serve_are_checked_against_the_s3_lake(
        model_home, request_rows, s3_lake, s3_endpoint) -> None:
    """A fresh server knows no id: whether one was served, or already labelled, comes
    from the objects in the bucket."""
    from raigov.ids import uuid7
    from raigov.models.serving.server_process import ServerProcess, free_port

    feedback = f"/v1/models/{MODEL}/feedback"
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=30) as client:
        r = client.post(f"/v1/models/{MODEL}/predict", json={"rows": request_rows[:40]})
        assert r.status_code == 200, r.text
        served = [p["prediction_id"] for p in r.json()["predictions"]]
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=30) as client:
        labels = [{"prediction_id": pid, "label": i % 2} for i, pid in enumerate(served[:30])]
        r = client.post(feedback, json={"labels": labels})
        assert r.status_code == 200, r.text
        r = client.post(feedback, json={"labels": [{"prediction_id": uuid7(),
                                                    "label": 1}]})
        assert r.status_code == 422, r.text
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=30) as client:
        r = client.post(feedback, json={"labels": [{"prediction_id": served[0], "label": 1}]})
        assert r.status_code == 409, r.text
        r = client.post(feedback, json={"labels": [{"prediction_id": served[35], "label": 1}]})
        assert r.status_code == 200, r.text
    files = parquet(objects(s3_endpoint, s3_lake), "feedback")
    got = read_ids(s3_endpoint, s3_lake, files)
    assert sorted(got) == sorted(served[:30] + [served[35]])
