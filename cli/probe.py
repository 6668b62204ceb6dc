"""``raigov probe``: counterfactual identity probes of a text model before release (the
work is ``raigov.monitors.probes``; this module parses, shows progress and prints)."""

from __future__ import annotations

import json
from typing import Any

import click

from raigov.cli.support import HOME_OPTION, resolve_home, stderr_console, translate_errors

HEADER = "Probes of {model} v{version}: {sentences} sentences from {templates} templates"
RECORDED = "Recorded: the probe run of v{version} at {at}."
COLUMNS = ("group", "gap", "95% interval", "mean score")


@click.command()
@click.option("--model", required=True, help="Registered text model name.")
@click.option("--version", type=int, default=None, help="Version to probe (default: latest).")
@click.option("--templates", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Template file: one sentence a line, each with {identity} once.")
@click.option("--no-record", is_flag=True, help="Print only; write no metric rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HOME_OPTION
@translate_errors
def probe(model: str, version: int | None, templates: str | None, no_record: bool,
          fmt: str, home: str | None) -> None:
    """Score template sentences that differ only in the identity term and report each
    group's fairness.counterfactual_gap (recorded as metric rows policies judge)."""
    summary = probe_model(resolve_home(home), model, version=version, templates=templates,
                          record=not no_record)
    click.echo(json.dumps(summary, indent=2) if fmt == "json" else render(summary))


def probe_model(home: Any, model: str, *, version: int | None, templates: str | None,
                record: bool) -> dict[str, Any]:
    """Run (and record) the probes with a progress bar on stderr; a summary dict."""
    from rich.progress import Progress

    from raigov.models.registry import get_model
    from raigov.monitors.probes import prepare_probes, record_probes, run_probes

    registered = get_model(home, model, version)
    _, sentences = prepare_probes(registered.spec, templates=templates)  # usage errors first
    loaded = registered.load()
    with Progress(console=stderr_console(), transient=True) as progress:
        task = progress.add_task("scoring probe sentences", total=len(sentences))
        result = run_probes(loaded, registered.spec, templates=templates,
                            on_chunk=lambda n: progress.advance(task, n))
    at = record_probes(home, model=model, version=registered.version,
                       result=result) if record else None
    return {"model": model, "version": registered.version,
            "sentences": len(result.sentences),
            "templates": int(result.sentences["template"].nunique()),
            "recorded_at": at.isoformat() if at else None,
            "rows": [{"metric": r.metric, "segment": r.segment, "value": r.value,
                      "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n,
                      "details": r.details} for r in result.rows]}


def render(summary: dict[str, Any]) -> str:
    """A table under 80 columns: group, gap, interval, mean score."""
    lines = [HEADER.format(**summary), ""]
    cells = [(r["segment"].split("=", 1)[1], f"{r['value']:+.4f}",
              _interval(r), f"{r['details']['mean_score']:.4f}") for r in summary["rows"]]
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(4)]
    for row in [COLUMNS, *cells]:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(row, widths))))
    lines += ["", "gap: the group's mean score minus the mean of all groups, same templates"]
    if summary["recorded_at"]:
        lines.append(RECORDED.format(version=summary["version"], at=summary["recorded_at"]))
    return "\n".join(lines)


def _interval(row: dict[str, Any]) -> str:
    if row["ci_low"] is None:
        return "-"
    return f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
