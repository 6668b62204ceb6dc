"""``raigov policy-check``: judge policies on a hold-out file (the monitors run offline)
or on a live model's latest computed window, and say whether CI may go on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from raigov.policies.evaluate import evaluate
from raigov.policies.findings import Finding
from raigov.policies.loader import load_policies
from raigov.policies.schema import Policy, select_policies, with_waiver_files
from raigov.clock import future_cutoff
from raigov.errors import ConfigError, InputError
from raigov.home import Home

if TYPE_CHECKING:
    import pandas as pd

    from raigov.monitors.base import MetricRow

NO_POLICY_APPLIES = ("None of the policies {names} applies to model '{model}' "
                     "(tags: {tags}); check their applies_to.")
NO_PROBE_RULES = ("None of the rules of {names} judges a probe metric ({metrics}); "
                  "a probe check needs one (e.g. the text-fairness pack).")
LIVE_RULES_SKIPPED = ("note: {count} rule(s) judge live-window metrics and were not judged "
                      "by the probes: {ids}")
PROBE_RUN_USED = "note: probe rows from the probe run of {model} v{version} at {at}"
NO_WINDOWS = ("Model '{model}' has no computed window{which} yet: run "
              "`raigov monitor run --model {model}` first.")
FUTURE_WINDOW = ("The window of model '{model}' starting {day} lies in the future (the "
                 "server clock says {now}): a window is judged only once its time has come.")
FUTURE_WINDOWS_SKIPPED = ("note: {count} computed window(s) of model '{model}' start in the "
                          "future ({starts}) and were not judged; the latest window up to "
                          "now was (an older raigov let event times in the future in)")


@dataclass(frozen=True)
class CheckResult:
    findings: list[Finding]
    policies: list[Policy]
    subject: str                 # what was checked, for the report's headline
    notes: tuple[str, ...] = ()  # what a person should know beside the findings


def check_data(policy_files: Sequence[str | Path], *, data: str | Path, label: str,
               prediction: str, score: str | None, sensitive: tuple[str, ...],
               intersections: tuple[tuple[str, ...], ...] = (), min_group_size: int = 30,
               today: dt.date | None = None, kind: str = "binary",
               probabilities: str | None = None, classes: tuple[str, ...] = ()) -> CheckResult:
    """Every given policy, judged on the metrics of one data file of a ``kind`` model
    (its columns: ``raigov.monitors.offline``). The policies' applies_to is not
    consulted: naming them on the command line applies them."""
    from raigov.monitors.offline import run_on_file

    policies = with_waiver_files(load_policies(policy_files))
    result = run_on_file(data, label=label, prediction=prediction, score=score,
                         sensitive=sensitive, intersections=intersections,
                         min_group_size=min_group_size, families=("performance", "fairness"),
                         name=Path(data).name, kind=kind, probabilities=probabilities,
                         classes=classes)
    findings = evaluate(policies, result.rows, model=Path(data).name, version=None,
                        window_start=None, window_end=None, today=today, sensitive=sensitive)
    return CheckResult(findings, policies, f"{data} ({result.n} rows, {result.labelled} labelled)")


def check_model(home: Home, policy_files: Sequence[str | Path], *, model: str,
                window: dt.date | None = None, today: dt.date | None = None,
                now: dt.datetime | None = None) -> CheckResult:
    """The policies that apply to ``model``, judged on its latest computed window that
    does not start in the future (or the window starting on ``window``, which must not
    either); windows in the future are left out with a note."""
    from raigov.models.registry import get_model
    from raigov.monitors.store import read_metric_rows, to_metric_rows

    registered = get_model(home, model)
    policies = select_policies(load_policies(policy_files), model=model,
                               tags=registered.spec.tags)
    if not policies:
        raise ConfigError(NO_POLICY_APPLIES.format(
            names=[str(p) for p in policy_files], model=model, tags=list(registered.spec.tags)))
    frame = read_metric_rows(home, model=model, version=registered.version)
    probe_rows, probe_notes = _latest_probe_rows(frame, model, registered.version)
    frame = frame[frame["window_end"] > frame["window_start"]]   # probe runs have length 0
    cutoff = future_cutoff(now=now)
    if window is not None:
        frame = frame[frame["window_start"].dt.date == window]
        if not frame.empty and frame["window_start"].min() > cutoff:
            raise InputError(FUTURE_WINDOW.format(model=model, day=window,
                                                  now=cutoff.isoformat(timespec="seconds")))
    ahead = sorted({ts for ts in frame["window_start"] if ts > cutoff})
    frame = frame[frame["window_start"] <= cutoff]
    notes = (FUTURE_WINDOWS_SKIPPED.format(count=len(ahead), model=model, starts=", ".join(
        f"{ts:%Y-%m-%d %H:%M}" for ts in ahead[:5]) + (" ..." if len(ahead) > 5 else "")),) \
        if ahead else ()
    if frame.empty:
        which = "" if window is None else f" starting {window}"
        raise InputError(NO_WINDOWS.format(model=model, which=which))
    from raigov.monitors.reference_chunks import ReferenceChunks

    latest = frame[frame["window_start"] == frame["window_start"].max()]
    start, end = latest["window_start"].iloc[0], latest["window_end"].iloc[0]
    findings = evaluate(policies, to_metric_rows(latest) + probe_rows, model=model,
                        version=registered.version, window_start=start.to_pydatetime(),
                        window_end=end.to_pydatetime(), today=today,
                        sensitive=registered.spec.sensitive,
                        reference=ReferenceChunks(home, model, registered.version))
    return CheckResult(findings, policies, f"{model} v{registered.version}, window {start:%Y-%m-%d %H:%M}",
                       notes + probe_notes)


def _latest_probe_rows(frame: "pd.DataFrame", model: str,
                       version: int) -> tuple[list["MetricRow"], tuple[str, ...]]:
    """The version's latest probe run (a zero-length window), judged beside the live
    window so one check covers both."""
    from raigov.monitors.store import to_metric_rows

    runs = frame[frame["window_end"] == frame["window_start"]]
    if runs.empty:
        return [], ()
    latest = runs[runs["window_start"] == runs["window_start"].max()]
    at = latest["window_start"].iloc[0]
    return to_metric_rows(latest), (PROBE_RUN_USED.format(model=model, version=version,
                                                         at=f"{at:%Y-%m-%d %H:%M:%S}"),)


def check_probes(home: Home, policy_files: Sequence[str | Path], *, model: str,
                 version: int | None = None, templates: str | Path | None = None,
                 today: dt.date | None = None,
                 on_chunk: Callable[[int], None] | None = None) -> CheckResult:
    """Run the counterfactual probes on a candidate version (default: the latest),
    record them, and judge the rules of the applicable policies that name a probe
    metric; rules on live-window metrics are left out with a note."""
    from raigov.models.registry import get_model
    from raigov.monitors.probes import record_probes, run_probes

    registered = get_model(home, model, version)
    policies = select_policies(load_policies(policy_files), model=model,
                               tags=registered.spec.tags)
    if not policies:
        raise ConfigError(NO_POLICY_APPLIES.format(
            names=[str(p) for p in policy_files], model=model, tags=list(registered.spec.tags)))
    from raigov.monitors.fairness_text import PROBE_METRIC

    probe_metrics = {PROBE_METRIC.name}
    judged = [p.model_copy(update={"rules": tuple(r for r in p.rules
                                                   if r.metric in probe_metrics)})
              for p in policies]
    judged = [p for p in judged if p.rules]
    if not judged:
        raise ConfigError(NO_PROBE_RULES.format(names=[str(p) for p in policy_files],
                                                metrics=", ".join(sorted(probe_metrics))))
    skipped = [r.id for p in policies for r in p.rules if r.metric not in probe_metrics]
    result = run_probes(registered.load(), registered.spec, templates=templates,
                        on_chunk=on_chunk)
    at = record_probes(home, model=model, version=registered.version, result=result)
    findings = evaluate(judged, result.rows, model=model, version=registered.version,
                        window_start=at, window_end=at, today=today,
                        sensitive=registered.spec.sensitive)
    notes = (LIVE_RULES_SKIPPED.format(count=len(skipped), ids=", ".join(skipped)),) \
        if skipped else ()
    return CheckResult(findings, judged, f"{model} v{registered.version}, probes "
                       f"({len(result.sentences)} sentences)", notes)
