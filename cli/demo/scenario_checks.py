"""Problems found in a scenario file, each with its file, line and field; and the
checks of its incidents (by their kind, then against the demo models and the days)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from raigov.cli.demo.incidents import Detection, Incident
from raigov.cli.demo.scenario_messages import (DAY_AFTER_END, DUPLICATE_NAME, MISSING_FIELD,
                                  MODEL_WITHOUT_TRAFFIC, PROBLEM, UNKNOWN_COLUMN, UNKNOWN_KIND,
                                  UNKNOWN_MODEL, BAD_VALUE,
                                  unknown_field_message)
from raigov.errors import did_you_mean
from raigov.registry import Registry

NOT_AN_INCIDENT = "an incident must be a mapping with 'kind', 'model' and 'day'"
UNKNOWN_METRIC = "unknown metric {metric!r} (see `raigov metrics`).{hint}"
NOT_ONE_METRIC = ("{metric!r} is a family, not one metric: an expectation names the metric "
                  "of the rule that must catch the incident, e.g. {examples}")


class Problems:
    """Collects every problem of one file as ``path, line, field: detail``."""

    def __init__(self, path: str, doc: Any) -> None:
        self.path, self.doc = path, doc
        self.messages: list[str] = []

    def add(self, loc: tuple[Any, ...], detail: str) -> None:
        self.messages.append(PROBLEM.format(path=self.path, line=self.doc.line_of(loc),
                                            field=_dotted(loc), detail=detail))

    def pydantic(self, exc: ValidationError, prefix: tuple[Any, ...],
                 model: type[BaseModel]) -> None:
        errors = exc.errors()
        inner = [tuple(e["loc"]) for e in errors]
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and any(o[:len(loc)] == loc and o != loc
                                                    for o in inner):
                continue  # an item's own error says more than "too few valid items"
            self.add(prefix + loc, _detail(error, loc, model))


def _detail(error: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    from raigov.file_problems import show_value

    kind = error["type"]
    if kind == "extra_forbidden":
        return unknown_field_message(str(loc[-1]), _fields_at(model, loc[:-1]))
    if kind == "missing":
        return MISSING_FIELD
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        return message
    hint = ""
    if kind == "literal_error":
        choices = [str(c) for c in (error.get("ctx") or {}).get("expected", "").split("'")[1::2]]
        hint = did_you_mean(str(error.get("input")), choices)
    return BAD_VALUE.format(detail=message, got=show_value(error.get("input"))) + hint


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        while typing.get_origin(current) in (tuple, dict, typing.Union, list) \
                or type(current).__name__ == "UnionType":
            args = [a for a in typing.get_args(current) if a not in (Ellipsis, type(None), str)]
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return list(model.model_fields)


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_incidents(data: dict[str, Any], problems: Problems,
                    kinds: Registry[type[Incident]]) -> list[Incident]:
    """Each incident validated by its kind's model, then against the scenario."""
    raw = data.get("incidents") or []
    if not isinstance(raw, list):
        return []
    days = data.get("days") if isinstance(data.get("days"), int) else None
    traffic = data.get("traffic") if isinstance(data.get("traffic"), dict) else {}
    served = traffic.get("models") if isinstance(traffic.get("models"), dict) else {}
    incidents: list[Incident] = []
    names: dict[str, int] = {}
    for index, item in enumerate(raw):
        loc = ("incidents", index)
        if not isinstance(item, dict):
            problems.add(loc, NOT_AN_INCIDENT)
            continue
        cls = kinds.find(item.get("kind"))
        if cls is None:
            problems.add(loc + ("kind",), UNKNOWN_KIND.format(
                kind=item.get("kind"), known=", ".join(sorted(kinds)),
                hint=did_you_mean(str(item.get("kind")), list(kinds))))
            continue
        try:
            incident = cls.model_validate(item)
        except ValidationError as exc:
            problems.pydantic(exc, loc, cls)
            continue
        if incident.label in names:
            problems.add(loc + ("name",), DUPLICATE_NAME.format(name=incident.label,
                                                                first=names[incident.label]))
        names.setdefault(incident.label, index)
        _check_against(incident, loc, days=days, served=set(served), problems=problems)
        incidents.append(incident)
    return incidents


def _check_against(incident: Incident, loc: tuple[Any, ...], *, days: int | None,
                   served: set[str], problems: Problems) -> None:
    from raigov.models.demo_models import DEMO_MODELS

    definition = DEMO_MODELS.get(incident.model)
    if definition is None:
        problems.add(loc + ("model",), UNKNOWN_MODEL.format(
            model=incident.model, known=", ".join(DEMO_MODELS),
            hint=did_you_mean(incident.model, list(DEMO_MODELS))))
        return
    if incident.model not in served:
        problems.add(loc + ("model",), MODEL_WITHOUT_TRAFFIC.format(model=incident.model))
    for field in ("day", "until"):
        day = getattr(incident, field)
        if day is not None and days is not None and day > days:
            problems.add(loc + (field,), DAY_AFTER_END.format(day=day, days=days))
    known = list(definition.features) + list(definition.sensitive)
    for column in incident.columns():
        if column not in known:
            problems.add(loc, UNKNOWN_COLUMN.format(model=incident.model, column=column,
                                                    known=", ".join(known),
                                                    hint=did_you_mean(column, known)))
    for index, detection in enumerate(incident.expect or ()):
        _check_detection(detection, loc + ("expect", index, "metric"), problems)


def _check_detection(detection: Detection, loc: tuple[Any, ...], problems: Problems) -> None:
    from raigov.monitors.catalog import metric_info, metric_names

    metric = detection.metric
    if metric_info(metric) is not None:
        return
    names = metric_names()
    members = [n for n in names if n.startswith(metric + ".")]
    if members:
        problems.add(loc, NOT_ONE_METRIC.format(metric=metric, examples=", ".join(members[:3])))
        return
    problems.add(loc, UNKNOWN_METRIC.format(metric=metric, hint=did_you_mean(metric, names)))
