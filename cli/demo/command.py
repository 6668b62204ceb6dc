"""``raigov demo``: train, serve, replay a scenario, monitor and score it."""

from __future__ import annotations

import click

from raigov.cli.support import HOME_OPTION, translate_errors
from raigov.cli.support import resolve_home as _home


@click.command()
@HOME_OPTION
@click.option("--days", default=None, type=click.IntRange(1, 366),
              help="Days to simulate (default: the scenario's; 30 in the shipped one).")
@click.option("--seed", default=None, type=int,
              help="Seed for training, traffic and labels (default: the scenario's).")
@click.option("--no-dashboard", is_flag=True, help="Seed the home, print the scoreboard and stop.")
@click.option("--rows-per-day", default=None, type=click.IntRange(min=1),
              help="Traffic per model and day (default: the scenario's).")
@click.option("--scenario", default=None, metavar="NAME|FILE",
              help="A shipped scenario's name (default, calm, smoke) or a scenario file "
                   "(default: the shipped 'default').")
@click.option("--models", default=None, metavar="M,M...",
              help="Only these of the scenario's models, with their incidents (default: "
                   "all of them).")
@click.option("--end-date", default=None, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last simulated day, YYYY-MM-DD (default: yesterday, UTC).")
@click.option("--dashboard-port", default=None, type=click.IntRange(1, 65535),
              help="Port for the dashboard (default: 8501, or a free one).")
@translate_errors
def demo(home: str | None, days: int | None, seed: int | None, no_dashboard: bool,
         rows_per_day: int | None, scenario: str | None, models: str | None, end_date,
         dashboard_port: int | None) -> None:
    """Train and register the demo models, replay a scenario (traffic, labels, incidents)
    through a real server, monitor it and score which alerts caught which incident."""
    from raigov.cli.demo.run import DemoOptions, run_demo

    run_demo(_home(home), DemoOptions(days=days, seed=seed, dashboard=not no_dashboard,
                                      rows_per_day=rows_per_day, scenario=scenario,
                                      models=tuple(m.strip() for m in models.split(",")
                                                   if m.strip()) if models else None,
                                      end=end_date.date() if end_date else None,
                                      dashboard_port=dashboard_port))
