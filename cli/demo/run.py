"""``raigov demo``: a fleet of the two demo models living through a scenario.

Stages, each with a progress bar and a measured time: train and register the models
(and whatever the incidents need), install the policies, replay held-out rows as days
of traffic through a real ``raigov serve`` process (incidents applied on their days),
send the labels later, compute every daily window's monitors and judge the policies,
then print and write the scoreboard (``raigov.cli.demo.scoreboard``) and, unless told not
to, start the dashboard. Dates count back from ``end`` (default: yesterday, UTC).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from raigov.cli.demo.fleet import Fleet
from raigov.cli.demo.scenario import Scenario
from raigov.home import Home

if TYPE_CHECKING:
    from raigov.policies.pipeline import GovernanceRun
    from raigov.cli.demo.replay import ReplayLog
    from raigov.cli.demo.traffic import PlannedRequest

console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
HEADER = ("[bold]raigov demo[/] in {root}: scenario [bold]{name}[/] ({days} days, "
          "{start} to {end}, seed {seed})")
LEFT_OUT = "  incident {name!r} (day {day}) is after the last day ({days}): not injected"


@dataclass(frozen=True)
class DemoOptions:
    """What ``raigov demo`` was asked for; None takes the scenario's value."""

    days: int | None = None
    seed: int | None = None
    dashboard: bool = True
    rows_per_day: int | None = None        # every model's daily volume
    end: dt.date | None = None             # last simulated day (default: yesterday, UTC)
    scenario: str | Path | None = None     # default: cli/demo/scenarios/default.yaml
    dashboard_port: int | None = None
    concurrency: int = 4
    models: tuple[str, ...] | None = None  # only these of the scenario's models


@dataclass
class DemoResult:
    scoreboard: dict[str, Any]
    scoreboard_path: str
    timings: dict[str, float] = field(default_factory=dict)


class _Stages:
    """Wall-clock seconds per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 2)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def run_demo(home: Home, opts: DemoOptions) -> DemoResult:
    from raigov.cli.demo.fleet import check_fresh_home
    from raigov.cli.demo.install import install_policies
    from raigov.cli.demo.scenario import load_scenario

    scenario, left_out = load_scenario(opts.scenario).with_overrides(
        days=opts.days, seed=opts.seed, rows_per_day=opts.rows_per_day, models=opts.models)
    end = opts.end or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=scenario.days - 1)
    home.ensure()
    check_fresh_home(home)
    console.print(HEADER.format(root=home.root, name=scenario.name, days=scenario.days,
                                start=start, end=end, seed=scenario.seed))
    from raigov.cli.demo.data_key import KEY_LINE, ensure_demo_data_key
    from raigov.cli.demo.signing_key import SIGNING_KEY_LINE, ensure_demo_signing_key
    from raigov.ledger.signing import SIGNING_KEY_ENV
    from raigov.store.parquet_crypto import DATA_KEY_FILE_ENV

    key_path = ensure_demo_data_key(home)
    if key_path is not None:
        console.print(KEY_LINE.format(path=key_path, env=DATA_KEY_FILE_ENV))
    console.print(SIGNING_KEY_LINE.format(path=ensure_demo_signing_key(home),
                                          env=SIGNING_KEY_ENV))
    for incident in left_out:
        console.print(LEFT_OUT.format(name=incident.label, day=incident.day, days=scenario.days))
    stages = _Stages()
    with stages.stage("train"):
        fleet = train_fleet(home, scenario)
    with stages.stage("policies"):
        install_policies(home, end=end)
    log, labels = live_traffic(fleet, scenario, start=start, end=end, stages=stages,
                               concurrency=opts.concurrency)
    with stages.stage("monitor"):
        run_governance(home)
    with stages.stage("scoreboard"):
        result = score(home, fleet, scenario, start=start, end=end, log=log, labels=labels,
                       left_out=[i.label for i in left_out])
    result.timings = stages.seconds
    print_timings(stages.seconds)
    if opts.dashboard:
        from raigov.cli.demo.dashboard import serve_dashboard

        serve_dashboard(home, port=opts.dashboard_port, console=console)
    return result


def train_fleet(home: Home, scenario: Scenario) -> Fleet:
    from raigov.cli.demo.fleet import prepare_fleet

    with _progress() as progress:
        task = progress.add_task("Training models", total=len(scenario.models)
                                 + len(scenario.incidents))
        return prepare_fleet(home, scenario, on_model=lambda _: progress.advance(task))


def live_traffic(fleet: Fleet, scenario: Scenario, *, start: dt.date, end: dt.date,
                 stages: _Stages, concurrency: int) -> tuple["ReplayLog", dict[str, int]]:
    """Plan, replay and label the traffic through a real server (stopped after)."""
    from raigov.cli.demo.replay import replay_traffic, send_labels

    with stages.stage("plan"):
        plans = plan_fleet_traffic(fleet, scenario, start=start)
    last_label = pd.Timestamp(end + dt.timedelta(days=1), tz="UTC") \
        + pd.Timedelta(days=scenario.labels.delay_days[1])
    try:
        with stages.stage("traffic"), _progress() as progress:
            tasks = {m: progress.add_task(f"Traffic {m}", total=len(p)) for m, p in plans.items()}
            fleet.start_server()
            log = replay_traffic(fleet, plans, days=scenario.days, incidents=scenario.incidents,
                                 concurrency=concurrency,
                                 advance=lambda m, n: progress.advance(tasks[m], n))
        with stages.stage("labels"), _progress() as progress:
            label_tasks: dict[str, Any] = {}

            def on_plan(model: str, batches: int) -> None:
                label_tasks[model] = progress.add_task(f"Labels {model}", total=batches)

            labels = send_labels(fleet, log, labels=scenario.labels, until=last_label,
                                 seed=scenario.seed, concurrency=concurrency, on_plan=on_plan,
                                 advance=lambda m, n: progress.advance(label_tasks[m], n))
    finally:
        fleet.stop_server()
    return log, labels


def plan_fleet_traffic(fleet: Fleet, scenario: Scenario, *,
                       start: dt.date) -> dict[str, list["PlannedRequest"]]:
    from raigov.cli.demo.traffic import plan_traffic

    plans = {}
    for name in scenario.models:
        demo = fleet.demo_model(name)
        plans[name] = plan_traffic(demo.heldout, model=name,
                                   input_columns=list(demo.spec.input_columns), start=start,
                                   days=scenario.days, traffic=scenario.traffic,
                                   incidents=scenario.incidents, seed=scenario.seed)
    return plans


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """SHAP on a small MLP is fastest on one thread, and ~10x slower when torch's
    threads fight other processes for a shared machine's cores."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_governance(home: Home) -> "GovernanceRun":
    """Compute every daily window and judge the policies on it, with a progress bar."""
    from raigov.policies.pipeline import monitor_and_evaluate

    with _progress() as progress, _one_torch_thread():
        task = progress.add_task("Monitoring windows", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total)

        return monitor_and_evaluate(home, actor="raigov", on_progress=on_progress)


def score(home: Home, fleet: Fleet, scenario: Scenario, *, start: dt.date, end: dt.date,
          log: "ReplayLog", labels: dict[str, int], left_out: list[str]) -> DemoResult:
    from raigov.cli.demo.scoreboard import (Injected, build_scoreboard, failed_windows,
                                            print_scoreboard, write_scoreboard)
    from raigov.monitors.store import computed_windows
    from raigov.policies.alerts import list_alerts

    injected = [Injected(i, i.expectation(fleet.demo_model(i.model).spec))
                for i in scenario.incidents]
    header = {"scenario": scenario.name, "scenario_file": Path(scenario.path).name,
              "seed": scenario.seed, "days": scenario.days, "start": start.isoformat(),
              "end": end.isoformat(), "not_injected": left_out}
    labelled = {m: {s.astimezone(dt.timezone.utc).date()
                    for (_, s), (_, n, _) in computed_windows(home, m).items() if n}
                for m in scenario.models}
    board = build_scoreboard(scenario=header, start=start, injected=injected,
                             failures=failed_windows(home, scenario.models), replay=log,
                             totals=model_totals(home, scenario, log, labels),
                             labelled=labelled,
                             statuses={a.alert_id: a.status for a in list_alerts(home)})
    path = write_scoreboard(home, board)
    print_scoreboard(board, console)
    console.print(f"Scoreboard written to {path}")
    return DemoResult(board, path)


def model_totals(home: Home, scenario: Scenario, log: "ReplayLog",
                 labels: dict[str, int]) -> dict[str, dict[str, int]]:
    from raigov.models.registry import list_models
    from raigov.store.lake import lake_connection

    versions = {m.name: m.version for m in list_models(home)}
    totals = {}
    for name in scenario.models:
        with lake_connection(home, model=name) as con:
            quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        rejected = log.rejected.get(name, {}).values()
        totals[name] = {"predictions": len(log.predictions[name]), "labels": labels[name],
                        "rejected_requests": sum(r[0] for r in rejected),
                        "rejected_rows": sum(r[1] for r in rejected),
                        "quarantined_rows": int(quarantined), "versions": versions[name]}
    return totals


def print_timings(seconds: dict[str, float]) -> None:
    table = Table("stage", "seconds", title="Stage times", title_justify="left")
    for name, value in seconds.items():
        table.add_row(name, f"{value:.1f}")
    table.add_row("[bold]total[/]", f"[bold]{sum(seconds.values()):.1f}[/]")
    console.print(table)
