"""The text_head format: a frozen sentence encoder (a ``tokenizer`` folder, see
:mod:`raigov.models.text`) and a linear head on its pooled embedding, in one file
``text_head.json``: ``{"encoder", "column", "max_length", "weight": [...], "bias"}``.
No pickle: the head's numbers are JSON, the encoder's weights safetensors.

The loaded model's ``forward(df)`` is the head's logit for each text of ``column``
(``[N]``); ``network`` is :class:`TextHeadNetwork`, the whole forward pass from token
ids (``forward(input_ids, attention_mask) -> logit``), which probes and token
attributions run; ``encode(df)`` gives the sentence embeddings the head reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raigov.errors import ConfigError
from raigov.models.artifacts.loaded import default_device

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

FORMAT = "text_head"
HEAD_FILE = "text_head.json"
FIELDS = ("encoder", "column", "max_length", "weight", "bias")
BAD_HEAD = "Model artifact file {path} must hold {fields}; {problem}"
NOT_A_COLUMN = ("Model artifact file {path} reads column {column!r}, which is not a text "
                "column of model {model!r} (text columns: {known})")


def save_text_head(directory: str | Path, *, weight: np.ndarray, bias: float, encoder: str,
                   column: str, max_length: int) -> Path:
    """Write a text_head artifact (the directory is created)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    body = {"encoder": encoder, "column": column, "max_length": int(max_length),
            "weight": [float(w) for w in np.asarray(weight, dtype=float).ravel()],
            "bias": float(bias)}
    (path / HEAD_FILE).write_text(json.dumps(body) + "\n", encoding="utf-8")
    return path


def read_head(path: Path) -> dict[str, Any]:
    from raigov.models.artifacts.architectures import read_json

    data = read_json(path)
    missing = [f for f in FIELDS if not isinstance(data, dict) or f not in data]
    if missing:
        raise ConfigError(BAD_HEAD.format(path=path, fields=", ".join(FIELDS),
                                          problem=f"missing {missing}"))
    if not isinstance(data["weight"], list) or not data["weight"]:
        raise ConfigError(BAD_HEAD.format(path=path, fields=", ".join(FIELDS),
                                          problem="'weight' must be a list of numbers"))
    return data


def text_head_network(encoder: str, weight: np.ndarray, bias: float) -> Any:
    """The module of the whole forward pass (built lazily: torch is imported here)."""
    import torch

    from raigov.models.text import load_encoder, mean_pool

    class TextHeadNetwork(torch.nn.Module):
        """Token ids -> encoder -> mean pool + L2 norm -> linear head -> logit ``[N]``."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = load_encoder(encoder, "cpu")
            self.head = torch.nn.Linear(len(weight), 1)
            with torch.no_grad():
                self.head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32)[None])
                self.head.bias.fill_(float(bias))

        def forward(self, input_ids: "torch.Tensor",
                    attention_mask: "torch.Tensor") -> "torch.Tensor":
            hidden = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            return self.head(mean_pool(hidden, attention_mask)).squeeze(-1)

    return TextHeadNetwork().eval()


@dataclass
class TextHeadModel:
    """A loaded text_head artifact (see the module docstring)."""

    spec: "ModelSpec"
    device: str
    encoder: str
    column: str
    max_length: int
    weight: np.ndarray
    bias: float
    format: str = FORMAT
    runnable: bool = True
    deep_exact: bool = False
    feature_tensor: bool = False   # the network reads token ids (see explain_model)
    _network: Any = None

    @property
    def input_names(self) -> list[str]:
        return [self.column]

    @property
    def network(self) -> Any:
        if self._network is None:
            self._network = text_head_network(self.encoder, self.weight, self.bias)
        return self._network

    def encode(self, df: "pd.DataFrame") -> np.ndarray:
        from raigov.models.text import embed

        return embed(self.encoder, [str(t) for t in df[self.column]],
                     max_length=self.max_length, device=self.device)

    def forward(self, df: "pd.DataFrame") -> np.ndarray:
        return self.encode(df).astype(np.float64) @ self.weight + self.bias


def load_text_head(directory: Path, spec: "ModelSpec", *,
                   device: str | None = None) -> TextHeadModel:
    path = Path(directory) / HEAD_FILE
    data = read_head(path)
    texts = [c.name for c in spec.inputs.columns if c.dtype == "text"]
    if data["column"] not in texts:
        raise ConfigError(NOT_A_COLUMN.format(path=path, column=data["column"],
                                              model=spec.name, known=", ".join(texts) or "none"))
    return TextHeadModel(spec, default_device(device), str(data["encoder"]),
                         str(data["column"]), int(data["max_length"]),
                         np.asarray(data["weight"], dtype=np.float64), float(data["bias"]))
