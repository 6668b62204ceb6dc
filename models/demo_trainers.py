"""How each demo model is trained, run and written as an artifact: one strategy object
per kind of network, so the demo never asks which model it holds.

- :data:`TABULAR`: raigov's own :class:`~raigov.models.tabular.TabularMLP` over its
  ``Preprocessor`` (the ``builtin`` artifact format; binary classifiers);
- :data:`EXPORTED`: a network over the float32 feature tensor
  (:mod:`raigov.models.demo_networks`), written as a ``torch.export`` program
  (``model.pt2``), as a user's own model would be.

``forward`` gives the raw output a served model gives (logits or values), which the
output kind's strategy turns into predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec


class DemoTrainer(Protocol):
    def train(self, rows: pd.DataFrame, *, spec: "ModelSpec", seed: int,
              options: dict[str, Any]) -> Any:
        """A trained model from ``rows`` (input columns and ``y_true``)."""

    def forward(self, trained: Any, rows: pd.DataFrame) -> np.ndarray:
        """The raw output for ``rows`` (logits, or values)."""

    def save(self, trained: Any, directory: Path) -> Path:
        """Write the artifact into ``directory``; returns what ``--artifact`` takes."""


class TabularTrainer:
    """raigov's TabularMLP; ``options`` are :class:`TrainConfig` fields."""

    def train(self, rows, *, spec, seed, options):
        from raigov.models.tabular import TrainConfig, train_tabular

        return train_tabular(rows, spec=spec, label="y_true", seed=seed,
                             config=TrainConfig(**options))

    def forward(self, trained, rows):
        from raigov.models.tabular import predict_logits

        return predict_logits(trained.module, trained.preprocessor.transform(rows), device="cpu")

    def save(self, trained, directory):
        from raigov.models.artifact import save_artifact

        return Path(save_artifact(directory, trained))


class ExportedTrainer:
    """A network over the feature tensor, exported; ``options`` are
    :class:`~raigov.models.demo_networks.NetworkConfig` fields."""

    def train(self, rows, *, spec, seed, options):
        from raigov.models.demo_networks import NetworkConfig, train_network

        return train_network(rows, spec=spec, seed=seed, config=NetworkConfig(**options))

    def forward(self, trained, rows):
        return trained.forward(rows)

    def save(self, trained, directory):
        trained.export(directory)
        return Path(directory)


TABULAR = TabularTrainer()
EXPORTED = ExportedTrainer()


class TextHeadTrainer:
    """The review-sentiment model: a logistic head on the frozen encoder's embedding of
    the ``review`` column (:mod:`raigov.models.demo_text`; embeddings cached), written
    as a ``text_head`` artifact. ``options``: :func:`~raigov.models.demo_text.train_head`
    keywords."""

    column = "review"

    def train(self, rows, *, spec, seed, options):
        from raigov.models.demo_text import embeddings_cache, train_head

        return train_head(embeddings_cache(rows[self.column].astype(str).tolist()),
                          rows["y_true"].to_numpy(), seed=seed, **options)

    def forward(self, trained, rows):
        from raigov.models.demo_text import embeddings_cache

        return trained.logits(embeddings_cache(rows[self.column].astype(str).tolist()))

    def save(self, trained, directory):
        from raigov.models.demo_text import save_head

        return save_head(trained, directory, column=self.column)


TEXT_HEAD = TextHeadTrainer()
