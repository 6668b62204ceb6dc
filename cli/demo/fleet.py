"""The demo fleet: the demo models trained and registered, the ``raigov serve``
process that serves their latest versions, and what incidents may do to both
(train, register and serve a new version)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError
from raigov.home import Home

if TYPE_CHECKING:
    from raigov.models.demo_models import DemoModel
    from raigov.models.server_process import ServerProcess
    from raigov.models.spec import ModelSpec
    from raigov.models.tabular import TrainedModel
    from raigov.cli.demo.scenario import Monitoring, Scenario

HOME_IN_USE = ("The home {root} already holds registered models ({models}); the demo needs "
               "a fresh home: pass --home with a new directory, or remove this one.")
DEMO_ACTOR = "demo"


class Fleet:
    """The demo's models and server. ``resources`` keeps what incidents prepare."""

    def __init__(self, home: Home, *, seed: int, monitoring: "Monitoring") -> None:
        self.home, self.seed, self.monitoring = home, seed, monitoring
        self.resources: dict[str, Any] = {}
        self.built: dict[str, "DemoModel"] = {}
        self.server: "ServerProcess | None" = None

    # models ------------------------------------------------------------------------
    def demo_model(self, name: str) -> "DemoModel":
        return self.built[name]

    def train_demo_model(self, name: str) -> "DemoModel":
        """Train version 1 with the scenario's monitoring overrides and register it."""
        from raigov.models.demo_models import build_demo_model

        demo = build_demo_model(name, seed=self.seed)
        spec = self.monitoring.apply(demo.spec)
        demo = dataclasses.replace(demo, spec=spec)
        self.built[name] = demo
        self._register(demo.trained, spec=spec, reference=demo.reference)
        return demo

    def training_rows(self, name: str) -> pd.DataFrame:
        """The model's training split: input columns and ``y_true``."""
        from raigov.models.demo_models import DEMO_MODELS

        definition = DEMO_MODELS[name]
        train = definition.split(self.seed)[0]
        rows = train[self.built[name].spec.input_columns].copy()
        rows["y_true"] = train[definition.label].to_numpy(dtype=np.int64)
        return rows

    def train_version(self, name: str, rows: pd.DataFrame, *, spec: "ModelSpec") -> "TrainedModel":
        """Train a network like the demo model's on ``rows`` (``y_true`` the label)."""
        from raigov.models.demo_models import DEMO_MODELS
        from raigov.models.tabular import TrainConfig, train_tabular

        config = TrainConfig(**DEMO_MODELS[name].training)
        return train_tabular(rows, spec=spec, label="y_true", seed=self.seed, config=config)

    def register_version(self, name: str, *, trained: "TrainedModel", spec: "ModelSpec",
                         train_rows: pd.DataFrame) -> int:
        """Register ``trained`` as the next version; its reference is a seeded sample
        of ``train_rows`` with its own scores, as for version 1."""
        from raigov.models.demo_models import REFERENCE_ROWS

        sample = train_rows.sample(n=min(REFERENCE_ROWS, len(train_rows)), random_state=self.seed)
        reference = sample[spec.input_columns].reset_index(drop=True)
        reference["y_true"] = sample["y_true"].to_numpy(dtype=np.int64)
        reference["score"] = trained.predict_proba(reference)
        reference["label"] = (reference["score"] >= spec.threshold).astype(np.int64)
        return self._register(trained, spec=spec, reference=reference)

    def _register(self, trained: "TrainedModel", *, spec: "ModelSpec",
                  reference: pd.DataFrame) -> int:
        from raigov.models.artifact import save_artifact
        from raigov.models.registry import register_model

        with tempfile.TemporaryDirectory() as tmp:
            save_artifact(Path(tmp), trained)
            return register_model(self.home, spec, artifact=Path(tmp), reference=reference,
                                  actor=DEMO_ACTOR).version

    # serving -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None, "the demo server is not running"
        return self.server.url

    def start_server(self) -> None:
        from raigov.models.server_process import ServerProcess, free_port

        self.server = ServerProcess(self.home, free_port()).start()

    def restart_server(self) -> None:
        """Stop the server (it seals its spool) and start one that loads the latest
        version of every model."""
        self.stop_server()
        self.start_server()

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def check_fresh_home(home: Home) -> None:
    from raigov.models.registry import list_models

    registered = sorted(m.name for m in list_models(home))
    if registered:
        raise ConfigError(HOME_IN_USE.format(root=home.root, models=", ".join(registered)))


def prepare_fleet(home: Home, scenario: "Scenario", *, on_model: Any = None) -> Fleet:
    """Train and register every model of the scenario, then let each incident prepare
    (a biased version is trained here, registered on its day)."""
    fleet = Fleet(home, seed=scenario.seed, monitoring=scenario.monitoring)
    for name in scenario.models:
        fleet.train_demo_model(name)
        if on_model:
            on_model(name)
    for incident in scenario.incidents:
        incident.prepare(fleet)
        if on_model:
            on_model(incident.label)
    return fleet
