"""Token attributions of a text model: integrated gradients on the embedding layer
(Captum's ``LayerIntegratedGradients`` over the encoder's ``embeddings`` module, the
Gauss-Legendre rule), from a baseline that keeps the special tokens ([CLS], [SEP]) and
replaces every other token by [PAD], with the same attention mask.

Each token's attribution is the sum over the embedding dimensions of its layer
attribution; by completeness the attributions sum to ``logit(text) - logit(baseline)``.
The completeness error ``|baseline logit + sum - logit|`` is measured for every row;
``n_steps`` doubles (from ``n_steps`` up to ``max_steps``) until it is under ``bound``
(1e-2 of a logit unless told), and a row that still misses says so (``within_bound``
False) rather than being dropped.

Word pieces are merged into words (:class:`Word`) by the fast tokenizer's word ids (a
word is what its pre-tokenizer split off: punctuation is a word of its own), each
word's attribution the sum of its pieces' (a sum keeps completeness), its text the
tokenizer's own string of the pieces (``un ##bel ##ie ##va ##bly`` -> ``unbelievably``,
lower-cased by an uncased tokenizer) and its span the characters of the original text
it came from. Special tokens belong to no word. A slow tokenizer (no word ids) merges by
WordPiece's ``##`` continuation mark and gives no spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_BOUND = 1e-2
DEFAULT_STEPS = 32
MAX_STEPS = 512


@dataclass(frozen=True)
class Word:
    """One word of a text: the tokenizer's text of its pieces, their summed attribution,
    and the ``[start, end)`` characters of the original text (None without offsets)."""

    text: str
    attribution: float
    positions: tuple[int, ...]     # its tokens' positions in ``TokenAttribution.tokens``
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class TokenAttribution:
    """One text's tokens (word pieces, special tokens included) and attributions."""

    tokens: list[str]
    attributions: np.ndarray    # [T], logit units
    logit: float
    baseline_logit: float
    completeness_error: float
    n_steps: int
    bound: float
    words: tuple[Word, ...] = ()

    @property
    def within_bound(self) -> bool:
        return self.completeness_error <= self.bound


def baseline_ids(input_ids: Any, tokenizer: Any) -> Any:
    """The same sequence with every non-special token replaced by [PAD]."""
    import torch

    special = torch.tensor([i in set(tokenizer.all_special_ids)
                            for i in input_ids[0].tolist()])
    return torch.where(special[None], input_ids, torch.full_like(input_ids,
                                                                 tokenizer.pad_token_id))


def attribute_text(network: Any, tokenizer: Any, text: str, *, max_length: int,
                   bound: float = DEFAULT_BOUND, n_steps: int = DEFAULT_STEPS,
                   max_steps: int = MAX_STEPS) -> TokenAttribution:
    """Integrated gradients of ``network(input_ids, attention_mask) -> logit`` (a
    ``TextHeadModel.token_network``) for one text."""
    import torch
    from captum.attr import LayerIntegratedGradients

    enc = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt",
                    return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)))
    ids, mask = enc["input_ids"], enc["attention_mask"]
    base = baseline_ids(ids, tokenizer)
    lig = LayerIntegratedGradients(network, network.encoder.embeddings)
    with torch.no_grad():
        logit = float(network(ids, mask)[0])
        base_logit = float(network(base, mask)[0])
    steps = n_steps
    while True:
        attrs = lig.attribute(inputs=ids, baselines=base, additional_forward_args=(mask,),
                              n_steps=steps, internal_batch_size=steps)
        per_token = attrs.sum(dim=-1)[0].detach().double().numpy()
        error = abs(base_logit + float(per_token.sum()) - logit)
        if error <= bound or steps >= max_steps:
            break
        steps *= 2
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    return TokenAttribution(tokens, per_token, logit, base_logit, error, steps, bound,
                            merge_words(enc, tokens, per_token, tokenizer))


def merge_words(enc: Any, tokens: list[str], attributions: np.ndarray,
                tokenizer: Any) -> tuple[Word, ...]:
    """The text's words from its tokens (see the module docstring)."""
    special = set(tokenizer.all_special_tokens)
    fast = bool(getattr(enc, "is_fast", False))
    ids = enc.word_ids(0) if fast else _continuation_ids(tokens, special)
    offsets = enc["offset_mapping"][0].tolist() if fast else [None] * len(tokens)
    groups: dict[int, list[int]] = {}
    for position, (word, token) in enumerate(zip(ids, tokens)):
        if word is not None and token not in special:
            groups.setdefault(word, []).append(position)
    words = []
    for positions in groups.values():
        text = tokenizer.convert_tokens_to_string([tokens[p] for p in positions]).strip()
        if not text:
            continue
        spans = [offsets[p] for p in positions if offsets[p] is not None]
        words.append(Word(text, float(attributions[positions].sum()), tuple(positions),
                          min(s for s, _ in spans) if spans else None,
                          max(e for _, e in spans) if spans else None))
    return tuple(words)


def _continuation_ids(tokens: list[str], special: set[str]) -> list[int | None]:
    """Word ids by WordPiece's ``##`` mark: a piece starting with it continues the word."""
    out: list[int | None] = []
    word = -1
    for token in tokens:
        if token in special:
            out.append(None)
            continue
        if not (token.startswith("##") and word >= 0):
            word += 1
        out.append(word)
    return out


def attribute_texts(model: Any, texts: list[str], **options: Any) -> list[TokenAttribution]:
    """:func:`attribute_text` for each text with a loaded text model's network."""
    from raigov.models.text import load_tokenizer

    tokenizer = load_tokenizer(model.encoder)
    return [attribute_text(model.token_network, tokenizer, t, max_length=model.max_length,
                           **options) for t in texts]
