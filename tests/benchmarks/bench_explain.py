"""Benchmark: DeepExplainer (shap) on the demo models, ms per explained row and the
largest additivity error in logit space. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_explain.py [--rows 200] [--background 200]

Each demo model is trained (seeded), saved and loaded back as an artifact, then
explained on CPU and, where CUDA is available, on the GPU too (the device is printed).
A few rows are explained first as a warm-up (shap's import and first-call costs are
not counted). Absolute times on a shared machine are noise; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

WARMUP_ROWS = 5


def bench_model(name: str, *, rows: int, background: int, devices: list[str],
                root: Path) -> list[dict[str, Any]]:
    from raigov.models.artifact import load_artifact, save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.monitors.shap_explainer import build_explainer, explain_rows

    demo = build_demo_model(name, seed=0)
    artifact = save_artifact(root / name, demo.trained)
    sample = demo.heldout.sample(n=min(rows, len(demo.heldout)), random_state=0)
    out = []
    for device in devices:
        loaded = load_artifact(artifact, device=device)
        started = time.perf_counter()
        fitted = build_explainer(loaded, demo.reference, seed=0, background_size=background)
        build_s = time.perf_counter() - started
        explain_rows(fitted, loaded, sample.head(WARMUP_ROWS))
        started = time.perf_counter()
        explanation = explain_rows(fitted, loaded, sample)
        seconds = time.perf_counter() - started
        out.append({"model": name, "device": device, "rows": explanation.n,
                    "background_rows": fitted.background_size,
                    "encoded_columns": int(explanation.encoded_values.shape[1]),
                    "features": len(explanation.feature_names),
                    "ms_per_row": round(1000 * seconds / explanation.n, 3),
                    "build_explainer_s": round(build_s, 3),
                    "max_additivity_error": explanation.max_additivity_error,
                    "output": explanation.output})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="explained rows per model")
    parser.add_argument("--background", type=int, default=200, help="background rows")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--models", nargs="+", default=["credit-risk", "income-classifier"])
    args = parser.parse_args()

    import shap
    import torch

    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        results = [r for name in args.models
                   for r in bench_model(name, rows=args.rows, background=args.background,
                                        devices=devices, root=Path(tmp))]
    print(json.dumps({
        "benchmark": "shap.DeepExplainer on the demo models (logit output)",
        "shap": shap.__version__, "torch": torch.__version__, "threads": args.threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
