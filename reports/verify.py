"""Checking a report file against the ledger: ``verify_report`` accepts a file whose
SHA-256 matches a ``report.exported`` event of a ledger that itself verifies, and
rejects any other, saying why. For a changed file it names what changed where it can:
the report names its export (HTML meta, JSON field, PDF metadata), the export's event
holds the original hashes, and the HTML and JSON forms carry their facts, so the
original can be rebuilt and compared with the file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raigov.reports import locate
from raigov.reports.queries import export_events
from raigov.canonical import sha256_hex
from raigov.errors import InputError
from raigov.home import Home
from raigov.ledger.chain import LedgerEvent
from raigov.ledger.verify import audit_verify

REPORT_NOT_FOUND = "Report file {path} not found."
ACCEPTED = ("{path}: accepted. Its SHA-256 {sha} matches ledger event {seq} "
            "(report.exported by {actor}, {at}): the {fmt} report of model '{model}' "
            "({period}), facts {facts}.")
LEDGER_FAILED = ("{path}: rejected. The ledger it would be checked against fails "
                 "verification: {problem}")
CHANGED = ("{path}: rejected. The file was changed after it was exported: ledger event "
           "{seq} recorded SHA-256 {expected} for export {export_id} ({fmt} report of "
           "model '{model}', exported by {actor}, {at}); the file's SHA-256 is {actual}.")
UNKNOWN_EXPORT = ("{path}: rejected. It names export {export_id}, but no report.exported "
                  "event in the ledger of {home} records it, and its SHA-256 {sha} "
                  "matches none.")
NOT_EXPORTED = ("{path}: rejected. Its SHA-256 {sha} matches no report.exported event in "
                "the ledger of {home}, and it names no export: it was not exported from "
                "this home, or it was changed beyond recognition.")
_META = re.compile(rb'<meta name="raigov-export-id" content="([^"]*)"')
_PDF_EXPORT_KEY = "/raigovexportid"


@dataclass(frozen=True)
class ReportVerification:
    """The verdict on one report file. ``reason`` says why in one sentence; ``changes``
    names what differs from the export, where that can be told."""

    path: Path
    ok: bool
    sha256: str
    reason: str
    changes: tuple[str, ...] = ()
    event: LedgerEvent | None = None

    def describe(self) -> str:
        return "\n".join([self.reason, *(f"  - {c}" for c in self.changes)])


def export_id_of(data: bytes) -> str | None:
    """The export id a report names: HTML meta, JSON ``export_id`` or PDF metadata."""
    if data.startswith(b"%PDF"):
        return _pdf_export_id(data)
    found = _META.search(data[:8192])
    if found:
        return found.group(1).decode("utf-8", "replace") or None
    bundle = locate.embedded_bundle(data)
    return bundle.get("export_id") if isinstance(bundle, dict) else None


def _pdf_export_id(data: bytes) -> str | None:
    try:
        import io

        from pypdf import PdfReader
    except ImportError:  # pypdf is optional: the hash check needs nothing
        return None
    try:
        meta = PdfReader(io.BytesIO(data)).metadata or {}
    except Exception:  # a damaged PDF names nothing
        return None
    value = meta.get(_PDF_EXPORT_KEY)
    return str(value) if value else None


def _period(payload: dict[str, Any]) -> str:
    since, until = payload.get("since"), payload.get("until")
    return f"since {since or 'the first window'}, until {until or 'the last window'}"


def _accepted(path: Path, sha: str, event: LedgerEvent) -> ReportVerification:
    p = event.payload
    return ReportVerification(path, True, sha, ACCEPTED.format(
        path=path, sha=sha, seq=event.seq, actor=event.actor, at=event.at,
        fmt=p.get("format"), model=p.get("model"), period=_period(p),
        facts=p.get("facts_sha256")), event=event)


def verify_report(home: Home, path: Path | str) -> ReportVerification:
    """Accept ``path`` if its bytes are exactly those of an exported report recorded in
    a ledger that verifies; otherwise reject it, naming why (and what changed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(REPORT_NOT_FOUND.format(path=path)) from None
    sha = sha256_hex(data)
    ledger = audit_verify(home)
    if not ledger.ok:
        return ReportVerification(path, False, sha, LEDGER_FAILED.format(
            path=path, problem=ledger.problems[0].message))
    events = export_events(home)
    for event in events:
        if event.payload.get("report_sha256") == sha:
            return _accepted(path, sha, event)
    export_id = export_id_of(data)
    original = next((e for e in events if export_id and
                     e.payload.get("export_id") == export_id), None)
    if original is not None:
        p = original.payload
        reason = CHANGED.format(path=path, seq=original.seq, expected=p.get("report_sha256"),
                                export_id=export_id, fmt=p.get("format"),
                                model=p.get("model"), actor=original.actor, at=original.at,
                                actual=sha)
        return ReportVerification(path, False, sha, reason,
                                  tuple(locate.changes(home, data, original)), original)
    template = UNKNOWN_EXPORT if export_id else NOT_EXPORTED
    return ReportVerification(path, False, sha, template.format(
        path=path, export_id=export_id, home=home.root, sha=sha))


__all__ = ["ReportVerification", "export_id_of", "verify_report"]
