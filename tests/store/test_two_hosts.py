"""Two serving hosts (separate homes, so separate spools) on one PostgreSQL catalog and
one S3 lake (SeaweedFS), while a monitor run and the dashboard's queries run: every
acknowledged prediction is in the lake exactly once, nothing fails on a lock, and the
shared ledger is one valid chain. Counted from the objects with pyarrow, not through
raigov's readers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import pytest

from raigov.home import Home
from tests.serving.conftest import MODEL, credit_demo, request_rows  # noqa: F401
from tests.store.test_s3_lake import objects, parquet, read_ids

RAIGOV = [sys.executable, "-m", "raigov.cli"]


@pytest.mark.slow
def test_two_hosts_capture_into_one_s3_lake_and_one_postgresql_catalog(
        tmp_path, pg_url, s3_lake, s3_endpoint, credit_demo, request_rows) -> None:
    import os

    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model
    from raigov.models.serving.server_process import ServerProcess, free_port

    host_a = Home.resolve(tmp_path / "host-a").ensure()
    artifact = tmp_path / "artifact"
    save_artifact(artifact, credit_demo.trained)
    register_model(host_a, credit_demo.spec, artifact=artifact, reference=credit_demo.reference)
    # The second host gets the model's artifact as a deployment ships it; its spool,
    # keys and locks are its own. The registration itself is only in the shared catalog.
    host_b = Home.resolve(tmp_path / "host-b").ensure()
    shutil.copytree(host_a.artifacts, host_b.artifacts, dirs_exist_ok=True)
    assert not (host_b.root / "catalog.duckdb").exists()

    received: dict[str, list[str]] = {"a": [], "b": []}
    failures: list[str] = []

    def traffic(server: ServerProcess, name: str, offset: int) -> None:
        with server.client(timeout=60) as client:
            for i in range(30):
                start = (offset + i * 5) % 195
                r = client.post(f"/v1/models/{MODEL}/predict",
                                json={"rows": request_rows[start:start + 5]})
                if r.status_code != 200:
                    failures.append(f"{name}: {r.status_code} {r.text}")
                    return
                received[name] += [p["prediction_id"] for p in r.json()["predictions"]]

    with ServerProcess.with_key(host_a, free_port(), name="host-a") as server_a, \
            ServerProcess.with_key(host_b, free_port(), name="host-b") as server_b:
        threads = [threading.Thread(target=traffic, args=(server_a, "a", 0)),
                   threading.Thread(target=traffic, args=(server_b, "b", 100))]
        for t in threads:
            t.start()
        monitor = subprocess.run([*RAIGOV, "monitor", "run", "--home", str(host_a.root)],
                                 capture_output=True, text=True, env=dict(os.environ),
                                 timeout=300)
        from raigov.dashboard import queries

        fleet = queries.fleet(str(host_b.root))      # the fleet page's reads, mid-traffic
        names = set(queries.models(str(host_b.root))["model"])
        for t in threads:
            t.join(120)
    assert not failures, failures
    assert monitor.returncode == 0, monitor.stdout + monitor.stderr
    assert "lock" not in (monitor.stderr or "").lower()
    assert MODEL in names and len(fleet["table"]) == 1   # host b's dashboard sees host a's model
    assert len(received["a"]) == len(received["b"]) == 150
    served = received["a"] + received["b"]
    found = read_ids(s3_endpoint, s3_lake, parquet(objects(s3_endpoint, s3_lake)))
    assert len(found) == 300 and sorted(found) == sorted(served)   # none lost, none twice
    for host in (host_a, host_b):
        assert not (host.root / "lake" / "predictions" / f"model={MODEL}").exists()
    verify = subprocess.run([*RAIGOV, "audit", "verify", "--home", str(host_b.root)],
                            capture_output=True, text=True, env=dict(os.environ))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    keys = subprocess.run([*RAIGOV, "keys", "list", "--home", str(host_a.root)],
                          capture_output=True, text=True, env=dict(os.environ))
    assert "host-a" in keys.stdout and "host-b" in keys.stdout   # one catalog
