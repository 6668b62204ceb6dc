"""Send the planned traffic through the real server day by day, and the labels later.

Each day starts with the hooks of the incidents that ended the day before (the version
a biased one replaced is served again) and of those that begin on it (a new version is
registered and the server restarted), then that day's requests of every model go out
concurrently. A 200 gives predictions; a 422 is a rejected request, which the server
has quarantined; anything else stops the demo.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pandas as pd

from raigov.errors import RaigovError

if TYPE_CHECKING:
    from raigov.cli.demo.fleet import Fleet
    from raigov.cli.demo.incidents import Incident
    from raigov.cli.demo.scenario import Labels
    from raigov.cli.demo.traffic import PlannedRequest
    from raigov.models.spec import ModelSpec

UNEXPECTED_STATUS = ("The demo server answered {status} to a {what} for {model}: {body}. "
                     "Its log: {log}")
Advance = Callable[[str, int], None]


class DemoServerError(RaigovError):
    """The demo's own server answered something the demo cannot go on from."""


@dataclass
class ReplayLog:
    """Per model: the predictions made (``prediction_id``, ``ts``, ``y_true``, in the
    plan's order) and per day the requests and rows the server rejected (422)."""

    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejected: dict[str, dict[int, list[int]]] = field(default_factory=dict)


def replay_traffic(fleet: "Fleet", plans: dict[str, list["PlannedRequest"]], *, days: int,
                   incidents: tuple["Incident", ...], concurrency: int,
                   advance: Advance) -> ReplayLog:
    """Send every planned request, day by day; ``advance(model, n)`` after each."""
    by_day: dict[int, list["PlannedRequest"]] = defaultdict(list)
    for plan in plans.values():
        for request in plan:
            by_day[request.day].append(request)
    made: dict[str, list[pd.DataFrame]] = {model: [] for model in plans}
    log = ReplayLog(rejected={model: {} for model in plans})
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(concurrency) as pool:
        for day in range(1, days + 1):
            for incident in incidents:
                if incident.until is not None and incident.until + 1 == day:
                    incident.end_day(fleet)
            for incident in incidents:
                if incident.day == day:
                    incident.start_day(fleet)
            url = fleet.url

            def send(request: "PlannedRequest") -> pd.DataFrame | None:
                result = _predict(client, url, request, fleet)
                advance(request.model, 1)
                return result

            for request, result in zip(by_day[day], pool.map(send, by_day[day])):
                if result is None:
                    counts = log.rejected[request.model].setdefault(day, [0, 0])
                    counts[0], counts[1] = counts[0] + 1, counts[1] + len(request.rows)
                else:
                    made[request.model].append(result)
    log.predictions = {m: pd.concat(frames, ignore_index=True) if frames else
                       pd.DataFrame(columns=["prediction_id", "ts", "y_true"])
                       for m, frames in made.items()}
    return log


def _predict(client: httpx.Client, url: str, request: "PlannedRequest",
             fleet: "Fleet") -> pd.DataFrame | None:
    rows = request.rows.astype(object).where(request.rows.notna(), None).to_dict("records")
    response = client.post(f"{url}/v1/models/{request.model}/predict",
                           json={"rows": rows, "timestamp": request.timestamp.isoformat()},
                           headers=fleet.headers)
    if response.status_code == 422:
        return None
    _check(response, what="prediction request", model=request.model, fleet=fleet)
    ids = [p["prediction_id"] for p in response.json()["predictions"]]
    return pd.DataFrame({"prediction_id": ids, "ts": request.timestamp,
                         "y_true": request.y_true})


def _check(response: httpx.Response, *, what: str, model: str, fleet: "Fleet") -> None:
    if response.status_code != 200:
        server = fleet.server
        log = server.log_path if server is not None else None
        raise DemoServerError(UNEXPECTED_STATUS.format(status=response.status_code, what=what,
                                                       model=model, body=response.text[:500],
                                                       log=log))


def send_labels(fleet: "Fleet", log: ReplayLog, *, labels: "Labels", until: pd.Timestamp,
                seed: int, concurrency: int, advance: Advance,
                on_plan: Callable[[str, int], None]) -> dict[str, int]:
    """Labels for most predictions, arriving days later, in hourly batches (each sent
    with its arrival time) as a user sends them: class names for a classifier, the
    true values for a regression model. Returns the labels sent per model."""
    from raigov.cli.demo.traffic import plan_feedback
    from raigov.models.demo_models import label_values

    sent: dict[str, int] = {}
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(concurrency) as pool:
        for model, predictions in log.predictions.items():
            plan = plan_feedback(predictions, labels=labels, until=until, model=model, seed=seed)
            spec = fleet.demo_model(model).spec
            batches = list(plan.groupby(plan["received_at"].dt.floor("h"), sort=True))
            on_plan(model, len(batches))

            def send(batch: tuple[pd.Timestamp, pd.DataFrame], model: str = model,
                     spec: "ModelSpec" = spec) -> None:
                hour, group = batch
                truth = label_values(group["y_true"].to_numpy(), spec)
                # A label planned to arrive after now is sent now, dated now: an event
                # time ahead of the server clock is refused.
                arrival = min(hour, pd.Timestamp.now(tz="UTC"))
                body = {"labels": [{"prediction_id": p, "label": y} for p, y in
                                   zip(group["prediction_id"], truth)],
                        "timestamp": arrival.isoformat()}
                response = client.post(f"{fleet.url}/v1/models/{model}/feedback", json=body,
                                       headers=fleet.headers)
                _check(response, what="feedback request", model=model, fleet=fleet)
                advance(model, 1)

            list(pool.map(send, batches))
            sent[model] = len(plan)
    return sent
