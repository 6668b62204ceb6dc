"""Exporting a report: render it, write it atomically, and record a ``report.exported``
ledger event with the SHA-256 of its bytes, the facts hash, the model, the period and
the format, so the file handed to an auditor can later be checked against the ledger
(:func:`raigov.reports.verify.verify_report`)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from raigov.reports.audit import (REPORT_FORMATS, UNKNOWN_REPORT_FORMAT, ReportFormat,
                                    render_report, report_bundle, report_facts)
from raigov.reports.card import check_format
from raigov.reports.queries import REPORT_EXPORTED, jsonable
from raigov import __version__
from raigov.canonical import sha256_hex, utcnow
from raigov.reports.signing import sign_report
from raigov.store.catalog import catalog
from raigov.errors import InputError
from raigov.home import Home
from raigov.ids import uuid7
from raigov.ledger.chain import append_event

ACTOR_REQUIRED = "Exporting a report needs an actor: name the person or service exporting it."
PERIOD_EMPTY = "The period is empty: since ({since}) is not before until ({until})."
OUTPUT_IS_DIR = "The output {path} is a directory; give a file name, e.g. {path}/report.{fmt}."


@dataclass(frozen=True)
class ExportResult:
    """What was exported, and the ledger event that records it."""

    path: Path
    model: str
    version: int
    fmt: str
    since: dt.datetime | None
    until: dt.datetime | None
    sha256: str
    facts_sha256: str
    export_id: str
    ledger_seq: int
    size: int


def check_period(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InputError(PERIOD_EMPTY.format(since=since.isoformat(), until=until.isoformat()))


def _write_temporary(output: Path, data: bytes, export_id: str) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{export_id}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def export_report(home: Home, model: str, *, since: dt.datetime | None = None,
                  until: dt.datetime | None = None, fmt: ReportFormat, output: Path,
                  actor: str) -> ExportResult:
    """Render the report, write it to ``output`` and record ``report.exported``.

    The file is written to a temporary name first and renamed into place only after
    its ledger event has committed: no exported file exists without its event."""
    check_format(fmt, REPORT_FORMATS, UNKNOWN_REPORT_FORMAT)
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(ACTOR_REQUIRED)
    check_period(since, until)
    output = Path(output)
    if output.is_dir():
        raise InputError(OUTPUT_IS_DIR.format(path=output, fmt=fmt))
    facts = report_facts(home, model, since=since, until=until)
    export_id = uuid7()
    bundle = report_bundle(facts, generated_at=utcnow(), export_id=export_id)
    data = sign_report(home, render_report(bundle, fmt), fmt, bundle)
    digest = sha256_hex(data)
    tmp = _write_temporary(output, data, export_id)
    try:
        with catalog(home) as con:
            event = append_event(con, REPORT_EXPORTED, actor=actor.strip(), subject=model,
                                 payload=jsonable({
                                     "model": model, "version": facts["version"],
                                     "since": since, "until": until, "format": fmt,
                                     "report_sha256": digest, "bytes": len(data),
                                     "facts_sha256": bundle["facts_sha256"],
                                     "export_id": export_id, "file_name": output.name,
                                     "generated_at": bundle["generated_at"],
                                     "ledger_head_seq": facts["evidence"]["ledger"]["head_seq"],
                                     "software_version": __version__}))
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path=output, model=model, version=facts["version"], fmt=fmt,
                        since=since, until=until, sha256=digest,
                        facts_sha256=bundle["facts_sha256"], export_id=export_id,
                        ledger_seq=event.seq, size=len(data))
