"""The demo fleet: the demo models trained and registered, the ``raigov serve``
process that serves their latest versions, and what incidents may do to both
(train, register and serve a new version)."""

from __future__ import annotations

import dataclasses
import tempfile
from typing import TYPE_CHECKING, Any

import pandas as pd

from raigov.errors import ConfigError
from raigov.home import Home

if TYPE_CHECKING:
    from raigov.models.demo_models import DemoModel
    from raigov.models.serving.server_process import ServerProcess
    from raigov.models.spec import ModelSpec
    from raigov.cli.demo.scenario import Monitoring, Scenario

HOME_IN_USE = ("The home {root} already holds registered models ({models}); the demo needs "
               "a fresh home: pass --home with a new directory, or remove this one.")
DEMO_ACTOR = "demo"
# The replayer's API key: what a client sending traffic, labels and logged predictions
# needs; backfill, since the demo replays past days with their event times.
REPLAYER_KEY = "demo-replayer"
REPLAYER_SCOPES = ("predict", "feedback", "log", "backfill")


class Fleet:
    """The demo's models and server. ``resources`` keeps what incidents prepare."""

    def __init__(self, home: Home, *, seed: int, monitoring: "Monitoring") -> None:
        self.home, self.seed, self.monitoring = home, seed, monitoring
        self.resources: dict[str, Any] = {}
        self.built: dict[str, "DemoModel"] = {}
        self.server: "ServerProcess | None" = None
        self._token: str | None = None     # the replayer's; never printed or written out

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
        self._register(name, demo.trained, spec=spec, reference=demo.reference)
        return demo

    def training_rows(self, name: str) -> pd.DataFrame:
        """The model's training split: input columns and ``y_true``."""
        from raigov.models.demo_models import demo_definition, with_truth

        definition = demo_definition(name)
        train = definition.split(self.seed)[0]
        return with_truth(train, train[definition.label], self.built[name].spec)

    def train_version(self, name: str, rows: pd.DataFrame, *, spec: "ModelSpec") -> Any:
        """Train a network like the demo model's on ``rows`` (``y_true`` the label)."""
        from raigov.models.demo_models import demo_definition

        definition = demo_definition(name)
        return definition.trainer.train(rows, spec=spec, seed=self.seed,
                                        options=definition.training)

    def register_version(self, name: str, *, trained: Any, spec: "ModelSpec",
                         train_rows: pd.DataFrame) -> int:
        """Register ``trained`` as the next version; its reference is a seeded sample
        of ``train_rows``, as for version 1."""
        from raigov.models.demo_models import demo_definition

        size = demo_definition(name).reference_rows
        sample = train_rows.sample(n=min(size, len(train_rows)), random_state=self.seed)
        return self._register(name, trained, spec=spec, reference=sample)

    def restore_version(self, name: str) -> int:
        """Register the model's first version again (its network, spec and reference)
        as the next version: what a team rolling a bad release back does."""
        demo = self.built[name]
        return self._register(name, demo.trained, spec=demo.spec, reference=demo.reference)

    def _register(self, name: str, trained: Any, *, spec: "ModelSpec",
                  reference: pd.DataFrame) -> int:
        """Through the path a user takes: a spec file, an artifact and a reference file
        handed to ``register_model_files`` (``raigov models register``), which computes
        the reference predictions from the artifact itself."""
        from raigov.models.demo_models import demo_definition, write_model_files
        from raigov.models.registration import register_model_files
        from raigov.models.spec import PrivacyConfig

        if spec.privacy is None:      # the demo's sensitive attributes are encrypted
            spec = spec.model_copy(update={"privacy": PrivacyConfig()})
        trainer = demo_definition(name).trainer
        with tempfile.TemporaryDirectory() as tmp:
            files = write_model_files(tmp, trainer=trainer, trained=trained, spec=spec,
                                      reference=reference)
            return register_model_files(self.home, files.spec, artifact=files.artifact,
                                        reference=files.reference, actor=DEMO_ACTOR).version

    # serving -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None, "the demo server is not running"
        return self.server.url

    @property
    def headers(self) -> dict[str, str]:
        """The replayer's ``Authorization`` header (its key is made with the server)."""
        assert self._token is not None, "the demo server was never started"
        return {"Authorization": f"Bearer {self._token}"}

    def start_server(self) -> None:
        """Start ``raigov serve``; the first start makes the replayer's key, as a user
        would with ``raigov keys create``, and every restart reuses it."""
        from raigov.keys import create_key
        from raigov.models.serving.server_process import ServerProcess, free_port

        if self._token is None:
            self._token = create_key(self.home, REPLAYER_KEY, scopes=REPLAYER_SCOPES,
                                     actor=DEMO_ACTOR).token
        self.server = ServerProcess(self.home, free_port(), token=self._token).start()

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
