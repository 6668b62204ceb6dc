"""Bring your own model, served by a real ``raigov serve`` process: networks written
by the user (a multiclass, a regression and a binary one on Adult), exported with
``torch.export``, specs written as YAML, registered with ``raigov models register``;
a user's own ``nn.Module`` class registered as an architecture; an external model.
Every served output equals the exported program's own output on the same rows,
under concurrent micro-batching too."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from raigov.home import Home
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.store.lake import lake_connection
from tests.serving import byom, user_nets

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
# The user's code is imported before the CLI runs, as a plugin would be.
WITH_USER_CODE = "import tests.serving.user_nets; from raigov.cli import main; main()"
SERVED = ("relationship", "hours", "income")
POOL = 300


def _cli(*args: str, user_code: bool = False) -> subprocess.CompletedProcess:
    cmd = ([sys.executable, "-c", WITH_USER_CODE] if user_code else
           [sys.executable, "-m", "raigov.cli"]) + list(args)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("byom")
    home = Home.resolve(root / "home").ensure()
    data = byom.adult()
    built = {name: byom.build(task, data, root / name) for name, task in byom.TASKS.items()}
    for name in SERVED:
        done = _cli("models", "register", "--spec", str(built[name]["spec"]), "--artifact",
                    str(built[name]["artifact"]), "--reference", str(built[name]["reference"]),
                    "--home", str(home.root))
        assert done.returncode == 0, done.stderr
        assert f"Registered {name} version 1" in done.stdout
    module_spec = root / "hours-module.yaml"
    module_spec.write_text(yaml.safe_dump(byom.spec_dict(byom.TASKS["hours"], data,
                                                         name="hours-module")))
    done = _cli("models", "register", "--spec", str(module_spec), "--artifact",
                str(built["hours"]["module"]), "--reference", str(built["hours"]["reference"]),
                "--home", str(home.root), user_code=True)
    assert done.returncode == 0, done.stderr
    external = root / "elsewhere.yaml"
    external.write_text(yaml.safe_dump(byom.spec_dict(byom.TASKS["income"], data,
                                                      name="elsewhere")))
    assert _cli("models", "register", "--spec", str(external), "--home",
                str(home.root)).returncode == 0
    pool = data.sample(n=POOL, random_state=7).reset_index(drop=True)
    expected = {}
    for name in SERVED:
        task = byom.TASKS[name]
        raw = byom.program_outputs(built[name]["artifact"] / "model.pt2", task, pool, data)
        expected[name] = byom.expected_rows(task, raw, data)
    expected["hours-module"] = expected["hours"]
    state = {"home": home, "data": data, "built": built, "pool": pool, "expected": expected,
             "server": _start_server(home)}
    yield state
    state["server"].stop()


def _start_server(home: Home) -> ServerProcess:
    server = ServerProcess.with_key(home, free_port())
    server.log_path = home.root / "serve.log"
    cmd = [sys.executable, "-c", WITH_USER_CODE, "serve", "--home", str(home.root),
           "--port", str(server.port)]
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    server.wait_ready(timeout_s=180)
    return server


def _task(model: str) -> byom.Task:
    return byom.TASKS["hours" if model == "hours-module" else model]


def _post(client: httpx.Client, model: str, world, idx: list[int]) -> list[dict]:
    rows = byom.request_rows(_task(model), world["pool"].iloc[idx])
    r = client.post(f"/v1/models/{model}/predict", json={"rows": rows})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def _assert_same(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = {k: v for k, v in g.items() if k != "prediction_id"}
        assert g.keys() == w.keys()
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
            elif isinstance(value, dict):
                assert g[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
            else:
                assert g[key] == value, key


@pytest.mark.parametrize("model", SERVED)
def test_served_outputs_equal_the_exported_programs_own_outputs(world, model):
    with world["server"].client() as client:
        got = _post(client, model, world, list(range(60)))
    _assert_same(got, world["expected"][model][:60])


def test_the_response_of_each_kind_has_its_own_shape(world):
    with world["server"].client() as client:
        multi, reg, binary = (_post(client, m, world, [0])[0] for m in SERVED)
    assert set(multi) == {"prediction_id", "label", "class", "score", "probabilities"}
    assert sorted(multi["probabilities"]) == byom.categories(world["data"], "relationship")
    assert set(reg) == {"prediction_id", "value"}
    assert set(binary) == {"prediction_id", "label", "class", "score"}


def test_a_users_module_class_registered_as_an_architecture_is_served_the_same_way(world):
    state = torch.load(world["built"]["hours"]["module"] / "weights.pt", weights_only=True)
    params = json.loads((world["built"]["hours"]["module"] / "architecture.json").read_text())
    net = user_nets.AdultNet(**params["params"])
    net.load_state_dict(state)
    cols = byom.columns_of(byom.TASKS["hours"], world["data"])
    with torch.no_grad():
        own = net.eval()(torch.from_numpy(user_nets.encode(world["pool"].head(40), cols)))
    with world["server"].client() as client:
        got = _post(client, "hours-module", world, list(range(40)))
    assert [g["value"] for g in got] == pytest.approx(own[:, 0].double().tolist(), rel=1e-5)
    _assert_same(got, world["expected"]["hours"][:40])


def _client_loop(server: ServerProcess, world, seed: int, failures: list[str], counts: dict) -> None:
    rng = random.Random(seed)
    models = [*SERVED, "hours-module"]
    with server.client(timeout=60) as client:
        for _ in range(12):
            model = rng.choice(models)
            idx = rng.sample(range(POOL), rng.choice([1, 2, 3, 7, 16, 33, 64]))
            try:
                _assert_same(_post(client, model, world, idx),
                             [world["expected"][model][i] for i in idx])
                counts[model] = counts.get(model, 0) + 1
            except AssertionError as exc:
                failures.append(f"{model} rows {idx[:5]}...: {exc}")


def test_concurrent_clients_with_mixed_sizes_each_get_their_own_rows_outputs(world):
    failures: list[str] = []
    counts: dict[str, int] = {}
    threads = [threading.Thread(target=_client_loop, args=(world["server"], world, i,
                                                           failures, counts))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(counts.values()) == 8 * 12 and set(counts) == {*SERVED, "hours-module"}
    metrics = httpx.get(world["server"].url + "/metrics", headers=world["server"].headers).text
    batches = sum(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("raigov_batch_rows_count"))
    requests = sum(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("raigov_requests_total") and 'route="predict"' in line)
    assert batches < requests, "concurrent requests shared forward passes"


def test_an_external_model_is_registered_but_answers_409_pointing_at_the_log_route(world):
    r = httpx.post(world["server"].url + "/v1/models/elsewhere/predict",
                   headers=world["server"].headers,
                   json={"rows": byom.request_rows(byom.TASKS["income"], world["pool"].head(1))})
    assert r.status_code == 409 and "/v1/models/elsewhere/log" in r.json()["detail"]
    listed = json.loads(_cli("models", "list", "--format", "json", "--home",
                             str(world["home"].root)).stdout)
    formats = {m["name"]: m["versions"][-1]["artifact_format"] for m in listed["models"]}
    assert formats == {"elsewhere": "external", "hours": "export", "hours-module": "module",
                       "income": "export", "relationship": "export"}
    spec = next(m for m in listed["models"] if m["name"] == "relationship")["versions"][0]["spec"]
    assert spec["classes"] == byom.categories(world["data"], "relationship")


def test_the_reference_holds_the_programs_own_predictions_and_the_truth_as_class_index(world):
    from raigov.models.registry import get_model

    reg = get_model(world["home"], "relationship")
    ref = reg.load_reference()
    source = pd.read_parquet(world["built"]["relationship"]["reference"])
    raw = byom.program_outputs(world["built"]["relationship"]["artifact"] / "model.pt2",
                               byom.TASKS["relationship"], source, world["data"])
    from scipy.special import softmax

    np.testing.assert_allclose(np.stack(ref["probabilities"].to_numpy()), softmax(raw, axis=1),
                               rtol=1e-6)
    classes = byom.categories(world["data"], "relationship")
    assert ref["y_true"].tolist() == [classes.index(v) for v in source["relationship"]]
    assert ref["label"].tolist() == softmax(raw, axis=1).argmax(axis=1).tolist()
    hours = get_model(world["home"], "hours").load_reference()
    assert "probabilities" not in hours and hours["y_true"].dtype == np.float64


def test_captured_rows_hold_each_kinds_outputs_in_the_lake(world):
    with world["server"].client() as client:
        multi = _post(client, "relationship", world, [3, 4])
        reg = _post(client, "hours", world, [5])
    world["server"].stop()                       # a graceful stop seals the spool
    try:
        with lake_connection(world["home"]) as con:
            rows = con.execute("SELECT prediction_id, label, score, value, probabilities "
                               "FROM predictions WHERE prediction_id IN (?, ?, ?)",
                               [multi[0]["prediction_id"], multi[1]["prediction_id"],
                                reg[0]["prediction_id"]]).fetchall()
    finally:
        world["server"] = _start_server(world["home"])
    by_id = {r[0]: r[1:] for r in rows}
    label, score, value, proba = by_id[multi[0]["prediction_id"]]
    assert (label, value) == (multi[0]["label"], None)
    assert proba == pytest.approx(list(multi[0]["probabilities"].values()))
    assert score == pytest.approx(multi[0]["score"])
    label, score, value, proba = by_id[reg[0]["prediction_id"]]
    assert (label, score, proba) == (None, None, None)
    assert value == pytest.approx(reg[0]["value"])
