"""The PDF report: WeasyPrint renders the report's own HTML (print styles give it page
numbers, running headers and a table of contents with page numbers; headings become
PDF bookmarks). The export id and facts hash go into the PDF's metadata, and the PDF
is byte-for-byte reproducible from the same HTML (its identifier and dates come from
the bundle, not the clock)."""

from __future__ import annotations

from typing import Any

from raigov.canonical import sha256_hex

WEASYPRINT_MISSING = ("PDF reports need WeasyPrint (and Pango): pip install weasyprint; "
                      "HTML and JSON reports work without it.")
NO_FETCH = "raigov reports are self-contained and fetch nothing (asked for {url})"


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint's URL fetcher for reports: nothing is fetched, ever (a report is one
    self-contained file, and data must never make the renderer reach out)."""
    raise ValueError(NO_FETCH.format(url=url))


def html_to_pdf(html: str, bundle: dict[str, Any]) -> bytes:
    """``html`` (a rendered report) as PDF bytes."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its libraries missing
        from raigov.errors import ConfigError

        raise ConfigError(WEASYPRINT_MISSING) from exc
    identifier = sha256_hex(f"{bundle['facts_sha256']}:{bundle.get('export_id')}")[:32]
    document = HTML(string=html, base_url=None, url_fetcher=refuse_fetch)
    return document.write_pdf(custom_metadata=True,
                              pdf_identifier=identifier.encode("ascii"))
