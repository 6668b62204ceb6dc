"""YAML with positions: the parsed document plus the line of every key and item.

PyYAML's ``compose`` keeps a mark on every node; one parse gives both the data and
a map from a path (``("rules", 3, "op")``) to its 1-based line, which is what every
policy and spec file error quotes. Duplicate keys, which YAML would silently collapse to the
last one, are reported with both lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
_KEY_ON_LINE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*)\s*:")


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int, int]] = field(default_factory=list)  # path, line, first

    def line_of(self, loc: Path_) -> int:
        """The line of ``loc``, or of its nearest ancestor that the file has."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1


@dataclass(frozen=True)
class YamlSyntaxError(Exception):
    line: int
    column: int
    problem: str
    key: str | None


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; raise :class:`YamlSyntaxError` with the parser's
    line, column, problem and the key written on that line (when there is one)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from exc
    finally:
        loader.dispose()
    doc = YamlDocument(data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = ", ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
    lines = text.splitlines()
    candidates = [line]
    if exc.context_mark is not None:
        candidates.append(exc.context_mark.line + 1)
    key = None
    for number in candidates:
        match = _KEY_ON_LINE.match(lines[number - 1]) if 0 < number <= len(lines) else None
        if match:
            key = match.group(1)
            break
    return YamlSyntaxError(line, column, problem, key)


def _walk(node: yaml.Node, path: Path_, doc: YamlDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                doc.duplicates.append((path + (key,), line, seen[key]))
                continue
            seen[key] = line
            doc.lines[path + (key,)] = line
            _walk(value_node, path + (key,), doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), doc)
