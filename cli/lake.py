"""``raigov lake compact`` and ``raigov lake stats``: the lake's upkeep. The work is
``raigov.store.compaction``; this module parses and prints."""

from __future__ import annotations

import datetime as dt
import json

import click

from raigov.cli.support import HOME_OPTION, resolve_home, stderr_console, translate_errors


@click.group()
def lake() -> None:
    """The Parquet lake: compact closed days, show what it holds."""


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)",
                                 param_hint="--before") from None


@lake.command()
@click.option("--model", default=None, help="Only this model's partitions.")
@click.option("--before", default=None, metavar="DATE",
              help="Only days before DATE (YYYY-MM-DD; default: every closed day).")
@click.option("--target-mb", type=click.IntRange(1, 4096), default=128, show_default=True,
              help="Target size of a compacted file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HOME_OPTION
@translate_errors
def compact(model: str | None, before: str | None, target_mb: int, fmt: str,
            home: str | None) -> None:
    """Merge each closed day's segments into one file (or a few of the target size)."""
    from rich.progress import Progress

    from raigov.store.compaction import compact as run_compact

    day = _day(before)
    resolved = resolve_home(home)
    with Progress(console=stderr_console()) as progress:
        task = progress.add_task("Compacting", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=f"Compacting {label}")

        result = run_compact(resolved, model=model, before=day,
                             target_bytes=target_mb * 1024 * 1024, progress=on_progress)
    summary = {"partitions": result.partitions, "files_before": result.files_before,
               "files_after": result.files_after, "rows": result.rows}
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"Compacted {result.partitions} partitions: {result.files_before} files "
                   f"became {result.files_after} ({result.rows} rows).")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@lake.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HOME_OPTION
@translate_errors
def stats(fmt: str, home: str | None) -> None:
    """Files, rows and bytes per model and table."""
    from raigov.store.compaction import lake_stats

    rows = lake_stats(resolve_home(home))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("The lake is empty.")
        return
    header = ("model", "table", "days", "files", "rows", "size", "first", "last")
    body = [(r["model"][:18], r["table"], str(r["partitions"]), str(r["files"]),
             str(r["rows"]), _size(r["bytes"]), r["first_day"] or "-", r["last_day"] or "-")
            for r in rows]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header))]
    right = {2, 3, 4, 5}
    for line in [header, *body]:
        click.echo("  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(line, widths))).rstrip())
