"""What spec and policy file messages share: reading a YAML file as UTF-8 text, a
pydantic location as a dotted field, and a bad value shown briefly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NOT_FOUND = "{what} file {path} not found."
NOT_UTF8 = "{what} file {path} is not UTF-8 text (line {line}): {detail}."


@dataclass(frozen=True)
class UnreadableFile(Exception):
    """A file that is missing or not UTF-8 text; ``kind`` is ``file_not_found`` or
    ``not_utf8``, ``line`` 0 when the file is missing."""

    kind: str
    line: int
    message: str


def read_utf8(path: str | Path, *, what: str) -> str:
    """The text of ``path``; :class:`UnreadableFile` names the file (``what`` says
    which kind of file: "Spec", "Policy") and, for bad bytes, the line."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise UnreadableFile("file_not_found", 0,
                             FILE_NOT_FOUND.format(what=what, path=shown)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UnreadableFile("not_utf8", line, NOT_UTF8.format(
            what=what, path=shown, line=line, detail=exc.reason)) from None


def dotted(loc: tuple[Any, ...]) -> str:
    """``("inputs", "columns", 2, "dtype")`` as ``inputs.columns[2].dtype``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def show_value(value: Any) -> str:
    """A bad value as a message shows it: YAML's words for booleans and null, the kind
    of a mapping or list, anything else cut to 60 characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
