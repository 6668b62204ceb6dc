"""Digests of a rendered report's parts, signed with it, so that an offline check of a
changed HTML or PDF file names what changed even where the embedded facts were left
alone (a figure edited in the visible table, a page's text stream replaced).

HTML: one 16-hex SHA-256 prefix per line of visible text (the text a browser shows,
outside ``<script>`` and ``<style>``, whitespace collapsed); the first line that
differs is named with its text as the file now has it. PDF: one digest per indirect
object (``N G obj ... endobj``); the objects that differ are named by number.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from raigov.canonical import sha256_hex

_DIGEST = 16
_PDF_OBJECT = re.compile(rb"(?<![0-9])(\d+) (\d+) obj\b(.*?)\bendobj", re.S)
_BLOCKS = {"p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "table",
           "section", "header", "footer", "dt", "dd", "caption", "figcaption", "td", "th"}
TEXT_LINE_CHANGED = "visible text line {line} ('{text}') differs from the signed one"
TEXT_LINE_ADDED = "visible text line {line} ('{text}') was added"
TEXT_LINES_REMOVED = "visible text from line {line} on was removed ({count} line(s))"
PDF_OBJECT_CHANGED = "PDF object {number} differs from the signed one"
PDF_OBJECT_ADDED = "PDF object {number} was added"
PDF_OBJECT_REMOVED = "PDF object {number} was removed"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.lines[-1] += data


def html_text_lines(content: bytes) -> list[str]:
    parser = _Text()
    parser.feed(content.decode("utf-8", "replace"))
    parser.close()
    lines = (" ".join(line.split()) for chunk in parser.lines for line in chunk.splitlines())
    return [line for line in lines if line]


def _digest(data: str | bytes) -> str:
    return sha256_hex(data)[:_DIGEST]


def part_digests(content: bytes, fmt: str) -> dict[str, Any] | None:
    """What the signature envelope records of a rendered report (``None`` for JSON,
    whose every fact is digested already)."""
    if fmt == "html":
        return {"kind": "html-text", "digests": [_digest(t) for t in html_text_lines(content)]}
    if fmt == "pdf":
        return {"kind": "pdf-objects",
                "digests": {m.group(1).decode(): _digest(m.group(3))
                            for m in _PDF_OBJECT.finditer(content)}}
    return None


def part_changes(content: bytes, signed: dict[str, Any] | None) -> list[str]:
    """What differs between the file's parts and the signed digests (first first)."""
    if not isinstance(signed, dict):
        return []
    if signed.get("kind") == "html-text":
        return _text_changes(html_text_lines(content), list(signed.get("digests") or []))
    if signed.get("kind") == "pdf-objects":
        return _object_changes(content, dict(signed.get("digests") or {}))
    return []


def _text_changes(lines: list[str], signed: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        shown = line if len(line) <= 60 else line[:57] + "..."
        if i >= len(signed):
            return [TEXT_LINE_ADDED.format(line=i + 1, text=shown)]
        if _digest(line) != signed[i]:
            return [TEXT_LINE_CHANGED.format(line=i + 1, text=shown)]
    if len(signed) > len(lines):
        return [TEXT_LINES_REMOVED.format(line=len(lines) + 1, count=len(signed) - len(lines))]
    return []


def _object_changes(content: bytes, signed: dict[str, str]) -> list[str]:
    now = {m.group(1).decode(): _digest(m.group(3)) for m in _PDF_OBJECT.finditer(content)}
    out = []
    for number in sorted(set(now) | set(signed), key=int):
        if number not in signed:
            out.append(PDF_OBJECT_ADDED.format(number=number))
        elif number not in now:
            out.append(PDF_OBJECT_REMOVED.format(number=number))
        elif now[number] != signed[number]:
            out.append(PDF_OBJECT_CHANGED.format(number=number))
    return out
