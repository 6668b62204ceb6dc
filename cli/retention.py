"""``raigov retention apply`` and ``raigov erase``: removing captured data. The work is
``raigov.models.erasure``; this module parses and prints."""

from __future__ import annotations

import json

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors


@click.group()
def retention() -> None:
    """Remove lake data older than each model's monitoring.retention_days."""


@retention.command("apply")
@click.option("--model", default=None, help="Only this model.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HOME_OPTION
@translate_errors
def apply(model: str | None, fmt: str, home: str | None) -> None:
    """Remove expired lake partitions (predictions, feedback, quarantine)."""
    from raigov.models.erasure import apply_retention

    removed = apply_retention(resolve_home(home), model=model)
    if fmt == "json":
        click.echo(json.dumps(removed, indent=2))
    elif not removed:
        click.echo("Nothing is past its retention.")
    else:
        for name, tables in removed.items():
            click.echo(f"{name}: removed " + ", ".join(f"{n} {t} day(s)" for t, n in tables.items()))


@click.command()
@click.option("--model", required=True, help="Registered model name.")
@click.option("--prediction-id", "prediction_ids", multiple=True,
              help="An id to erase (repeat for more).")
@click.option("--where", default=None, metavar="COLUMN=VALUE",
              help="Erase every prediction whose input COLUMN equals VALUE.")
@click.option("--reason", required=True, help="Why (recorded in the ledger).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HOME_OPTION
@translate_errors
def erase(model: str, prediction_ids: tuple[str, ...], where: str | None, reason: str,
          fmt: str, home: str | None) -> None:
    """Erase predictions, their labels and matching quarantine rows from the lake."""
    from raigov.models.erasure import erase as run_erase

    if bool(prediction_ids) == bool(where):
        raise click.UsageError("Give either --prediction-id (one or more) or --where, not both.")
    result = run_erase(resolve_home(home), model, prediction_ids=list(prediction_ids) or None,
                       where=where, reason=reason)
    counts = {"predictions": result.predictions, "feedback": result.feedback,
              "quarantine": result.quarantine, "partitions": result.partitions}
    if fmt == "json":
        click.echo(json.dumps(counts, indent=2))
    else:
        click.echo(f"Erased {result.predictions} predictions, {result.feedback} labels and "
                   f"{result.quarantine} quarantine rows of {model} "
                   f"({result.partitions} partitions rewritten); recorded as data.erased.")
