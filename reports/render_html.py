"""Cards and reports as HTML: Jinja2 templates in ``reports/templates`` with
autoescaping on, so a model name, a comment or any data value renders as text. One
self-contained file: the stylesheet is inlined, charts are inline SVG, and the report
carries its JSON bundle in a ``<script type="application/json">`` block (escaped by
``tojson``) so it can be checked and re-read by machines."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from raigov.reports import views
from raigov.reports.charts import build_chart
from raigov.reports.formatting import (format_count, format_day, format_interval,
                                         format_value, format_when, short_hash)
from raigov import __version__

BUNDLE_SCRIPT_ID = "raigov-report"
EXPORT_ID_META = "raigov-export-id"
FACTS_SHA_META = "raigov-facts-sha256"


def _css_class(value: Any) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(value).lower())


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("raigov.reports", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(num=format_value, interval=format_interval, when=format_when,
                       day=format_day, count=format_count, short=short_hash, css=_css_class)
    env.globals.update(performance_table=views.performance_table,
                       disparity_table=views.disparity_table, group_table=views.group_table,
                       any_insufficient=views.any_insufficient, cell=views.cell,
                       headline_figures=views.headline_figures,
                       insufficient_note=views.INSUFFICIENT_NOTE, build_chart=build_chart,
                       software_version=__version__, bundle_script_id=BUNDLE_SCRIPT_ID,
                       export_id_meta=EXPORT_ID_META, facts_sha_meta=FACTS_SHA_META)
    return env


@lru_cache(maxsize=1)
def stylesheet() -> Markup:
    """The shipped stylesheet, inlined as is (our own file: markup, not data)."""
    source = resources.files("raigov.reports").joinpath("templates").joinpath("style.css")
    return Markup(source.read_text(encoding="utf-8"))


def render_card_html(card: dict[str, Any]) -> str:
    """The model card as one self-contained HTML page."""
    return environment().get_template("card.html.j2").render(card=card,
                                                             stylesheet=stylesheet())


def render_report_html(bundle: dict[str, Any]) -> str:
    """The audit report (``audit.report_bundle``) as one self-contained HTML page."""
    from raigov.reports.report_view import report_context

    return environment().get_template("report.html.j2").render(
        bundle=bundle, facts=bundle["facts"], stylesheet=stylesheet(),
        **report_context(bundle["facts"]))
