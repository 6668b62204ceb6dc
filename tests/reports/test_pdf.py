"""The PDF report: opens with pypdf and pdfinfo, has every section as a bookmark and
page numbers, holds the headline figures, verifies once exported; its first pages and
its charts page are rendered to PNG artefacts for a person to look at."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from raigov.reports.export import ExportResult, export_report
from raigov.reports.formatting import format_value
from raigov.reports.report_view import SECTIONS
from raigov.reports.verify import verify_report
from raigov.home import Home
from tests.reports.report_helpers import catalog_figure

MODEL = "income-classifier"
# poppler-utils (pdftoppm, pdfinfo) is installed by .ci/install: a missing one fails.


@pytest.fixture(scope="module")
def exported(module_home: Home, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    output = tmp_path_factory.mktemp("pdf") / "report.pdf"
    return export_report(module_home, MODEL, fmt="pdf", output=output, actor="auditor-1")


@pytest.fixture(scope="module")
def reader(exported: ExportResult) -> PdfReader:
    return PdfReader(io.BytesIO(exported.path.read_bytes()))


def outline_items(reader: PdfReader) -> list:
    """Every bookmark, depth first (nested lists flattened)."""
    def walk(items: list) -> list:
        out: list = []
        for item in items:
            out += walk(item) if isinstance(item, list) else [item]
        return out
    return walk(reader.outline)


def outline_titles(reader: PdfReader) -> list[str]:
    return [item.title for item in outline_items(reader)]


def test_the_pdf_opens_with_pypdf_and_names_its_export(exported: ExportResult,
                                                        reader: PdfReader) -> None:
    assert len(reader.pages) >= 10
    meta = reader.metadata
    assert meta.title == f"Audit report: {MODEL}"
    assert meta["/raigovexportid"] == exported.export_id
    assert meta["/raigovfactssha256"] == exported.facts_sha256


def test_pdfinfo_reads_the_pdf(exported: ExportResult, reader: PdfReader) -> None:
    info = subprocess.run(["pdfinfo", str(exported.path)], capture_output=True, text=True,
                          check=True).stdout
    assert f"Pages:           {len(reader.pages)}" in info
    assert "A4" in info


def test_every_section_is_a_bookmark_and_every_page_is_numbered(reader: PdfReader) -> None:
    titles = outline_titles(reader)
    assert [t for _, t in SECTIONS[1:]] == [t for t in titles if t in dict(SECTIONS).values()]
    for part in ("Model details", "Intended use", "Quantitative analyses",
                 "Ethical considerations", "Caveats and recommendations"):
        assert part in titles
    pages = len(reader.pages)
    for number in (1, pages // 2, pages):
        assert f"Page {number} of {pages}" in reader.pages[number - 1].extract_text()


def test_the_pdf_text_holds_the_headline_figures(module_home: Home, exported: ExportResult,
                                                 reader: PdfReader) -> None:
    first = reader.pages[0].extract_text()
    assert MODEL in first and "Contents" in first
    text = "\n".join(page.extract_text() for page in reader.pages)
    for metric in ("performance.accuracy", "performance.roc_auc"):
        assert format_value(catalog_figure(module_home, MODEL, metric).value) in text
    assert exported.facts_sha256 in text.replace("\n", "")


def test_an_exported_pdf_verifies_and_a_changed_one_names_its_export(
        module_home: Home, exported: ExportResult, tmp_path: Path) -> None:
    assert verify_report(module_home, exported.path).ok
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(exported.path.read_bytes() + b"\n% appended\n")
    verdict = verify_report(module_home, changed)
    assert not verdict.ok and exported.export_id in verdict.reason
    assert "changed after it was exported" in verdict.reason


def test_the_first_pages_and_the_charts_render_to_png_artefacts(
        exported: ExportResult, reader: PdfReader, artifacts_dir: Path) -> None:
    [charts] = [item for item in outline_items(reader)
                if item.title == "Metrics over the period"]
    charts_page = reader.get_destination_page_number(charts) + 1
    target = artifacts_dir / "reports"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("audit-*.png"):
        old.unlink()
    for first, last, stem in ((1, 4, "audit-report"), (charts_page, charts_page, "audit-charts")):
        subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", str(first), "-l", str(last),
                        str(exported.path), str(target / stem)], check=True)
    pngs = sorted(target.glob("audit-*.png"))
    assert len(pngs) >= 5 and all(p.stat().st_size > 10_000 for p in pngs)
