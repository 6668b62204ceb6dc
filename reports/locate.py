"""Where a changed report differs from its export. The HTML and JSON forms carry their
bundle (facts, export id, generation time), so the exported bytes can be rebuilt:
from the file's own facts when they still hash to the exported facts hash (then the
visible text was edited: the first differing lines are named), else from the home's
evidence when it still gives the exported facts (then the figures in the facts were
edited: the changed values are named)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from raigov.reports.audit import (REPORT_KIND, facts_sha256, render_report,
                                    report_facts)
from raigov.canonical import sha256_hex
from raigov.home import Home
from raigov.ledger.chain import LedgerEvent

MAX_CHANGES = 5
_BUNDLE = re.compile(rb'<script type="application/json" id="raigov-report">(.*?)</script>',
                     re.S)
FACTS_EDITED = ("the facts the file carries hash to {actual}, not to {expected} as "
                "exported: figures in the facts were edited")
FACT_CHANGED = "{path}: {actual} in the file, {expected} as exported"
LINE_CHANGED = "line {line}: the file has {actual}, the export had {expected}"
PDF_CHANGED = ("the PDF's bytes differ from the export's; a PDF carries no facts to "
               "compare, so re-export it or compare it with the exported copy")
NOT_REBUILT = ("the export could not be rebuilt to show what changed (the evidence "
               "behind it has changed since: {why})")


def embedded_bundle(data: bytes) -> dict[str, Any] | None:
    """The report bundle inside an HTML or JSON report, or None."""
    found = _BUNDLE.search(data)
    raw = found.group(1) if found else data
    try:
        bundle = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return bundle if isinstance(bundle, dict) and bundle.get("kind") == REPORT_KIND else None


def changes(home: Home, data: bytes, event: LedgerEvent) -> list[str]:
    """What differs between ``data`` and the export ``event`` records."""
    fmt = event.payload.get("format")
    if fmt == "pdf" or data.startswith(b"%PDF"):
        return [PDF_CHANGED]
    bundle = embedded_bundle(data)
    if bundle is None or not isinstance(bundle.get("facts"), dict):
        return [NOT_REBUILT.format(why="the file no longer carries its facts")]
    expected = event.payload.get("facts_sha256")
    actual = facts_sha256(bundle["facts"])
    if actual == expected:
        return _line_changes(data, render_report(bundle, fmt))
    found = [FACTS_EDITED.format(actual=actual, expected=expected)]
    original = _rebuild_facts(home, event)
    if isinstance(original, str):
        return [*found, NOT_REBUILT.format(why=original)]
    return found + list(_value_changes(bundle["facts"], original, "facts"))[:MAX_CHANGES]


def _when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _rebuild_facts(home: Home, event: LedgerEvent) -> dict[str, Any] | str:
    p = event.payload
    facts = report_facts(home, p["model"], since=_when(p.get("since")),
                         until=_when(p.get("until")))
    if facts_sha256(facts) != p.get("facts_sha256"):
        return "new events since the export"
    return facts


def _value_changes(actual: Any, expected: Any, path: str):
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected)):
            yield from _value_changes(actual.get(key), expected.get(key), f"{path}.{key}")
    elif isinstance(actual, list) and isinstance(expected, list) and \
            len(actual) == len(expected):
        for i, (a, e) in enumerate(zip(actual, expected)):
            yield from _value_changes(a, e, f"{path}[{i}]")
    elif actual != expected:
        yield FACT_CHANGED.format(path=path, actual=_short(actual), expected=_short(expected))


def _short(value: Any, width: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, bytes) \
        else value.decode("utf-8", "replace")
    return text if len(text) <= width else text[:width - 1] + "…"


def _line_changes(data: bytes, rebuilt: bytes) -> list[str]:
    if sha256_hex(rebuilt) == sha256_hex(data):  # pragma: no cover - hash matched earlier
        return []
    mine, theirs = data.splitlines(), rebuilt.splitlines()
    out = []
    for number, (a, b) in enumerate(zip(mine, theirs), 1):
        if a != b:
            out.append(LINE_CHANGED.format(line=number, actual=_excerpt(a, b),
                                           expected=_excerpt(b, a)))
            if len(out) == MAX_CHANGES:
                return out
    if len(mine) != len(theirs):
        out.append(f"the file has {len(mine)} lines, the export had {len(theirs)}")
    return out


def _excerpt(line: bytes, other: bytes, width: int = 60) -> str:
    """The part of ``line`` around its first difference from ``other``, quoted."""
    start = next((i for i, (a, b) in enumerate(zip(line, other)) if a != b),
                 min(len(line), len(other)))
    lo = max(0, start - width // 2)
    text = line[lo:lo + width].decode("utf-8", "replace")
    return json.dumps(("…" if lo else "") + text, ensure_ascii=False)
