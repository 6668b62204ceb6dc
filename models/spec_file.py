"""Model spec files: the fields of :class:`~raigov.models.spec.ModelSpec` written as
YAML, loaded with every problem named by file, line and field, with close matches.

Problems are collected, not raised one by one: unknown fields, wrong types and
values (pydantic's errors, translated), features or sensitive attributes that are
not input columns, intersections of attributes that are not sensitive, a classifier
without ``classes``, and what the output kind's strategy finds wrong
(``spec_problems``). YAML's loose scalars are forgiven where the meaning is clear:
``classes: [0, 1]`` and ``positive_class: 1`` become strings, and so do the
``allowed`` values of a ``str`` column.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from raigov.errors import ConfigError, did_you_mean
from raigov.file_problems import UnreadableFile, dotted, read_utf8, show_value
from raigov.models.output_kinds import OUTPUT_KINDS
from raigov.models.spec import ModelSpec
from raigov.yaml_positions import YamlDocument, YamlSyntaxError, parse_yaml

INVALID_YAML = "Invalid YAML in {path}, line {line}, column {column}{near}: {problem}."
NOT_A_MAPPING = ("Spec file {path} (line {line}, top level) must be a mapping with the "
                 "fields 'name', 'output_kind', 'inputs' and 'features', got {got}.")
DUPLICATE_KEY = ("Duplicate field '{field}' ({path}, line {line}); first at line {first}, "
                 "and YAML would silently keep only the last one.")
UNKNOWN_FIELD = ("Unknown field '{field}' ({path}, line {line}).{hint} Allowed fields "
                 "here: {allowed}.")
MISSING_FIELD = "Missing required field '{field}' ({path}, line {line})."
WRONG_TYPE = "Field '{field}' ({path}, line {line}) must be {expected}, got {got}."
INVALID_VALUE = "Invalid value {got} for field '{field}' ({path}, line {line}): {detail}{hint}"
NOT_AN_INPUT = ("Field '{field}' ({path}, line {line}) names {got}, which is not a column "
                "of inputs.columns.{hint} Columns: {columns}.")
NOT_SENSITIVE = ("Field '{field}' ({path}, line {line}) names {got}, which is not a "
                 "sensitive attribute.{hint} Sensitive: {sensitive}.")
CLASSES_MISSING = ("Missing field 'classes' ({path}, line {line}): a {kind} classifier "
                   "needs its class names, in the order of the network's outputs.")
KIND_PROBLEM = "Field '{field}' ({path}, line {line}): {detail}"
EXPECTED = {
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_SCALAR = (int, float, bool)


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec file; ``code`` is machine-readable."""

    path: str
    line: int
    field: str
    code: str
    message: str


class SpecFileError(ConfigError):
    """A spec file is wrong; ``problems`` lists every problem found."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.message for p in self.problems))


def load_spec_file(path: str | Path) -> ModelSpec:
    """Read and validate the YAML spec file ``path``; :class:`SpecFileError` names
    every problem."""
    shown = str(path)
    try:
        text = read_utf8(path, what="Spec")
    except UnreadableFile as exc:
        raise SpecFileError([SpecProblem(shown, exc.line, "", exc.kind, exc.message)]) from None
    return parse_spec(text, path=shown)


def parse_spec(text: str, *, path: str = "<spec>") -> ModelSpec:
    """Validate spec YAML ``text`` (``path`` is what messages call the file)."""
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        near = f" (near field '{exc.key}')" if exc.key else ""
        raise SpecFileError([SpecProblem(path, exc.line, exc.key or "", "yaml", INVALID_YAML.format(
            path=path, line=exc.line, column=exc.column, near=near, problem=exc.problem))]) from None
    if not isinstance(doc.data, dict):
        got = "nothing" if doc.data is None else type(doc.data).__name__
        raise SpecFileError([SpecProblem(path, 1, "", "not_a_mapping",
                                         NOT_A_MAPPING.format(path=path, line=1, got=got))])
    checker = _Checker(doc, path)
    data = _forgive_scalars(doc.data)
    checker.duplicates()
    checker.references(data)
    spec = checker.validate(data)
    if checker.problems or spec is None:
        raise SpecFileError(sorted(checker.problems, key=lambda p: p.line))
    return spec


class _Checker:
    def __init__(self, doc: YamlDocument, path: str) -> None:
        self.doc, self.path = doc, path
        self.problems: list[SpecProblem] = []

    def add(self, loc: tuple[Any, ...], code: str, template: str, **values: Any) -> None:
        line = self.doc.line_of(loc)
        field = dotted(loc)
        self.problems.append(SpecProblem(self.path, line, field, code, template.format(
            path=self.path, line=line, field=field, **values)))

    def duplicates(self) -> None:
        for loc, line, first in self.doc.duplicates:
            field = dotted(loc)
            self.problems.append(SpecProblem(self.path, line, field, "duplicate_key",
                                             DUPLICATE_KEY.format(field=field, path=self.path,
                                                                  line=line, first=first)))

    def references(self, data: dict[str, Any]) -> None:
        """Names that must point at input columns or sensitive attributes, and
        ``classes`` for a classifier."""
        columns = _column_names(data)
        if columns is not None:
            for group in ("features", "sensitive"):
                for i, name in _items(data.get(group)):
                    if isinstance(name, str) and name not in columns:
                        self.add((group, i), "not_an_input", NOT_AN_INPUT, got=repr(name),
                                 hint=did_you_mean(name, columns),
                                 columns=", ".join(columns) or "none")
        sensitive = [s for _, s in _items(data.get("sensitive")) if isinstance(s, str)]
        monitoring = data.get("monitoring")
        combos = monitoring.get("intersections") if isinstance(monitoring, dict) else None
        for i, combo in _items(combos):
            for j, name in _items(combo):
                if isinstance(name, str) and name not in sensitive:
                    self.add(("monitoring", "intersections", i, j), "not_sensitive",
                             NOT_SENSITIVE, got=repr(name), hint=did_you_mean(name, sensitive),
                             sensitive=", ".join(sensitive) or "none")
        kind = data.get("output_kind", "binary")
        if isinstance(kind, str) and kind in OUTPUT_KINDS and \
                OUTPUT_KINDS.get(kind).is_classifier and "classes" not in data:
            self.add(("output_kind",), "classes_missing", CLASSES_MISSING, kind=kind)

    def validate(self, data: dict[str, Any]) -> ModelSpec | None:
        try:
            return ModelSpec.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
                if not loc and self.problems:
                    continue  # a model-level check the precise problems above already name
                self._translate(error, loc)
            return None

    def _translate(self, error: Any, loc: tuple[Any, ...]) -> None:
        kind, value = error["type"], error.get("input")
        if kind == "extra_forbidden":
            allowed = _fields(_model_at(loc[:-1]))
            self.add(loc, kind, UNKNOWN_FIELD, hint=did_you_mean(str(loc[-1]), allowed),
                     allowed=", ".join(allowed))
        elif kind == "missing":
            self.add(loc, kind, MISSING_FIELD)
        elif kind in EXPECTED:
            self.add(loc, kind, WRONG_TYPE, expected=EXPECTED[kind], got=show_value(value))
        elif not loc:
            detail = _strip(error["msg"])
            self.add((_field_named_in(detail),), "kind_problem", KIND_PROBLEM,
                     detail=_sentence(detail))
        else:
            detail, hint = _strip(error["msg"]), ""
            if kind == "literal_error":
                choices = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
                detail = "expected one of " + ", ".join(f"'{c}'" for c in choices)
                hint = did_you_mean(str(value), choices)
            self.add(loc, kind, INVALID_VALUE, got=show_value(value), detail=_sentence(detail),
                     hint=hint)


def _forgive_scalars(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers YAML reads where the spec holds text: class names, ``positive_class``
    and the ``allowed`` values of ``str`` columns."""
    out = dict(data)
    if isinstance(out.get("classes"), list):
        out["classes"] = [str(c) if isinstance(c, _SCALAR) else c for c in out["classes"]]
    if isinstance(out.get("positive_class"), _SCALAR):
        out["positive_class"] = str(out["positive_class"])
    inputs = out.get("inputs")
    if isinstance(inputs, dict) and isinstance(inputs.get("columns"), list):
        columns = []
        for col in inputs["columns"]:
            if isinstance(col, dict) and col.get("dtype") == "str" and isinstance(
                    col.get("allowed"), list):
                col = {**col, "allowed": [str(v) if isinstance(v, _SCALAR) else v
                                          for v in col["allowed"]]}
            columns.append(col)
        out["inputs"] = {**inputs, "columns": columns}
    return out


def _column_names(data: dict[str, Any]) -> list[str] | None:
    inputs = data.get("inputs")
    columns = inputs.get("columns") if isinstance(inputs, dict) else None
    if not isinstance(columns, list):
        return None
    return [c["name"] for c in columns if isinstance(c, dict) and isinstance(c.get("name"), str)]


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("none", "str", "int", "float"))


def _model_at(parent: tuple[Any, ...]) -> type[BaseModel]:
    """The pydantic model whose fields ``parent`` holds (ModelSpec at the top)."""
    model: type[BaseModel] = ModelSpec
    for part in parent:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        inner = _inner_model(info.annotation) if info is not None else None
        if inner is None:
            return model
        model = inner
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_named_in(detail: str) -> str:
    """The top-level field a model-level message is about (its first field name,
    after the ``output_kind 'x':`` prefix of a kind's problem)."""
    body = re.sub(r"^output_kind '[^']*': ", "", detail)
    hits = [(m.start(), name) for name in ModelSpec.model_fields
            for m in [re.search(rf"\b{name}\b", body)] if m]
    return min(hits)[1] if hits else "output_kind"


def _strip(message: str) -> str:
    return re.sub(r"^(Value|Assertion) error, ", "", str(message))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."
