"""``raigov audit``: verify the tamper-evident ledger and exported reports."""

from __future__ import annotations

import sys

import click

from raigov.cli.support import HOME_OPTION, translate_errors
from raigov.cli.support import resolve_home as _home


@click.group()
def audit() -> None:
    """Verify the tamper-evident ledger."""


@audit.command("verify")
@HOME_OPTION
@click.option("--report", "report_file", type=click.Path(dir_okay=False), default=None,
              help="Check an exported report file against its report.exported ledger "
                   "event (and the ledger itself); exit 1 naming why it is rejected.")
@translate_errors
def audit_verify(home: str | None, report_file: str | None) -> None:
    """Recompute the hash chain and check the signed checkpoints; exit 1 naming the
    first bad event or checkpoint. With --report: verify an exported report."""
    from raigov.ledger.verify import audit_verify as verify

    if report_file is not None:
        from raigov.cli.reports import verify_report_command

        sys.exit(verify_report_command(_home(home), report_file))
    result = verify(_home(home))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.ok:
        click.echo(result.describe())
        return
    for problem in result.problems:
        click.echo(problem.message, err=True)
    result.raise_for_problems()
