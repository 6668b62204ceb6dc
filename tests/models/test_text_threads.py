"""One process tokenises from several threads at once: ``raigov serve`` counts a
request's tokens during validation (no padding, nothing cut) while its micro-batch
thread embeds another request's texts (padded, cut at ``max_length``). A Hugging Face
fast tokenizer keeps its padding and truncation settings on the shared object, so
without a lock one call can run with the other's settings ("Unable to create tensor"
errors, found by the default demo under load)."""

from __future__ import annotations

import threading

import numpy as np

from raigov.models import demo_text
from raigov.models.text import embed, load_tokenizer, token_counts


def test_token_counts_and_embeddings_from_two_threads_at_once_stay_right() -> None:
    texts = demo_text.reviews()["text"].tolist()[:64]
    tokenizer = load_tokenizer(demo_text.ENCODER)
    truth = np.array([len(tokenizer(t)["input_ids"]) for t in texts])
    assert len(set(truth.tolist())) > 10            # lengths vary, so padding matters
    errors: list[BaseException] = []
    counted: list[np.ndarray] = []
    stop = threading.Event()

    def count() -> None:
        try:
            while not stop.is_set():
                counted.append(token_counts(demo_text.ENCODER, texts))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        for _ in range(6):
            vectors = embed(demo_text.ENCODER, texts, max_length=16, batch_size=8)
            assert vectors.shape == (len(texts), 384)
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert counted, "the counting thread never finished a pass"
    for found in counted:           # never cut at the embedder's 16 tokens
        np.testing.assert_array_equal(found, truth)
