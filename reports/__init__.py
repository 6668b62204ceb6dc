"""Model cards and audit reports from live evidence (registry, metric rows, findings,
alerts, the ledger). Above ``policies`` and ``monitors`` in the import order; the
dashboard and the CLI import it.

- :func:`build_card` (Markdown with Hugging Face metadata, HTML, JSON),
- :func:`build_report` (HTML, PDF, JSON) and :func:`report_facts`,
- :func:`export_report`: writes the report and a ``report.exported`` ledger event,
- :func:`verify_report`: checks a report file against those events.
"""

from __future__ import annotations

from raigov.reports.audit import build_report, facts_sha256, report_facts
from raigov.reports.card import build_card, card_facts
from raigov.reports.export import ExportResult, export_report
from raigov.reports.verify import ReportVerification, verify_report

__all__ = ["ExportResult", "ReportVerification", "build_card", "build_report", "card_facts",
           "export_report", "facts_sha256", "report_facts", "verify_report"]
