"""The published JSON Schemas of the card and the report bundle, and a validator that
resolves the report's reference to the card schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

SchemaName = Literal["model_card", "audit_report"]
SCHEMA_FILES: dict[str, str] = {"model_card": "model_card.schema.json",
                                "audit_report": "audit_report.schema.json"}


@cache
def load_schema(name: SchemaName) -> dict[str, Any]:
    """The schema as published (``reports/schema/<name>.schema.json``)."""
    text = resources.files(__name__).joinpath(SCHEMA_FILES[name]).read_text(encoding="utf-8")
    return json.loads(text)


def schema_validator(name: SchemaName) -> Any:
    """A ``jsonschema`` Draft 2020-12 validator for ``name``, with both schemas in its
    registry (the report's ``card`` refers to the card schema by its ``$id``).
    jsonschema is a development dependency: imported here, not at module import."""
    import jsonschema
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (load_schema(n)["$id"], Resource.from_contents(load_schema(n)))  # type: ignore[arg-type]
        for n in SCHEMA_FILES)
    return jsonschema.Draft202012Validator(load_schema(name), registry=registry,
                                           format_checker=jsonschema.FormatChecker())
