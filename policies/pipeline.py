"""Live governance: after each monitor window, judge the policies in force for the
model (``<home>/policies/*.yaml``) and record findings and alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raigov.monitors.runner import ProgressFn, WindowKey, WindowResult, run_monitors
from raigov.policies.alerts import AlertSummary
from raigov.policies.evaluate import evaluate
from raigov.policies.findings import Finding
from raigov.policies.loader import load_policies
from raigov.policies.schema import Policy, select_policies
from raigov.home import Home

if TYPE_CHECKING:
    from raigov.monitors.spark_engine import SparkEngine


FUTURE_ROWS_IGNORED = ("note: ignored {rows} row(s) dated in the future (windows {windows}): "
                       "no window is judged before its time; such event times are refused "
                       "where they enter, so an older raigov let these in")
MAX_FUTURE_SHOWN = 5


def policies_in_force(home: Home) -> list[Policy]:
    files = sorted(home.policies.glob("*.yaml")) if home.policies.exists() else []
    return load_policies(files) if files else []


@dataclass
class GovernanceRun:
    windows: list[WindowResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_resolved: int = 0
    future: list[WindowKey] = field(default_factory=list)   # rows dated ahead: ignored

    def future_note(self) -> str | None:
        """What a person should know about rows dated in the future, or None."""
        if not self.future:
            return None
        windows = ", ".join(f"{k.model} {k.start:%Y-%m-%d %H:%M} ({k.rows} rows)"
                            for k in self.future[:MAX_FUTURE_SHOWN])
        more = len(self.future) - MAX_FUTURE_SHOWN
        return FUTURE_ROWS_IGNORED.format(rows=sum(k.rows for k in self.future),
                                          windows=windows + (f" and {more} more" if more > 0 else ""))


PAUSE_HOOK = "RAIGOV_TEST_PAUSE_AFTER_METRICS"


def _pause_hook(window_number: int) -> None:
    """For crash tests only: ``RAIGOV_TEST_PAUSE_AFTER_METRICS=N:PATH`` makes the run,
    in its N-th window's catalog unit, after the metric rows and before the findings,
    create PATH and sleep (so a test can SIGKILL it there)."""
    import os
    import time
    from pathlib import Path

    value = os.environ.get(PAUSE_HOOK)
    if not value:
        return
    number, _, path = value.partition(":")
    if int(number) == window_number:
        Path(path).touch()
        time.sleep(600)


def monitor_and_evaluate(home: Home, *, model: str | None = None,
                         since: dt.datetime | None = None, until: dt.datetime | None = None,
                         force: bool = False, actor: str = "raigov",
                         auto_resolve_after: int = 2, today: dt.date | None = None,
                         on_progress: ProgressFn | None = None,
                         on_window: Callable[[WindowResult, list[Finding]], None] | None = None,
                         wait: bool = False, jobs: int = 1,
                         on_busy: Callable[[str, str], None] | None = None,
                         should_stop: Callable[[], bool] | None = None,
                         engine: "SparkEngine | None" = None) -> GovernanceRun:
    """``raigov monitor run``: compute pending windows and judge each as it is done.

    Each window is one catalog unit: its metric rows, its "computed" mark, its findings,
    its alert transitions and their ledger events commit together, or none of them
    does and the next run judges the window again. Webhooks go out after the commit."""
    from raigov.monitors.store import write_window
    from raigov.monitors.version_state import VersionStates
    from raigov.policies.alerts import _webhook_for
    from raigov.policies.record_findings import record_findings_in, summarize
    from raigov.store.catalog import catalog

    from raigov.monitors.reference_chunks import ReferenceChunks

    policies = policies_in_force(home)
    run = GovernanceRun()
    config = _webhook_for(home, True, None) if policies else None
    states = VersionStates(home)
    references: dict[tuple[str, int], ReferenceChunks] = {}

    def commit(result: WindowResult) -> None:
        key = result.key
        spec = states.model(key.model, key.version).spec
        applicable = select_policies(policies, model=key.model, tags=spec.tags)
        reference = references.setdefault((key.model, key.version),
                                          ReferenceChunks(home, key.model, key.version))
        findings = evaluate(applicable, result.rows, model=key.model, version=key.version,
                            window_start=key.start, window_end=key.end, sensitive=spec.sensitive,
                            today=today or key.end.date(), reference=reference) \
            if applicable else []
        unit = None
        with catalog(home) as con:
            write_window(home, model=key.model, version=key.version, start=key.start,
                         end=key.end, rows=result.rows, n_rows=key.rows,
                         n_labelled=key.labelled, run_id=result.run_id,
                         n_corrections=key.corrections, con=con)
            _pause_hook(len(run.windows) + 1)
            if findings:
                unit = record_findings_in(con, findings, actor=actor, run_id=result.run_id,
                                          auto_resolve_after=auto_resolve_after)
        if unit is not None:
            summary: AlertSummary = summarize(unit, findings=len(findings), config=config)
            run.alerts_opened += len(summary.opened)
            run.alerts_resolved += len(summary.auto_resolved)
        run.windows.append(result)
        run.findings.extend(findings)
        if on_window:
            on_window(result, findings)

    run_monitors(home, model=model, since=since, until=until, force=force,
                 on_progress=on_progress, commit=commit, on_future=run.future.extend,
                 wait=wait, jobs=jobs, on_busy=on_busy, should_stop=should_stop,
                 states=states, engine=engine)
    return run
