"""CLI commands for model cards and audit reports: ``raigov card`` and ``raigov report``,
and :func:`verify_report_command` behind ``raigov audit verify --report FILE``.

``raigov.cli`` imports this module at start, so it imports nothing heavy at the top and
nothing from ``raigov.cli`` (a cycle): the shared option and error translation come from
``raigov.cli.support`` (raigov errors: message on stderr, exit 2 bad input)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors
BAD_TIME = "{value!r} is not an ISO 8601 date or time (e.g. 2024-05-01 or 2024-05-01T12:00Z)"
CARD_WRITTEN = "Model card of {model} written to {path} ({fmt})."
EXPORTED = ("Exported the {fmt} report of {model} to {path}\n"
            "  SHA-256 {sha}\n  facts  {facts}\n  ledger event {seq} (report.exported by {actor})")
RENDERING = "Rendering the {fmt} report of {model}..."


def parse_time(value: str | None) -> Any:
    """An ISO 8601 date or time as an aware UTC datetime (naive taken as UTC)."""
    if value is None:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(BAD_TIME.format(value=value)) from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _default_actor() -> str:
    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):
        return "cli"


@click.command()
@click.option("--model", required=True, help="Registered model name.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md",
              show_default=True, help="Markdown (Hugging Face metadata), HTML or JSON.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
@click.option("--version", "version", type=int, default=None,
              help="Model version (default: the latest).")
@HOME_OPTION
@translate_errors
def card(model: str, fmt: str, output: Path | None, version: int | None,
         home: str | None) -> None:
    """Export a model card built from the registry and the latest monitoring windows."""
    from raigov.reports.card import build_card

    h = resolve_home(home)
    text = build_card(h, model, fmt=fmt, version=version)  # type: ignore[arg-type]
    if fmt in ("json", "html"):
        import os

        from raigov.ledger.signing import SIGNING_KEY_ENV
        from raigov.reports.card import card_facts
        from raigov.reports.signing import sign_card

        if os.environ.get(SIGNING_KEY_ENV):
            # Signed (Ed25519) over its content and the ledger head it rests on; checked
            # offline by `raigov audit verify --report FILE --public-key KEY`.
            import json

            facts = (json.loads(text) if fmt == "json"
                     else card_facts(h, model, version=version))
            text = sign_card(h, text, fmt, facts)
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(CARD_WRITTEN.format(model=model, path=output, fmt=fmt), err=True)


@click.command()
@click.option("--model", required=True, help="Registered model name.")
@click.option("--since", default=None, help="First window start included (ISO 8601, UTC).")
@click.option("--until", default=None, help="Windows starting before this (ISO 8601, UTC).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "json"]), required=True,
              help="HTML (one self-contained file), PDF, or the JSON evidence bundle.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Report file to write.")
@HOME_OPTION
@click.option("--actor", default=None, help="Who exports (recorded in the ledger; "
                                            "default: the OS user).")
@translate_errors
def report(model: str, since: str | None, until: str | None, fmt: str, output: Path,
           home: str | None, actor: str | None) -> None:
    """Export an audit report and record it in the ledger (report.exported), so the
    file can later be checked with "raigov audit verify --report FILE"."""
    from rich.console import Console

    from raigov.reports.export import export_report

    console = Console(stderr=True)
    who = actor or _default_actor()
    with console.status(RENDERING.format(fmt=fmt.upper(), model=model), spinner="dots"):
        result = export_report(resolve_home(home), model, since=parse_time(since),
                               until=parse_time(until), fmt=fmt,  # type: ignore[arg-type]
                               output=output, actor=who)
    click.echo(EXPORTED.format(fmt=fmt.upper(), model=model, path=result.path,
                               sha=result.sha256, facts=result.facts_sha256,
                               seq=result.ledger_seq, actor=who))


def verify_report_command(home: Any, path: str | Path, *, public_key: Any = None,
                          offline: bool = False) -> int:
    """``raigov audit verify --report FILE``: print the verdict; 0 accepted, 1 rejected.
    Bad input (no such file) raises :class:`raigov.errors.InputError` (exit 2)."""
    if offline:
        from raigov.reports.signing import verify_report_offline

        verdict = verify_report_offline(Path(path), public_key)
        click.echo(verdict.describe(), err=not verdict.ok)
        return 0 if verdict.ok else 1
    from raigov.reports.verify import verify_report

    result = verify_report(home, Path(path))
    click.echo(result.describe(), err=not result.ok)
    return 0 if result.ok else 1
