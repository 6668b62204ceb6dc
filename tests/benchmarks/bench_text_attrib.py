"""Benchmark: token attributions of the review-sentiment head, cost per row. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_text_attrib.py [--rows 5] [--shap-evals 200]

Compares, on the same held-out reviews and the same head (240 seeded training reviews,
embeddings cached), raigov's integrated gradients on the embedding layer (Captum's
LayerIntegratedGradients, steps doubled from 32 until the completeness error is under
1e-2) with shap's Partition explainer and a text masker (``shap.maskers.Text`` over the
same tokenizer, ``max_evals`` model calls per row). Reports seconds per row, the
completeness error of each row (IG: |baseline logit + sum - logit|; Partition: the
same against its fully masked text) and the steps or evaluations spent.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--shap-evals", type=int, default=200)
    args = parser.parse_args()

    from raigov.models import demo_text
    import tempfile

    from raigov.models.artifacts.load import load_model
    from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
    from raigov.models.text import load_tokenizer
    from raigov.monitors.attribution_tokens import attribute_texts

    train, test = demo_text.split(demo_text.reviews(), n_train=240, n_test=120)
    head = demo_text.train_head(demo_text.embeddings_cache(train["text"].tolist()),
                                train["fresh"].to_numpy())
    spec = ModelSpec(name="review-sentiment", classes=("0", "1"), features=("review",),
                     inputs=InputSchema(columns=(ColumnSpec(
                         name="review", dtype="text", tokenizer=demo_text.ENCODER,
                         max_length=128),)))
    model = load_model(demo_text.save_head(head, tempfile.mkdtemp()), spec, device="cpu")
    texts = test["text"].head(args.rows).tolist()
    model.token_network  # built before timing
    start = time.perf_counter()
    found = attribute_texts(model, texts)
    ig_s = (time.perf_counter() - start) / len(texts)

    import shap

    def logits(batch: np.ndarray) -> np.ndarray:
        return model.forward(pd.DataFrame({"review": [str(t) for t in batch]}))

    explainer = shap.Explainer(logits, shap.maskers.Text(load_tokenizer(demo_text.ENCODER)),
                               algorithm="partition")
    start = time.perf_counter()
    values = explainer(texts, max_evals=args.shap_evals, silent=True)
    shap_s = (time.perf_counter() - start) / len(texts)
    full = logits(np.array(texts))
    shap_err = [abs(float(values.base_values[i] + values.values[i].sum() - full[i]))
                for i in range(len(texts))]
    print(json.dumps({
        "rows": len(texts), "tokens_mean": float(np.mean([len(f.tokens) for f in found])),
        "ig_layer_captum": {"s_per_row": ig_s, "steps": [f.n_steps for f in found],
                            "completeness_error_max": max(f.completeness_error for f in found)},
        "shap_partition_text": {"s_per_row": shap_s, "max_evals": args.shap_evals,
                                "completeness_error_max": max(shap_err)},
        "ratio_shap_over_ig": shap_s / ig_s}, indent=2))


if __name__ == "__main__":
    main()
