"""Output formats of a policy check: table, json, junit, sarif, markdown.

Each format is a function ``(findings, *, policies, fail_on_insufficient) -> str``
registered with :func:`register_format` into :data:`FORMATS`; the built-ins register
through the same door, from the modules listed in ``BUILTIN_FORMATS``, and a plugin's
through it too (``policy-check --format`` offers whatever is registered). Waived findings are counted
apart from passes in every format, and insufficient data is always shown.
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol, Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats.outcome import (Counts, exit_code, headline, insufficient_warning,
                                      is_blocking, tally)
from raigov.policies.schema import Policy
from raigov.errors import ConfigError, did_you_mean
from raigov.registry import Registry

__all__ = ["FORMATS", "Counts", "Renderer", "exit_code", "headline", "insufficient_warning",
           "is_blocking", "register_format", "render", "tally"]

UNKNOWN_FORMAT = "Unknown output format '{name}'.{hint} Formats: {formats}."
BUILTIN_FORMATS = ("table", "json_report", "junit", "sarif", "markdown")


class Renderer(Protocol):
    def __call__(self, findings: Sequence[Finding], *, policies: Sequence[Policy],
                 fail_on_insufficient: bool = False) -> str: ...


FORMATS: Registry[Renderer] = Registry("output format")


def register_format(name: str) -> Callable[[Renderer], Renderer]:
    """Decorator: make a renderer available under ``name`` (``--format name``)."""
    return FORMATS.register(name)


def render(findings: Sequence[Finding], *, fmt: str, policies: Sequence[Policy],
           fail_on_insufficient: bool = False) -> str:
    """Render ``findings`` in format ``fmt``; :class:`ConfigError` for an unknown one."""
    renderer = FORMATS.find(fmt)
    if renderer is None:
        raise ConfigError(UNKNOWN_FORMAT.format(name=fmt, hint=did_you_mean(fmt, list(FORMATS)),
                                                formats=", ".join(FORMATS)))
    return renderer(findings, policies=policies, fail_on_insufficient=fail_on_insufficient)


for _module in BUILTIN_FORMATS:
    importlib.import_module(f"raigov.policies.formats.{_module}")
