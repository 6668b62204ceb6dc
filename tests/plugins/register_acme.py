"""Run as a script (``python tests/plugins/register_acme.py HOME WORK``) in a process
that sees the plugin: builds a model of the plugin's ``acme_scorer`` architecture over
German credit (raigov's artifact format: architecture.json, weights.pt,
preprocess.json), registers it as ``acme-credit`` and writes request rows to
``WORK/rows.json``. The architecture is found through the plugin doors only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODEL = "acme-credit"
TAG = "acme"
REQUEST_ROWS = 40


def main(home_dir: str, work_dir: str) -> None:
    import numpy as np
    import torch

    from raigov.home import Home
    from raigov.models.artifact import ARCHITECTURES, save_artifact
    from raigov.models.demo_models import DEMO_MODELS, demo_spec
    from raigov.models.encoding import Preprocessor
    from raigov.models.registry import register_model
    from raigov.models.tabular import TrainedModel
    from raigov.plugins import load_plugins

    home, work = Home.resolve(home_dir).ensure(), Path(work_dir)
    load_plugins(home)
    definition = DEMO_MODELS["credit-risk"]
    train, test, full = definition.split(0)
    spec = demo_spec(definition, full).model_copy(update={"name": MODEL, "tags": (TAG,)})
    preprocessor = Preprocessor.fit(train, spec.inputs, spec.features)
    torch.manual_seed(0)
    params = {"n_inputs": len(preprocessor.encoded_names)}
    module = ARCHITECTURES.get("acme_scorer")(**params).eval()
    trained = TrainedModel(preprocessor, module, "acme_scorer", params)
    artifact = save_artifact(work / "artifact", trained)
    inputs = list(spec.input_columns)
    sample = train.sample(n=300, random_state=0)
    reference = sample[inputs].reset_index(drop=True)
    reference["y_true"] = sample[definition.label].to_numpy(dtype=np.int64)
    reference["score"] = trained.predict_proba(reference)
    reference["label"] = (reference["score"] >= spec.threshold).astype(np.int64)
    register_model(home, spec, artifact=artifact, reference=reference)
    rows = test[inputs].head(REQUEST_ROWS)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    (work / "rows.json").write_text(json.dumps(records, default=_plain))


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else str(value)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
