"""Live governance: after each monitor window, judge the policies in force for the
model (``<home>/policies/*.yaml``) and record findings and alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from raigov.monitors.runner import ProgressFn, WindowKey, WindowResult, run_monitors
from raigov.policies.alerts import AlertSummary
from raigov.policies.record_findings import record_findings
from raigov.policies.evaluate import evaluate
from raigov.policies.findings import Finding
from raigov.policies.loader import load_policies
from raigov.policies.schema import Policy, select_policies
from raigov.home import Home


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


def monitor_and_evaluate(home: Home, *, model: str | None = None,
                         since: dt.datetime | None = None, until: dt.datetime | None = None,
                         force: bool = False, actor: str = "raigov",
                         auto_resolve_after: int = 2, today: dt.date | None = None,
                         on_progress: ProgressFn | None = None,
                         on_window: Callable[[WindowResult, list[Finding]], None] | None = None
                         ) -> GovernanceRun:
    """``raigov monitor run``: compute pending windows, evaluate each as it is done."""
    from raigov.models.registry import get_model

    policies = policies_in_force(home)
    run = GovernanceRun()

    def judge(result: WindowResult) -> None:
        key = result.key
        spec = get_model(home, key.model, key.version).spec
        applicable = select_policies(policies, model=key.model, tags=spec.tags)
        findings = evaluate(applicable, result.rows, model=key.model, version=key.version,
                            window_start=key.start, window_end=key.end, sensitive=spec.sensitive,
                            today=today or key.end.date()) if applicable else []
        if findings:
            summary: AlertSummary = record_findings(home, findings, actor=actor, run_id=result.run_id,
                                                    auto_resolve_after=auto_resolve_after)
            run.alerts_opened += len(summary.opened)
            run.alerts_resolved += len(summary.auto_resolved)
        run.windows.append(result)
        run.findings.extend(findings)
        if on_window:
            on_window(result, findings)

    run_monitors(home, model=model, since=since, until=until, force=force,
                 on_progress=on_progress, on_window=judge, on_future=run.future.extend)
    return run
