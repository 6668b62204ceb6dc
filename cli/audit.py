"""``raigov audit``: verify the tamper-evident ledger and exported reports."""

from __future__ import annotations

import sys
from pathlib import Path

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
@click.option("--public-key", "public_key_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The Ed25519 public key (PEM) you hold: every checkpoint must be signed "
                   "by it. Without it, the key the ledger records is used (and said so).")
@click.option("--mirror", "mirror", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="A checkpoint mirror directory (RAIGOV_CHECKPOINT_MIRROR): name the first "
                   "line where it and the home's checkpoint file differ.")
@click.option("--grace", "grace_s", default=None, type=click.FloatRange(min=0),
              help="Seconds an event may stay without a signed checkpoint before it is a "
                   "failure (default $RAIGOV_CHECKPOINT_GRACE_S or 60).")
@translate_errors
def audit_verify(home: str | None, report_file: str | None, public_key_file: Path | None,
                 mirror: Path | None, grace_s: float | None) -> None:
    """Recompute the hash chain, check the signed, chained checkpoints, the registered
    artifacts and the state tables; exit 1 naming the first bad item. With --report: verify
    an exported report (with --public-key, offline: no home needed)."""
    from raigov.ledger.signing import load_public_key_file
    from raigov.ledger.verify import audit_verify as verify

    key = load_public_key_file(public_key_file) if public_key_file is not None else None
    if report_file is not None:
        from raigov.cli.reports import verify_report_command

        # With a public key the report is checked offline: no home is opened.
        sys.exit(verify_report_command(None if key is not None else _home(home), report_file,
                                       public_key=key, offline=key is not None))
    if mirror is not None and not mirror.is_dir():
        raise click.BadParameter(f"{mirror} is not a directory", param_hint="--mirror")
    result = verify(_home(home), public_key=key, mirror=mirror, grace_s=grace_s)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if result.ok:
        click.echo(result.describe())
        return
    for problem in result.problems:
        click.echo(problem.message, err=True)
    result.raise_for_problems()
