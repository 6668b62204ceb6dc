"""Markdown building blocks shared by the card's front matter and its sections: inert
text, code spans, narrative fields and figure tables."""

from __future__ import annotations

from typing import Any

from raigov.reports import views as v
from raigov.reports.formatting import NOT_PROVIDED

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`", "*": "\\*",
            "_": "\\_", "[": "\\[", "]": "\\]", "#": "\\#"}


def md_text(value: Any) -> str:
    """Text as inert Markdown: HTML and Markdown syntax characters escaped, one line."""
    text = " ".join(str(value).split())
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def md_code(value: Any) -> str:
    """An identifier (metric, feature, segment) as a code span."""
    text = " ".join(str(value).split()).replace("`", "'")
    return f"`{text}`"


def narrative(value: str | None) -> str:
    return f"**{NOT_PROVIDED}** (missing from the registered card)" if value is None \
        else md_text(value)


def table(t: v.Table, *, first: str) -> list[str]:
    if t.empty:
        return ["_No figures in this window._", ""]
    lines = ["| " + " | ".join([first, *(md_code(c) for c in t.columns)]) + " |",
             "|" + "---|" * (len(t.columns) + 1)]
    for label, cells in t.rows:
        shown = [_cell(c) for c in cells]
        lines.append("| " + " | ".join([md_code(label), *shown]) + " |")
    return [*lines, ""]


def _cell(c: v.Cell) -> str:
    if not c.value:
        return ""
    text = c.value + (" \\*" if c.insufficient else "")
    return f"{text} {c.interval}".strip()
