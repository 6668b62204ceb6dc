"""The ``raigov`` command. A thin layer: it parses options, imports the area it needs
lazily (so ``raigov --help`` is fast), calls its API and maps raigov errors to exit
codes: 0 ok, 1 a rule or verification failed, 2 bad usage, input or configuration.

Before any command runs, the group loads the plugins (entry points of group
``raigov.plugins`` and the ``plugins`` list of the home's settings file, the home
being the command's ``--home``, else ``$RAIGOV_HOME``, else ``./.raigov``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from raigov.cli.support import (HOME_OPTION, TLS_CERT_OPTION, TLS_KEY_OPTION, check_tls_pair,
                                translate_errors)
from raigov.cli.support import resolve_home as _home

if TYPE_CHECKING:
    from raigov.registry import Registry

_ARGS = "raigov.args"


class _PluginGroup(click.Group):
    """The root group; it keeps the command line so the callback can find ``--home``
    before the command itself is parsed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS] = list(args)
        return super().parse_args(ctx, args)


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when the option is used (after the
    plugins loaded), never kept by hand."""

    def __init__(self, load: Callable[[], "Registry[Any]"]) -> None:
        self._load = load
        super().__init__((), case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return tuple(self._load().names())

    @choices.setter
    def choices(self, _value: Sequence[str]) -> None:
        pass   # click.Choice assigns it once; the registry is the source


def _home_arg(args: list[str]) -> str | None:
    """The value of ``--home`` on the command line (of any command), if given."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--home" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--home="):
            return arg.split("=", 1)[1]
    return None


def _formats() -> "Registry[Any]":
    from raigov.policies.formats import FORMATS

    return FORMATS


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="raigov")
@click.pass_context
@translate_errors
def main(ctx: click.Context) -> None:
    """raigov: govern and monitor served PyTorch models."""
    from raigov.plugins import load_plugins

    load_plugins(_home(_home_arg(ctx.meta.get(_ARGS, []))))


@main.command()
@HOME_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--durability", type=click.Choice(["sync", "async"]), default="sync",
              show_default=True, help="sync: respond after the rows are fsynced to the spool.")
@click.option("--max-batch-rows", default=512, show_default=True, type=int)
@click.option("--max-wait-ms", default=0.0, show_default=True, type=float,
              help="Hold a batch open this long for more rows (0: a batch is every request "
                   "queued when the model is free).")
@click.option("--seal-interval-s", default=1.0, show_default=True, type=float,
              help="Seal the spool into Parquet segments this often.")
@click.option("--spool-cap-bytes", default=None, type=int,
              help="Refuse captures (503) once the spool holds this many bytes.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--no-capture", is_flag=True, hidden=True,
              help="Benchmarks only: predictions are not captured.")
@click.option("--pending-events", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="CloudEvents halves kept waiting for their pair, at most.")
@click.option("--pending-age", default=300.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds a CloudEvents half waits for its pair before it is quarantined.")
@click.option("--max-clock-skew-s", default=300.0, show_default=True,
              type=click.FloatRange(min=0),
              help="Event times further ahead of the server clock are refused (422); "
                   "further behind need scope backfill (403).")
@click.option("--max-body-bytes", default=4 << 20, show_default=True, type=click.IntRange(min=1),
              help="Refuse (413) a request body larger than this, before parsing it.")
@click.option("--max-rows", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Refuse (413) a request with more rows (or labels, or instances).")
@click.option("--capture-timeout-s", default=30.0, show_default=True,
              type=click.FloatRange(min=0.01),
              help="Answer 503 when capture has not acknowledged a request's rows by then.")
@click.option("--no-auth", is_flag=True,
              help="Serve without API keys (loopback --host only; logs a warning).")
@TLS_CERT_OPTION
@TLS_KEY_OPTION
@translate_errors
def serve(home: str | None, host: str, port: int, durability: str, max_batch_rows: int,
          max_wait_ms: float, seal_interval_s: float, spool_cap_bytes: int | None,
          device: str | None, no_capture: bool, pending_events: int,
          pending_age: float, max_clock_skew_s: float, max_body_bytes: int, max_rows: int,
          capture_timeout_s: float, no_auth: bool, tls_cert: str | None,
          tls_key: str | None) -> None:
    """Serve every registered model over HTTP and capture each prediction; every route
    but /healthz needs an API key (raigov keys create)."""
    from raigov.models.serving.app import ServeConfig, run_server
    from raigov.models.serving.auth import NO_AUTH_WARNING, check_serving_access
    from raigov.models.serving.limits import Limits

    check_tls_pair(tls_cert, tls_key)
    resolved = _home(home)
    check_serving_access(resolved, host=host, auth=not no_auth)
    if no_auth:
        click.echo(NO_AUTH_WARNING.format(host=host, port=port), err=True)
    cfg = ServeConfig(durability=durability, max_batch_rows=max_batch_rows,  # type: ignore[arg-type]
                      max_wait_ms=max_wait_ms, seal_interval_s=seal_interval_s,
                      spool_cap_bytes=spool_cap_bytes, device=device,
                      capture=not no_capture, pending_events=pending_events,
                      pending_age_s=pending_age, max_clock_skew_s=max_clock_skew_s,
                      limits=Limits(max_body_bytes=max_body_bytes, max_rows=max_rows),
                      capture_timeout_s=capture_timeout_s, auth=not no_auth)
    scheme = "https" if tls_cert else "http"
    click.echo(f"raigov serve on {scheme}://{host}:{port} (durability {durability})", err=True)
    run_server(resolved, host=host, port=port, config=cfg, tls_cert=tls_cert, tls_key=tls_key)


def _when(value: str | None):
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time") from exc
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


@main.group()
def monitor() -> None:
    """Compute monitors on captured traffic and read their rows."""


@monitor.command("run")
@HOME_OPTION
@click.option("--model", default=None, help="Only this model.")
@click.option("--since", default=None, help="Only windows starting at or after (ISO 8601).")
@click.option("--until", default=None, help="Only windows starting before (ISO 8601).")
@click.option("--force", is_flag=True, help="Recompute windows already computed.")
@translate_errors
def monitor_run(home: str | None, model: str | None, since: str | None, until: str | None,
                force: bool) -> None:
    """Compute every window not yet computed (or whose labels grew), then judge the
    policies in <home>/policies on it and open or resolve alerts."""
    from rich.progress import Progress

    from raigov.policies.pipeline import monitor_and_evaluate

    with Progress(console=_stderr_console()) as progress:
        task = progress.add_task("Monitoring", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=f"Monitoring {label}")

        run = monitor_and_evaluate(_home(home), model=model, since=_when(since),
                                   until=_when(until), force=force, on_progress=on_progress)
    failed = sum(f.status == "fail" for f in run.findings)
    click.echo(f"{len(run.windows)} window(s) computed, {len(run.findings)} finding(s), "
               f"{failed} failing; alerts opened {run.alerts_opened}, "
               f"auto-resolved {run.alerts_resolved}")
    note = run.future_note()
    if note:
        click.echo(note)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@main.command("policy-check")
@click.option("--policy", "policy_files", multiple=True, required=True,
              type=click.Path(dir_okay=False), help="Policy file (repeatable).")
@HOME_OPTION
@click.option("--model", default=None, help="Check a live model's latest computed window.")
@click.option("--window", default=None, help="With --model: the window starting on this date.")
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
                 window: str | None, data: str | None, label: str | None,
                 prediction: str | None, score: str | None, kind: str,
                 probabilities: str | None, classes: str | None, sensitive: tuple[str, ...],
                 intersection: tuple[str, ...], min_group_size: int, fmt: str,
                 output: str | None, fail_on_insufficient: bool) -> None:
    """Judge policies; exit 0 when every rule passes or is waived, 1 when any fails,
    2 for bad usage or input."""
    from raigov.policies.check import check_data, check_model
    from raigov.policies.formats import exit_code, render

    if (model is None) == (data is None):
        raise click.UsageError("give exactly one of --model M or --data FILE")
    if data is not None and not (label and prediction):
        raise click.UsageError("--data needs --label and --prediction")
    if model is not None:
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


@main.group()
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


@main.command()
@HOME_OPTION
def metrics(home: str | None) -> None:
    """Every metric name a monitor emits, with its meaning (built-in families and the
    plugins' own)."""
    from rich.console import Console
    from rich.table import Table

    from raigov.monitors.catalog import metrics as catalog

    table = Table("metric", "meaning", "better", "needs labels")
    for m in catalog():
        better = {True: "higher", False: "lower", None: ""}[m.higher_is_better]
        table.add_row(m.name, m.meaning, better, "yes" if m.needs_labels else "")
    Console(width=160).print(table)


@main.command()
@HOME_OPTION
@click.option("--days", default=None, type=click.IntRange(1, 366),
              help="Days to simulate (default: the scenario's; 30 in the shipped one).")
@click.option("--seed", default=None, type=int,
              help="Seed for training, traffic and labels (default: the scenario's).")
@click.option("--no-dashboard", is_flag=True, help="Seed the home, print the scoreboard and stop.")
@click.option("--rows-per-day", default=None, type=click.IntRange(min=1),
              help="Traffic per model and day (default: the scenario's).")
@click.option("--scenario", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Scenario file (default: the shipped cli/demo/scenarios/default.yaml).")
@click.option("--end-date", default=None, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last simulated day, YYYY-MM-DD (default: yesterday, UTC).")
@click.option("--dashboard-port", default=None, type=click.IntRange(1, 65535),
              help="Port for the dashboard (default: 8501, or a free one).")
@translate_errors
def demo(home: str | None, days: int | None, seed: int | None, no_dashboard: bool,
         rows_per_day: int | None, scenario: str | None, end_date, dashboard_port: int | None) -> None:
    """Train and register the demo models, replay a scenario (traffic, labels, incidents)
    through a real server, monitor it and score which alerts caught which incident."""
    from raigov.cli.demo.run import DemoOptions, run_demo

    run_demo(_home(home), DemoOptions(days=days, seed=seed, dashboard=not no_dashboard,
                                      rows_per_day=rows_per_day, scenario=scenario,
                                      end=end_date.date() if end_date else None,
                                      dashboard_port=dashboard_port))


def _register_area_commands() -> None:
    """Commands that live beside their area's CLI module (each imports lazily)."""
    from raigov.cli.dashboard import dashboard, users
    from raigov.cli.explain import explain
    from raigov.cli.keys import keys
    from raigov.cli.models import models
    from raigov.cli.monitor import monitor_show
    from raigov.cli.reports import card, report

    for command in (dashboard, users, models, card, report, explain, keys):
        main.add_command(command)
    monitor.add_command(monitor_show)


_register_area_commands()

if __name__ == "__main__":
    main()
