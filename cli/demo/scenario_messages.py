"""The messages of scenario files, as constants that tests compare word for word; kept
apart so that the loader (``scenario``) and the incident checks (``scenario_checks``)
both import them without importing each other."""

from __future__ import annotations

from raigov.errors import did_you_mean

PROBLEM = "{path}, line {line}, field '{field}': {detail}"
SCENARIO_INVALID = "Invalid scenario file {path}:\n  - {problems}"
FILE_NOT_FOUND = "Scenario file {path} not found."
UNKNOWN_SCENARIO = ("{name!r} is neither a shipped scenario nor a file; shipped scenarios: "
                    "{known}.{hint}")
NOT_A_MAPPING = "the file must hold a mapping with 'scenario', 'days' and 'traffic'"
UNKNOWN_FIELD = "unknown field; allowed: {allowed}.{hint}"
MISSING_FIELD = "this required field is missing"
BAD_VALUE = "{detail} (got {got})"
UNKNOWN_KIND = "unknown incident kind {kind!r}; known kinds: {known}.{hint}"
UNKNOWN_MODEL = "unknown demo model {model!r}; demo models: {known}.{hint}"
MODEL_WITHOUT_TRAFFIC = "model {model!r} has no traffic: add it under traffic.models"
UNKNOWN_COLUMN = "{model!r} has no input column {column!r}; columns: {known}.{hint}"
DAY_AFTER_END = "day {day} is after the last day of the scenario ({days})"
DUPLICATE_NAME = "incident name {name!r} is used twice (first by incidents[{first}])"
WEEKLY_PATTERN = "give 7 positive factors, Monday to Sunday"
DELAY_ORDER = "give [shortest, longest] with 0 <= shortest <= longest"
UNKNOWN_DRIFT_METHOD = ("unknown drift method {method!r} for {kind} columns; allowed: "
                        "{allowed}.{hint}")


def unknown_field_message(name: str, allowed: list[str]) -> str:
    return UNKNOWN_FIELD.format(allowed=", ".join(allowed), hint=did_you_mean(name, allowed))
