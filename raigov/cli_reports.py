"""CLI commands for model cards and audit reports (filled in by the reports work)."""

from __future__ import annotations

import click


@click.command()
def card() -> None:
    """Export a model card (not built yet)."""
    raise click.ClickException("model cards are not built yet")


@click.command()
def report() -> None:
    """Export an audit report (not built yet)."""
    raise click.ClickException("audit reports are not built yet")
