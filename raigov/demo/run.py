"""``raigov demo``: train and register the demo models, serve them with a real
``raigov serve`` process, replay held-out rows as days of traffic and send their labels
later. Later stages (monitors, policies, dashboard) run when their areas exist."""

from __future__ import annotations

import datetime as dt
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from raigov.home import Home

console = Console(stderr=True)


@dataclass(frozen=True)
class DemoOptions:
    days: int = 30
    seed: int = 0
    dashboard: bool = True
    rows_per_day: int | None = None
    end: dt.date | None = None          # last simulated day (default: yesterday, UTC)
    label_coverage: float = 0.85
    label_delay_days: tuple[float, float] = (0.5, 3.0)
    concurrency: int = 4


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def register_demo_models(home: Home, *, seed: int) -> dict[str, object]:
    """Train and register both demo models (skipped for a model already registered)."""
    from models.artifact import save_artifact
    from models.demo_models import DEMO_MODELS, build_demo_model
    from models.registry import list_models, register_model

    existing = {m.name for m in list_models(home)}
    built = {}
    with _progress() as progress:
        task = progress.add_task("Training demo models", total=len(DEMO_MODELS))
        for name in DEMO_MODELS:
            demo = build_demo_model(name, seed=seed)
            built[name] = demo
            if name not in existing:
                with tempfile.TemporaryDirectory() as tmp:
                    save_artifact(Path(tmp), demo.trained)
                    register_model(home, demo.spec, artifact=Path(tmp),
                                   reference=demo.reference, actor="demo")
            progress.advance(task)
    return built


def replay_traffic(url: str, built: dict, opts: DemoOptions) -> dict[str, pd.DataFrame]:
    """Send every planned request through the server; returns, per model, the
    predictions made (prediction_id, ts, y_true) for the feedback stage."""
    from raigov.demo.traffic import plan_requests

    end = opts.end or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=opts.days - 1)
    made: dict[str, pd.DataFrame] = {}
    with _progress() as progress, httpx.Client(base_url=url, timeout=60) as client, \
            ThreadPoolExecutor(opts.concurrency) as pool:
        for offset, (name, demo) in enumerate(built.items()):
            per_day = opts.rows_per_day or min(1500, max(50, len(demo.heldout) // opts.days))
            plan = plan_requests(demo.heldout, input_columns=list(demo.spec.input_columns),
                                 days=opts.days, start=start, rows_per_day=per_day,
                                 seed=opts.seed + offset)
            task = progress.add_task(f"Traffic {name}", total=len(plan))

            def send(req, name=name, task=task):
                rows = req.rows.astype(object).where(req.rows.notna(), None).to_dict("records")
                r = client.post(f"/v1/models/{name}/predict",
                                json={"rows": rows, "timestamp": req.timestamp.isoformat()})
                r.raise_for_status()
                progress.advance(task)
                ids = [p["prediction_id"] for p in r.json()["predictions"]]
                return pd.DataFrame({"prediction_id": ids, "ts": req.timestamp, "y_true": req.y_true})

            made[name] = pd.concat(list(pool.map(send, plan)), ignore_index=True)
    return made


def send_feedback(url: str, made: dict[str, pd.DataFrame], opts: DemoOptions) -> dict[str, int]:
    """Labels for most predictions, arriving days later, sent in daily batches."""
    from raigov.demo.traffic import plan_feedback

    until = pd.Timestamp(dt.datetime.now(dt.timezone.utc))
    sent: dict[str, int] = {}
    with _progress() as progress, httpx.Client(base_url=url, timeout=60) as client:
        for offset, (name, preds) in enumerate(made.items()):
            plan = plan_feedback(preds, coverage=opts.label_coverage,
                                 min_delay_days=opts.label_delay_days[0],
                                 max_delay_days=opts.label_delay_days[1], until=until,
                                 seed=opts.seed + 100 + offset)
            batches = list(plan.groupby(plan["received_at"].dt.floor("h")))
            task = progress.add_task(f"Labels {name}", total=len(batches))
            for hour, group in batches:
                labels = [{"prediction_id": p, "label": int(y)}
                          for p, y in zip(group["prediction_id"], group["y_true"])]
                r = client.post(f"/v1/models/{name}/feedback",
                                json={"labels": labels, "timestamp": hour.isoformat()})
                r.raise_for_status()
                progress.advance(task)
            sent[name] = len(plan)
    return sent


def install_policy_packs(home: Home) -> list[Path]:
    """Copy the shipped policy packs into ``<home>/policies`` (the policies in force)."""
    import shutil

    from policies.loader import pack_paths

    home.policies.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, home.policies / p.name)) for p in pack_paths()
            if not (home.policies / p.name).exists()]


def run_governance(home: Home) -> object:
    """Compute every window and judge the policies on it, with a progress bar."""
    from policies.pipeline import monitor_and_evaluate

    with _progress() as progress:
        task = progress.add_task("Monitoring windows", total=None)

        def on_progress(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total)

        return monitor_and_evaluate(home, actor="raigov", on_progress=on_progress)


def run_demo(home: Home, opts: DemoOptions) -> dict[str, object]:
    from models.server_process import ServerProcess, free_port

    home.ensure()
    console.print(f"[bold]raigov demo[/] in {home.root} ({opts.days} days, seed {opts.seed})")
    built = register_demo_models(home, seed=opts.seed)
    install_policy_packs(home)
    with ServerProcess(home, free_port()) as server:
        made = replay_traffic(server.url, built, opts)
        labels = send_feedback(server.url, made, opts)
    governance = run_governance(home)
    console.print(f"  {len(governance.windows)} windows monitored, {len(governance.findings)} "
                  f"findings, {governance.alerts_opened} alerts opened")
    summary = {name: {"predictions": len(made[name]), "labels": labels[name],
                      "heldout_accuracy": round(float(built[name].test_metrics["accuracy"]), 4),
                      "heldout_roc_auc": round(float(built[name].test_metrics["roc_auc"]), 4)}
               for name in made}
    for name, s in summary.items():
        console.print(f"  {name}: {s['predictions']} predictions, {s['labels']} labels "
                      f"(held-out accuracy {s['heldout_accuracy']}, ROC AUC {s['heldout_roc_auc']})")
    return summary
