"""``raigov policy-check``: judge policies on a live model's window or on a data file,
for CI gates."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from raigov.cli.support import HOME_OPTION, RegistryChoice, translate_errors
from raigov.cli.support import parse_when as _when
from raigov.cli.support import resolve_home as _home

if TYPE_CHECKING:
    from raigov.registry import Registry


def _formats() -> "Registry[Any]":
    from raigov.policies.formats import FORMATS

    return FORMATS


@click.command("policy-check")
@click.option("--policy", "policy_files", multiple=True, required=True,
              type=click.Path(dir_okay=False), help="Policy file (repeatable).")
@HOME_OPTION
@click.option("--model", default=None, help="Check a live model's latest computed window.")
@click.option("--window", default=None, help="With --model: the window starting on this date.")
@click.option("--probes", is_flag=True,
              help="With --model: run the counterfactual probes on a candidate version and "
              "judge them (see raigov probe).")
@click.option("--version", type=int, default=None,
              help="With --probes: the candidate version (default: the latest).")
@click.option("--templates", type=click.Path(dir_okay=False, exists=True), default=None,
              help="With --probes: a template file (default: the shipped templates).")
@click.option("--data", default=None, type=click.Path(dir_okay=False),
              help="Check a hold-out file (Parquet or CSV) instead.")
@click.option("--label", default=None, help="With --data: the ground-truth column.")
@click.option("--prediction", default=None, help="With --data: the predicted-class column.")
@click.option("--score", default=None, help="With --data: the score column (optional).")
@click.option("--kind", default="binary", show_default=True,
              help="With --data: the model's output kind (binary, multiclass, regression).")
@click.option("--probabilities", default=None,
              help="With --data, multiclass: prefix of the per-class probability columns.")
@click.option("--classes", default=None,
              help="With --data, multiclass: the class names in order, comma-separated.")
@click.option("--sensitive", multiple=True, help="With --data: a sensitive column (repeatable).")
@click.option("--intersection", multiple=True,
              help="With --data: sensitive columns joined by '&', e.g. sex&race (repeatable).")
@click.option("--min-group-size", default=30, show_default=True, type=int)
@click.option("--format", "fmt", default="table", show_default=True,
              type=RegistryChoice(_formats),
              help="Output format: a registered one (built-ins and plugins).")
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Write the report here (the table still prints).")
@click.option("--fail-on-insufficient", is_flag=True,
              help="Treat insufficient_data as a failure (exit 1).")
@translate_errors
def policy_check(policy_files: tuple[str, ...], home: str | None, model: str | None,
                 window: str | None, probes: bool, version: int | None,
                 templates: str | None, data: str | None, label: str | None,
                 prediction: str | None, score: str | None, kind: str,
                 probabilities: str | None, classes: str | None, sensitive: tuple[str, ...],
                 intersection: tuple[str, ...], min_group_size: int, fmt: str,
                 output: str | None, fail_on_insufficient: bool) -> None:
    """Judge policies; exit 0 when every rule passes or is waived, 1 when any fails,
    2 for bad usage or input."""
    from raigov.policies.check import check_data, check_model, check_probes
    from raigov.policies.formats import exit_code, render

    if (model is None) == (data is None):
        raise click.UsageError("give exactly one of --model M or --data FILE")
    if data is not None and not (label and prediction):
        raise click.UsageError("--data needs --label and --prediction")
    if (probes or version is not None or templates) and model is None:
        raise click.UsageError("--probes, --version and --templates need --model M")
    if (version is not None or templates) and not probes:
        raise click.UsageError("--version and --templates go with --probes")
    if probes and window:
        raise click.UsageError("--probes judges a probe run, not a window: drop --window")
    if probes:
        from rich.progress import Progress

        from raigov.cli.support import stderr_console

        with Progress(console=stderr_console(), transient=True) as progress:
            task = progress.add_task("scoring probe sentences", total=None)
            result = check_probes(_home(home), policy_files, model=model, version=version,
                                  templates=templates,
                                  on_chunk=lambda n: progress.advance(task, n))
    elif model is not None:
        day = _when(window).date() if window else None
        result = check_model(_home(home), policy_files, model=model, window=day)
    else:
        result = check_data(policy_files, data=data, label=label, prediction=prediction,
                            score=score, sensitive=sensitive, min_group_size=min_group_size,
                            intersections=tuple(tuple(i.split("&")) for i in intersection),
                            kind=kind, probabilities=probabilities,
                            classes=tuple(c.strip() for c in classes.split(",")) if classes else ())
    for note in result.notes:
        click.echo(note, err=True)
    options = {"policies": result.policies, "fail_on_insufficient": fail_on_insufficient}
    text = render(result.findings, fmt=fmt, **options)
    if output:
        from pathlib import Path

        Path(output).write_text(text)
    if fmt == "table" or output:
        from rich.console import Console

        from raigov.policies.formats.table import build_renderables

        console = Console(width=160)
        console.print(f"Checked: {result.subject}", markup=False, highlight=False)
        for part in build_renderables(result.findings, **options):
            console.print(part)
    else:
        click.echo(text)
    sys.exit(exit_code(result.findings, fail_on_insufficient=fail_on_insufficient))
