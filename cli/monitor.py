"""``raigov monitor``: ``run`` computes and judges windows; ``show`` prints a computed
window's metric rows without the dashboard, as a table readable in 80 columns, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from raigov.cli.support import HOME_OPTION, stderr_console, translate_errors
from raigov.cli.support import parse_when as _when
from raigov.cli.support import resolve_home as _home

NO_WINDOWS = ("Model '{model}' v{version} has no computed window{which}: run "
              "`raigov monitor run --model {model}` first.{hint}")
FIELDS = ("metric", "segment", "value", "ci_low", "ci_high", "n", "status", "details")


def _day(value: str | None):
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)",
                                 param_hint="--window") from exc


def window_rows(home, *, model: str, version: int | None, day,
                metric: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header (model, version, window) and metric rows of one computed window:
    the latest, or the one starting on ``day``."""
    from raigov.errors import InputError
    from raigov.models.registry import get_model
    from raigov.monitors.store import read_metric_rows

    registered = get_model(home, model, version)
    frame = read_metric_rows(home, model=model, version=registered.version, metric_prefix=metric)
    starts = sorted({ts.date().isoformat() for ts in frame["window_start"]})
    if day is not None:
        frame = frame[frame["window_start"].dt.date == day]
    if frame.empty:
        which = "" if day is None else f" starting {day}"
        hint = f" Computed windows start on: {', '.join(starts[-5:])}." if starts else ""
        raise InputError(NO_WINDOWS.format(model=model, version=registered.version,
                                           which=which, hint=hint))
    latest = frame[frame["window_start"] == frame["window_start"].max()]
    latest = latest.sort_values(["metric", "segment"], kind="stable")
    header = {"model": model, "version": int(registered.version),
              "output_kind": registered.spec.output_kind,
              "window_start": latest["window_start"].iloc[0].isoformat(),
              "window_end": latest["window_end"].iloc[0].isoformat()}
    return header, [_row(r) for r in latest.to_dict("records")]


def _row(record: dict[str, Any]) -> dict[str, Any]:
    def number(v: Any) -> float | None:
        return None if v is None or v != v else float(v)
    return {"metric": record["metric"], "segment": record["segment"],
            "value": number(record["value"]), "ci_low": number(record["ci_low"]),
            "ci_high": number(record["ci_high"]),
            "n": None if record["n"] is None or record["n"] != record["n"] else int(record["n"]),
            "status": record["status"], "details": record["details"] or {}}


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def render_table(header: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{header['model']} v{header['version']} ({header['output_kind']}), window "
                  f"{header['window_start']} .. {header['window_end']}: {len(rows)} rows",
                  markup=False, highlight=False)
    table = Table("metric", "segment", "value", "interval", "n", "status", "details",
                  expand=False, pad_edge=False)
    for column in table.columns:
        column.overflow, column.no_wrap = "ellipsis", True
    table.columns[0].max_width, table.columns[1].max_width = 30, 22
    table.columns[6].max_width = 24
    for row in rows:
        interval = ("" if row["ci_low"] is None else f"{_fmt(row['ci_low'])}..{_fmt(row['ci_high'])}")
        details = json.dumps(row["details"], separators=(",", ":"), default=str)
        table.add_row(row["metric"], row["segment"], _fmt(row["value"]), interval,
                      "" if row["n"] is None else str(row["n"]), row["status"], details)
    console.print(table)


def render_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "details": json.dumps(row["details"], sort_keys=True,
                                                      default=str)})
    return out.getvalue()


@click.command("show")
@HOME_OPTION
@click.option("--model", required=True, help="The model.")
@click.option("--version", type=int, default=None, help="Its version (default: the latest).")
@click.option("--window", default=None, help="The window starting on this date (YYYY-MM-DD); "
              "default: the latest computed.")
@click.option("--metric", default=None, help="Only metrics starting with this, e.g. fairness.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@translate_errors
def monitor_show(home: str | None, model: str, version: int | None, window: str | None,
                 metric: str | None, fmt: str) -> None:
    """Print one computed window's metric rows (metric, segment, value, interval, n,
    status, details): the latest window by default."""
    where = _home(home, must_exist=True)
    header, rows = window_rows(where, model=model, version=version, day=_day(window),
                               metric=metric)
    if fmt == "json":
        click.echo(json.dumps({**header, "rows": rows}, indent=2, default=str))
    elif fmt == "csv":
        click.echo(render_csv(rows), nl=False)
    else:
        render_table(header, rows)


@click.group()
def monitor() -> None:
    """Compute monitors on captured traffic and read their rows."""


EVERY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BAD_EVERY = "{value!r} is not an interval: give a number and a unit, e.g. 30s, 15m, 1h or 1d"
JITTER = 0.1   # each pause is the interval give or take up to 10 %, so runs of many homes spread


def parse_every(value: str | None) -> float | None:
    """``15m`` -> 900.0 seconds (units s, m, h, d); None stays None."""
    if value is None:
        return None
    text = value.strip().lower()
    unit = text[-1:] if text[-1:] in EVERY_UNITS else ""
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * EVERY_UNITS[unit or "s"]
    except ValueError:
        raise click.BadParameter(BAD_EVERY.format(value=value), param_hint="--every") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise click.BadParameter(BAD_EVERY.format(value=value), param_hint="--every")
    return seconds


class _Stop:
    """SIGTERM and SIGINT ask the run to stop: the window being committed finishes, the
    rest stay pending, the lock is released and the command exits 0."""

    def __init__(self) -> None:
        import threading

        self.event = threading.Event()
        self.signal: str | None = None

    def install(self) -> None:
        import signal

        def handler(signum: int, frame: object) -> None:
            self.signal = signal.Signals(signum).name
            self.event.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def __call__(self) -> bool:
        return self.event.is_set()


def _one_run(home, *, model, since, until, force, wait, jobs, stop, engine=None) -> None:
    from rich.progress import Progress

    from raigov.policies.pipeline import monitor_and_evaluate

    _settle_spool(home)
    busy: list[str] = []
    with Progress(console=stderr_console(), transient=stop is not None) as progress:
        task = progress.add_task("Monitoring", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=f"Monitoring {label}")

        def on_busy(name: str, holder: str) -> None:
            from raigov.monitors.runner import MODEL_BUSY

            busy.append(MODEL_BUSY.format(model=name, holder=holder))

        run = monitor_and_evaluate(home, model=model, since=since, until=until, force=force,
                                   on_progress=on_progress, wait=wait, jobs=jobs,
                                   on_busy=on_busy, should_stop=stop, engine=engine)
    for line in busy:
        click.echo(line)
    failed = sum(f.status == "fail" for f in run.findings)
    click.echo(f"{len(run.windows)} window(s) computed, {len(run.findings)} finding(s), "
               f"{failed} failing; alerts opened {run.alerts_opened}, "
               f"auto-resolved {run.alerts_resolved}")
    note = run.future_note()
    if note:
        click.echo(note)


def _settle_spool(home) -> None:
    """Rows a running server acknowledged wait in its spool for up to a second: wait for
    them to be sealed, so the run sees every prediction and label sent before it."""
    from raigov.models.capture.sealer import wait_until_sealed

    with stderr_console().status("Waiting for the spool to be sealed"):
        pending = wait_until_sealed(home)
    if pending:
        click.echo(f"Note: {len(pending)} spool file(s) not sealed after 15 s (a server "
                   f"with a long --seal-interval-s?): their rows count in a later run.",
                   err=True)


@monitor.command("run")
@HOME_OPTION
@click.option("--model", default=None, help="Only this model.")
@click.option("--since", default=None, help="Only windows starting at or after (ISO 8601).")
@click.option("--until", default=None, help="Only windows starting before (ISO 8601).")
@click.option("--force", is_flag=True, help="Recompute windows already computed.")
@click.option("--wait", is_flag=True, help="Wait for a model another monitor run is "
              "working on (default: skip it, saying so).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Compute this many windows at once, in worker processes (commits stay "
              "one at a time, in window order).")
@click.option("--every", default=None, metavar="INTERVAL",
              help="Run forever, once every INTERVAL (30s, 15m, 1h, 1d; give or take 10 %), "
              "until SIGTERM or Ctrl-C.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True, help="Where window counts are computed: DuckDB in this "
              "process, or Spark SQL over the lake (see \"Scaling out\").")
@click.option("--spark-master", default=None, metavar="URL",
              help="The Spark master of --engine spark (default: local[2]).")
@translate_errors
def monitor_run(home: str | None, model: str | None, since: str | None, until: str | None,
                force: bool, wait: bool, jobs: int, every: str | None, engine: str,
                spark_master: str | None) -> None:
    """Compute every window not yet computed (or whose labels grew), then judge the
    policies in <home>/policies on it and open or resolve alerts. Each window's rows,
    findings, alerts and ledger events commit together; one run at a time per model."""
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master needs --engine spark")
    if engine == "spark" and jobs > 1:
        raise click.UsageError("--jobs applies to the DuckDB engine; Spark spreads a "
                               "window's work over its own executors")
    interval = parse_every(every)
    since_at, until_at, where = _when(since), _when(until), _home(home, must_exist=True)
    spark = _spark_engine(spark_master) if engine == "spark" else None
    try:
        _runs(where, model=model, since=since_at, until=until_at, force=force, wait=wait,
              jobs=jobs, interval=interval, every=every, engine=spark)
    finally:
        if spark is not None:
            spark.close()


def _spark_engine(master: str | None):
    from raigov.monitors.spark_engine import DEFAULT_MASTER, SparkEngine

    with stderr_console().status(f"Starting Spark ({master or DEFAULT_MASTER})"):
        return SparkEngine(master)


def _runs(where, *, model, since, until, force, wait, jobs, interval, every, engine) -> None:
    since_at, until_at = since, until
    if interval is None:
        _one_run(where, model=model, since=since_at, until=until_at, force=force, wait=wait,
                 jobs=jobs, stop=None, engine=engine)
        return
    import datetime as dt
    import random

    stop = _Stop()
    stop.install()
    click.echo(f"Monitoring every {every} (give or take {JITTER:.0%}); SIGTERM or Ctrl-C "
               f"stops.")
    while not stop():
        started = dt.datetime.now(dt.UTC)
        click.echo(f"[{started:%Y-%m-%d %H:%M:%S}Z] run")
        _one_run(where, model=model, since=since_at, until=until_at, force=force, wait=wait,
                 jobs=jobs, stop=stop, engine=engine)
        pause = interval * (1 + random.uniform(-JITTER, JITTER))
        stop.event.wait(pause)
    click.echo(f"Stopped on {stop.signal}: locks released.")


monitor.add_command(monitor_show)
