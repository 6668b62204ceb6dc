"""CLI commands for the dashboard and its users (filled in by the dashboard work)."""

from __future__ import annotations

import click


@click.command()
def dashboard() -> None:
    """Start the Streamlit dashboard (not built yet)."""
    raise click.ClickException("the dashboard is not built yet")


@click.group()
def users() -> None:
    """Manage dashboard users (not built yet)."""
