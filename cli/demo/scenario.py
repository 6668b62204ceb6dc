"""Demo scenario files: how many days, how much traffic, when labels arrive, and which
incidents to inject on which day.

A scenario is YAML validated by pydantic (:class:`ScenarioFile`; each incident by the
model class of its ``kind``, from :data:`raigov.cli.demo.incidents.INCIDENT_KINDS`). Every
problem is reported at once, each with the file, the line and the field:
``scenarios/x.yaml, line 31, field 'incidents[2].day': day 42 is after the last
day of the scenario (30)``. The shipped scenarios live in ``cli/demo/scenarios/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from raigov.cli.demo.incidents import Incident, load_incident_kinds
from raigov.cli.demo.scenario_messages import (PROBLEM, SCENARIO_INVALID,
    FILE_NOT_FOUND, UNKNOWN_SCENARIO, NOT_A_MAPPING, UNKNOWN_FIELD, MISSING_FIELD, BAD_VALUE,
    UNKNOWN_KIND, UNKNOWN_MODEL, MODEL_WITHOUT_TRAFFIC, UNKNOWN_COLUMN, DAY_AFTER_END,
    DUPLICATE_NAME, WEEKLY_PATTERN, DELAY_ORDER, UNKNOWN_DRIFT_METHOD,
    unknown_field_message)  # noqa: F401  (importable from here)
from raigov.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = SCENARIOS_DIR / "default.yaml"
NOT_IN_SCENARIO = ("--models names {models}, not a model of scenario {scenario!r} "
                   "(its models: {known}).{hint}")



class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelTraffic(_Frozen):
    rows_per_day: int = Field(ge=1, le=200_000)


class Traffic(_Frozen):
    """Daily volume: ``rows_per_day`` x the weekday's factor x a log-normal day-to-day
    factor (``daily_noise`` its sigma); requests of 1..``max_rows_per_request`` rows."""

    models: dict[str, ModelTraffic] = Field(min_length=1)
    weekly_pattern: tuple[float, ...] = (1.0, 1.05, 1.1, 1.05, 1.0, 0.6, 0.5)
    daily_noise: float = Field(default=0.1, ge=0, le=1)
    max_rows_per_request: int = Field(default=32, ge=1, le=1000)

    @field_validator("models")
    @classmethod
    def _demo_models(cls, models: dict[str, ModelTraffic]) -> dict[str, ModelTraffic]:
        from raigov.models.demo_models import DEMO_MODELS

        for name in models:
            if name not in DEMO_MODELS:
                raise ValueError(UNKNOWN_MODEL.format(model=name, known=", ".join(DEMO_MODELS),
                                                      hint=did_you_mean(name, DEMO_MODELS)))
        return models

    @field_validator("weekly_pattern")
    @classmethod
    def _seven(cls, pattern: tuple[float, ...]) -> tuple[float, ...]:
        if len(pattern) != 7 or min(pattern) <= 0:
            raise ValueError(WEEKLY_PATTERN)
        return pattern


class Labels(_Frozen):
    """A ``coverage`` share of predictions get their ground truth, each after a delay
    drawn uniformly from ``delay_days``."""

    coverage: float = Field(default=0.85, gt=0, le=1)
    delay_days: tuple[float, float] = (0.5, 3.0)

    @field_validator("delay_days")
    @classmethod
    def _ordered(cls, delay: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= delay[0] <= delay[1]:
            raise ValueError(DELAY_ORDER)
        return delay


class Monitoring(_Frozen):
    """Overrides of the demo models' ``spec.monitoring`` (None keeps the model's).
    ``drift_methods`` sets the drift test of every numerical and/or categorical input
    column (``monitoring.drift`` of the spec), e.g. distances instead of p-values."""

    explain_sample: int | None = Field(default=None, ge=1)
    min_group_size: int | None = Field(default=None, ge=1)
    bootstrap: int | None = Field(default=None, ge=0)
    drift_methods: dict[Literal["numerical", "categorical"], str] = Field(default_factory=dict)

    @field_validator("drift_methods")
    @classmethod
    def _known_methods(cls, methods: dict[str, str]) -> dict[str, str]:
        from raigov.monitors.drift_fast import METHODS

        for kind, method in methods.items():
            allowed = [m.name for m in METHODS.values() if kind in m.kinds]
            if method not in allowed:
                raise ValueError(UNKNOWN_DRIFT_METHOD.format(
                    method=method, kind=kind, allowed=", ".join(allowed),
                    hint=did_you_mean(method, allowed)))
        return methods

    def apply(self, spec: "ModelSpec") -> "ModelSpec":
        """``spec`` with these overrides in its ``monitoring``."""
        from raigov.models.spec import DriftOverride
        from raigov.monitors.reference_profile import drift_columns

        update: dict[str, Any] = {k: v for k, v in self.model_dump().items()
                                  if v is not None and k != "drift_methods"}
        if self.drift_methods:
            update["drift"] = {**spec.monitoring.drift, **{
                column: DriftOverride(method=self.drift_methods[kind])
                for column, kind in drift_columns(spec).items() if kind in self.drift_methods}}
        monitoring = spec.monitoring.model_copy(update=update)
        return spec.model_copy(update={"monitoring": monitoring})


class ScenarioFile(_Frozen):
    """What a scenario file may say; incidents are checked by their own kind."""

    scenario: str = Field(min_length=1, max_length=100)
    description: str = ""
    days: int = Field(ge=1, le=366)
    seed: int = 0
    traffic: Traffic
    labels: Labels = Labels()
    monitoring: Monitoring = Monitoring()
    incidents: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    days: int
    seed: int
    traffic: Traffic
    labels: Labels
    monitoring: Monitoring
    incidents: tuple[Incident, ...]
    path: str

    @property
    def models(self) -> list[str]:
        return list(self.traffic.models)

    def with_overrides(self, *, days: int | None = None, seed: int | None = None,
                       rows_per_day: int | None = None, models: tuple[str, ...] | None = None,
                       ) -> tuple["Scenario", list[Incident]]:
        """The scenario with the command line's overrides, and the incidents that a
        shorter run leaves out (those starting after its last day). ``models``: only
        these of the scenario's models (and their incidents)."""
        days = days or self.days
        scenario = self if models is None else self._only(models)
        if scenario is not self:
            return scenario.with_overrides(days=days, seed=seed, rows_per_day=rows_per_day)
        kept = [i for i in self.incidents if i.day <= days]
        kept = [i.model_copy(update={"until": min(i.until, days)}) if i.until else i
                for i in kept]
        traffic = self.traffic
        if rows_per_day is not None:
            volume = ModelTraffic(rows_per_day=rows_per_day)
            traffic = traffic.model_copy(update={"models": {m: volume for m in traffic.models}})
        changed = dataclasses.replace(self, days=days, traffic=traffic, incidents=tuple(kept),
                                      seed=self.seed if seed is None else seed)
        return changed, [i for i in self.incidents if i.day > days]


    def _only(self, models: tuple[str, ...]) -> "Scenario":
        unknown = [m for m in models if m not in self.traffic.models]
        if unknown or not models:
            raise ConfigError(NOT_IN_SCENARIO.format(
                models=", ".join(unknown) or "(none)", scenario=self.name,
                known=", ".join(self.traffic.models),
                hint=did_you_mean(unknown[0], list(self.traffic.models)) if unknown else ""))
        traffic = self.traffic.model_copy(update={"models": {
            m: v for m, v in self.traffic.models.items() if m in models}})
        return dataclasses.replace(self, traffic=traffic, incidents=tuple(
            i for i in self.incidents if i.model in models))


class ScenarioError(ConfigError):
    """A scenario file that cannot be used; ``problems`` lists every finding."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(SCENARIO_INVALID.format(path=path, problems="\n  - ".join(problems)))


def resolve_scenario(value: str | Path | None) -> Path:
    """The file ``--scenario`` names: a shipped scenario's name (``calm``, ``default``)
    or a path; None is the shipped default. A path that exists wins over a name; a
    value that is neither raises a :class:`ConfigError` listing the shipped names."""
    if value is None:
        return DEFAULT_SCENARIO
    path = Path(value)
    if path.exists():
        return path
    names = [p.stem for p in shipped_scenarios()]
    text = str(value)
    if text in names:
        return SCENARIOS_DIR / f"{text}.yaml"
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        raise ConfigError(FILE_NOT_FOUND.format(path=text))
    raise ConfigError(UNKNOWN_SCENARIO.format(name=text, known=", ".join(names),
                                              hint=did_you_mean(text, names)))


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario: a file, or a shipped scenario's name (the shipped
    default when ``path`` is None; see :func:`resolve_scenario`)."""
    from raigov.yaml_positions import YamlSyntaxError, parse_yaml

    from raigov.cli.demo.scenario_checks import Problems, check_incidents

    shown = str(resolve_scenario(path))
    try:
        text = Path(shown).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(FILE_NOT_FOUND.format(path=shown)) from None
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ScenarioError(shown, [PROBLEM.format(path=shown, line=exc.line, field=exc.key or "",
                                                   detail=exc.problem)]) from None
    problems = Problems(shown, doc)
    if not isinstance(doc.data, dict):
        problems.add((), NOT_A_MAPPING)
        raise ScenarioError(shown, problems.messages)
    try:
        file = ScenarioFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.pydantic(exc, (), ScenarioFile)
        file = None
    incidents = check_incidents(doc.data, problems, load_incident_kinds())
    if problems.messages or file is None:
        raise ScenarioError(shown, problems.messages)
    ending = tuple(i if i.until is not None else i.model_copy(update={"until": file.days})
                   for i in incidents)     # every incident has its last day
    return Scenario(name=file.scenario, description=file.description, days=file.days,
                    seed=file.seed, traffic=file.traffic, labels=file.labels,
                    monitoring=file.monitoring, incidents=ending, path=shown)


def shipped_scenarios() -> list[Path]:
    return sorted(SCENARIOS_DIR.glob("*.yaml"))

