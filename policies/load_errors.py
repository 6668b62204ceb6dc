"""Policy load errors: the problem type, and the translation of pydantic's
validation errors into messages that name the file, the line and the field and say
what was expected (with close matches). Templates are module constants; tests
compare them word for word."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from raigov.policies.rules import RULE_TYPES, Rule, rule_type
from raigov.policies.schema import AppliesTo, PolicyFile, Waiver
from raigov.yaml_positions import YamlDocument
from raigov.errors import ConfigError, did_you_mean
from raigov.file_problems import dotted, show_value

UNKNOWN_FIELD = ("Unknown field '{field}' in {where} ({path}, line {line}).{hint} "
                 "Allowed fields: {allowed}.")
MISSING_FIELD = "Missing required field '{field}' in {where} ({path}, line {line})."
NEEDS_FIELD = "Missing field '{field}' in {where} ({path}, line {line}): {detail}."
WRONG_TYPE = "Field '{field}' in {where} ({path}, line {line}) must be {expected}, got {got}."
INVALID_VALUE = ("Invalid value {got} for field '{field}' in {where} ({path}, line {line}): "
                 "{detail}.{hint}")
UNKNOWN_METRIC = "Unknown metric '{metric}' in {where} ({path}, line {line}).{hint}"
NO_CLOSE_METRIC = " Run 'raigov metrics' to list every metric name."
UNKNOWN_OPERATOR = ("Unknown operator '{op}' in field 'op' of {where} ({path}, line {line}). "
                    "Valid operators: {valid}.")
UNKNOWN_RULE_TYPE = ("Unknown rule type {type} in field 'type' of {where} ({path}, line "
                     "{line}).{hint} Registered rule types: {types}.")
EXPECTED = {
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date without a time (YYYY-MM-DD)",
}
NAME_PATTERN_DETAIL = ("expected letters, digits, '_', '.', ':' or '-', starting with a letter "
                       "or digit")


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy file; ``code`` is machine-readable."""

    path: str
    line: int
    field: str
    code: str
    message: str


class PolicyError(ConfigError):
    """One or more policy files are wrong; ``problems`` lists every one."""

    def __init__(self, problems: Iterable[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.message for p in self.problems))



class ProblemCollector:
    """Collects problems for one file, translating pydantic errors into messages."""

    def __init__(self, doc: YamlDocument, path: str) -> None:
        self.doc, self.path = doc, path
        self.problems: list[PolicyProblem] = []

    def add(self, loc: tuple[Any, ...], code: str, message: str, *,
            line: int | None = None) -> None:
        _, field = self.where(loc)
        self.problems.append(PolicyProblem(self.path, line or self.doc.line_of(loc), field,
                                           code, message))

    def where(self, loc: tuple[Any, ...]) -> tuple[str, str]:
        return _where(loc, self.doc.data)

    def validate(self, model: type[BaseModel], raw: Any, prefix: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors()
            typos = _typo_targets(errors, model)
            for error in errors:
                loc = prefix + tuple(error["loc"])
                if error["type"] == "missing" and tuple(error["loc"]) in typos:
                    continue  # the unknown-field message already suggests this field
                self.add(loc, error["type"], self.message(error, loc, model))
            return None

    def rule(self, raw: Any, index: int) -> Rule | None:
        if not isinstance(raw, dict):
            return None  # reported by PolicyFile: rules[i] must be a mapping
        name = raw.get("type", "threshold")
        cls = rule_type(name) if isinstance(name, str) else None
        if cls is None:
            loc = ("rules", index, "type")
            where, _ = self.where(loc)
            self.add(loc, "unknown_rule_type", UNKNOWN_RULE_TYPE.format(
                type=show_value(name), where=where, path=self.path, line=self.doc.line_of(loc),
                hint=did_you_mean(str(name), list(RULE_TYPES)),
                types=", ".join(f"'{t}'" for t in RULE_TYPES)))
            return None
        return self.validate(cls, raw, ("rules", index))

    def message(self, error: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> str:
        return _message(error, loc, model, self)


def _message(error: Any, loc: tuple[Any, ...], model: type[BaseModel],
             ctx: ProblemCollector) -> str:
    kind, value = error["type"], error.get("input")
    where, field = ctx.where(loc)
    line = ctx.doc.line_of(loc)
    common = {"where": where, "field": field, "path": ctx.path, "line": line}
    extra = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _fields(_model_at(loc[:-1], model))
        return UNKNOWN_FIELD.format(**common, hint=did_you_mean(str(loc[-1]), allowed),
                                    allowed=", ".join(allowed))
    if kind == "missing":
        return MISSING_FIELD.format(**common)
    if kind == "needs_sensitive":
        return NEEDS_FIELD.format(**common, detail=error["msg"])
    if kind == "unknown_metric":
        return UNKNOWN_METRIC.format(**common, metric=extra["metric"],
                                     hint=extra.get("hint") or NO_CLOSE_METRIC)
    if kind == "unknown_operator":
        return UNKNOWN_OPERATOR.format(**common, op=extra["op"], valid=extra["valid"])
    if kind in EXPECTED:
        return WRONG_TYPE.format(**common, expected=EXPECTED[kind], got=show_value(value))
    detail, hint = str(error["msg"]), ""
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(extra.get("expected", "")))
        detail = "expected one of " + ", ".join(f"'{c}'" for c in choices)
        hint = did_you_mean(str(value), choices)
    elif kind == "string_pattern_mismatch":
        detail = NAME_PATTERN_DETAIL
    return INVALID_VALUE.format(**common, got=show_value(value), detail=detail, hint=hint)


def _typo_targets(errors: list[Any], model: type[BaseModel]) -> set[tuple[Any, ...]]:
    """Locs of required fields that an unknown field in the same place resembles."""
    out = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            parent = tuple(error["loc"][:-1])
            for name in difflib.get_close_matches(str(error["loc"][-1]),
                                                  _fields(_model_at(parent, model)), n=1):
                out.add(parent + (name,))
    return out


def _model_at(parent: tuple[Any, ...], model: type[BaseModel]) -> type[BaseModel]:
    """The model whose fields ``parent`` (a loc without its last part) holds."""
    if model is not PolicyFile:
        return model  # a rule type, validated on its own
    if parent == ("applies_to",):
        return AppliesTo
    if len(parent) == 2 and parent[0] == "waivers":
        return Waiver
    return PolicyFile


def _fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _where(loc: tuple[Any, ...], data: Any) -> tuple[str, str]:
    """``(where, field)`` for a loc: ``("rule 'recall-floor'", "threshold")``."""
    if len(loc) > 2 and loc[0] in ("rules", "waivers") and isinstance(loc[1], int):
        items = data.get(loc[0]) if isinstance(data, dict) else None
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        item = item if isinstance(item, dict) else {}
        if loc[0] == "rules":
            rule_id = item.get("id")
            where = f"rule '{rule_id}'" if isinstance(rule_id, str) else f"rules[{loc[1]}]"
        else:
            rule = item.get("rule")
            where = f"waivers[{loc[1]}]" + (f" (rule '{rule}')" if isinstance(rule, str) else "")
        return where, dotted(loc[2:])
    return "the policy", dotted(loc)
