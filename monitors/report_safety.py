"""Evidently's drift report without script injection (found by the dashboard's browser test).

Evidently embeds the report's data as JSON inside a ``<script>`` element without
escaping ``</``, so a captured value such as ``</script><script>alert(1)</script>``
ends the element early and runs (measured with evidently 0.7.23). Before the report is
built, every text value holding ``<``, ``>`` or ``&`` is swapped for an inert token;
afterwards each token is replaced by the value written as a JSON string body with
those characters as ``\\u003c``-style escapes: the report's JavaScript reads the
original value, and the HTML parser never sees a tag.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pandas as pd

from raigov.monitors.base import WindowData

TOKEN = "raigovinert{index}x"
_UNSAFE = ("<", ">", "&")
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _unsafe_values(frames: list[pd.DataFrame]) -> list[str]:
    found: set[str] = set()
    for frame in frames:
        for column in frame.columns:
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                values = frame[column].dropna().astype(str).unique()
                found.update(v for v in values if any(c in v for c in _UNSAFE))
    return sorted(found)


def _js_string_body(value: str) -> str:
    body = json.dumps(value)[1:-1]
    for char, escape in _ESCAPES.items():
        body = body.replace(char, escape)
    return body


def inert_window(window: WindowData) -> tuple[WindowData, dict[str, str]]:
    """A copy of ``window`` with unsafe text values tokenised, and token -> value."""
    values = _unsafe_values([window.frame, window.reference])
    tokens = {value: TOKEN.format(index=i) for i, value in enumerate(values)}
    if not tokens:
        return window, {}

    def swap(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.replace(tokens)

    safe = dataclasses.replace(window, frame=swap(window.frame),
                               reference=swap(window.reference))
    return safe, {token: value for value, token in tokens.items()}


def safe_report_html(window: WindowData, render: Callable[[WindowData], str]) -> str:
    """``render(window)`` (Evidently's HTML) with every unsafe value made inert."""
    safe, values = inert_window(window)
    html = render(safe)
    # longest tokens first, so token 1 never eats the start of token 12
    for token in sorted(values, key=len, reverse=True):
        html = html.replace(token, _js_string_body(values[token]))
    return html
