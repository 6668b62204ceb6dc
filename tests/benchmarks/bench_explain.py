"""Benchmark: the attribution methods on the demo models, ms per explained row and the
completeness error |baseline + sum of a row's attributions - the row's output|. Prints
JSON.

Run: .venv/bin/python tests/benchmarks/bench_explain.py [--rows 200] [--background 200]

Each demo model is trained (seeded), saved and loaded back as an artifact, then
explained by every method: ``deep_shap`` (what the built-in model gets),
``integrated_gradients`` (what every other differentiable network gets, forced here on
the same network so the two compare), and for reference shap's own
``GradientExplainer`` (expected gradients, Monte Carlo with ``nsamples`` draws; its
completeness error is against f(x) - mean f(background)). A network with six outputs
over the same inputs (a multiclass shape) shows the per-class cost of integrated
gradients. CPU, and CUDA too where available. A few rows are explained first as a
warm-up. Absolute times on a shared machine are noise; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WARMUP_ROWS = 5


def bench_method(model: Any, reference: Any, sample: Any, *, method: str,
                 background: int) -> dict[str, Any]:
    from raigov.monitors.attribution_methods import choose_method, explain_frame

    started = time.perf_counter()
    fitted = choose_method(model, method).fit(model, reference, background_size=background,
                                              seed=0)
    fit_s = time.perf_counter() - started
    explain_frame(fitted, sample.head(WARMUP_ROWS))
    found = explain_frame(fitted, sample)
    return {"method": method, "rows": found.n, "outputs": int(found.values.shape[1]),
            "ms_per_row": round(1000 * found.seconds / found.n, 3),
            "fit_s": round(fit_s, 3), "evaluations_per_row": round(found.evaluations, 1),
            "max_completeness_error": float(found.errors.max()),
            "median_completeness_error": float(np.median(found.errors)),
            "bound": float(found.bound.max()), "rows_within_bound": int(found.within_bound().sum())}


def bench_gradient_explainer(model: Any, reference: Any, sample: Any, *, background: int,
                             nsamples: int) -> dict[str, Any]:
    """shap.GradientExplainer on the same network, for comparison."""
    import shap
    import torch

    from raigov.monitors.shap_explainer import background_matrix

    bg = torch.from_numpy(background_matrix(model.encode, reference, size=background, seed=0))
    x = torch.from_numpy(model.encode(sample))
    explainer = shap.GradientExplainer(model.network, bg.to(model.device))
    explainer.shap_values(x[:WARMUP_ROWS].to(model.device), nsamples=nsamples, rseed=0)
    started = time.perf_counter()
    values = np.asarray(explainer.shap_values(x.to(model.device), nsamples=nsamples, rseed=0))
    seconds = time.perf_counter() - started
    with torch.no_grad():
        fx = model.network(x.to(model.device)).double().cpu().numpy().reshape(len(x))
        base = model.network(bg.to(model.device)).double().cpu().numpy().mean()
    errors = np.abs(base + values.reshape(len(x), -1).sum(axis=1) - fx)
    return {"method": f"shap.GradientExplainer (nsamples={nsamples})", "rows": len(x),
            "ms_per_row": round(1000 * seconds / len(x), 3),
            "max_completeness_error": float(errors.max()),
            "median_completeness_error": float(np.median(errors))}


def six_outputs(model: Any) -> Any:
    """The model with a seeded six-output MLP over the same inputs."""
    import dataclasses

    import torch
    from torch import nn

    from raigov.models.artifact import LoadedModel

    torch.manual_seed(0)
    width = len(model.input_names)
    module = nn.Sequential(nn.Linear(width, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                           nn.Linear(64, 6)).to(model.device).eval()
    loaded = LoadedModel(module, model.loaded.preprocessor, model.device, "bench_six")
    spec = model.spec.model_copy(update={"output_kind": "multiclass",
                                         "classes": tuple(f"c{k}" for k in range(6))})
    return dataclasses.replace(model, spec=spec, loaded=loaded)


def bench_model(name: str, *, rows: int, background: int, nsamples: int, devices: list[str],
                root: Path) -> list[dict[str, Any]]:
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.monitors.explain_model import load_explainable

    demo = build_demo_model(name, seed=0)
    artifact = save_artifact(root / name, demo.trained)
    sample = demo.heldout.sample(n=min(rows, len(demo.heldout)), random_state=0)
    out = []
    for device in devices:
        model = load_explainable(artifact, demo.spec, device=device)
        base = {"model": name, "device": device, "inputs": len(model.input_names),
                "features": len(demo.spec.features), "background_rows": background}
        for method in ("deep_shap", "integrated_gradients"):
            out.append({**base, **bench_method(model, demo.reference, sample, method=method,
                                               background=background)})
        out.append({**base, **bench_gradient_explainer(model, demo.reference, sample,
                                                       background=background,
                                                       nsamples=nsamples)})
        out.append({**base, "model": f"{name} (6 outputs)", **bench_method(
            six_outputs(model), demo.reference, sample, method="integrated_gradients",
            background=background)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="explained rows per model")
    parser.add_argument("--background", type=int, default=200, help="background rows")
    parser.add_argument("--nsamples", type=int, default=200,
                        help="GradientExplainer's samples per row")
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
                                        nsamples=args.nsamples, devices=devices,
                                        root=Path(tmp))]
    print(json.dumps({
        "benchmark": "attribution methods on the demo models (raw output: the logit)",
        "shap": shap.__version__, "torch": torch.__version__, "threads": args.threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
