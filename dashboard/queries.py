"""Cached reads for the pages. Each function takes the home's path (a cache key),
opens what it needs through the other packages' APIs for one unit of work and returns
plain data: frames, dicts, specs. Never a connection. Results live for
``RAIGOV_DASHBOARD_TTL_S`` seconds; :func:`refresh` drops them all after a change."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from raigov.dashboard import settings
from raigov.dashboard.shape import fleet as fleet_shape
from raigov.dashboard.shape import governance
from raigov.dashboard.shape.predictions import PredictionFilter
from raigov.models.spec import ModelSpec
from raigov.policies.schema import Policy
from raigov.home import Home

TTL_S = settings.cache_ttl_s()
MODEL_COLUMNS = ["model", "version", "output_kind", "tags", "features", "sensitive",
                 "created_at"]


def _home(root: str) -> Home:
    return Home.resolve(root)


def refresh() -> None:
    """Drop every cached read (after an action changed something)."""
    st.cache_data.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def models(root: str) -> pd.DataFrame:
    """The latest version of every registered model."""
    from raigov.models.registry import list_models

    rows = [{"model": m.name, "version": m.version, "output_kind": m.spec.output_kind,
             "tags": list(m.spec.tags), "features": list(m.spec.features),
             "sensitive": list(m.spec.sensitive), "created_at": m.created_at}
            for m in list_models(_home(root))]
    return pd.DataFrame(rows, columns=MODEL_COLUMNS)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def versions(root: str, model: str) -> list[int]:
    from raigov.models.registry import list_models

    return sorted((m.version for m in list_models(_home(root), latest_only=False)
                   if m.name == model), reverse=True)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def spec(root: str, model: str, version: int) -> ModelSpec:
    from raigov.models.registry import get_model

    return get_model(_home(root), model, version).spec


@st.cache_data(ttl=TTL_S, show_spinner=False)
def disabled(root: str) -> dict[str, dict]:
    from raigov.models.serving.control import model_status

    return model_status(_home(root))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def metrics(root: str, *, model: str | None = None, version: int | None = None,
            prefix: str | None = None) -> pd.DataFrame:
    from raigov.monitors.store import read_metric_rows

    return read_metric_rows(_home(root), model=model, version=version, metric_prefix=prefix)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerts(root: str, *, model: str | None = None, status: str | None = None,
           severity: str | None = None) -> pd.DataFrame:
    from raigov.policies.alerts import list_alerts

    found = list_alerts(_home(root), model=model, status=status, severity=severity)
    return governance.alerts_frame(found)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alert_history(root: str, alert_id: str) -> pd.DataFrame:
    from raigov.policies.alerts import alert_history as history

    return governance.history_frame(history(_home(root), alert_id))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def fleet(root: str) -> dict[str, pd.DataFrame]:
    """The fleet table, the headline trends and active alerts per severity."""
    found = models(root)
    pairs = list(zip(found["model"], found["version"].astype(int)))
    rows = pd.concat([metrics(root, prefix=m) for m in fleet_shape.FLEET_METRICS],
                     ignore_index=True)
    active = alerts(root)
    return {"table": fleet_shape.fleet_table(pairs, rows, active, disabled(root)),
            "trends": fleet_shape.fleet_trends(pairs, rows),
            "alerts": fleet_shape.alerts_by_severity(active)}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def policies(root: str) -> list[Policy]:
    from raigov.policies.pipeline import policies_in_force

    return policies_in_force(_home(root))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def findings(root: str, model: str) -> pd.DataFrame:
    return governance.latest_findings(_home(root), model)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def ledger_status(root: str) -> dict[str, Any]:
    from raigov.ledger.verify import audit_verify

    result = audit_verify(_home(root))
    return {"ok": result.ok, "describe": result.describe(), "events": result.events,
            "head_seq": result.head_seq, "head_hash": result.head_hash,
            "checkpoints": result.checkpoints, "warnings": list(result.warnings),
            "problems": [p.message for p in result.problems]}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def ledger_events(root: str, *, limit: int = 100) -> pd.DataFrame:
    from raigov.store.catalog import catalog
    from raigov.ledger.chain import read_events

    with catalog(_home(root), read_only=True) as con:
        events = read_events(con)
    return governance.events_frame(events, limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def users(root: str) -> pd.DataFrame:
    from raigov.users import list_users

    rows = [{**dataclasses.asdict(u), "signs in with": "password" if u.has_password else "OIDC"}
            for u in list_users(_home(root))]
    return pd.DataFrame(rows, columns=["name", "role", "signs in with", "created_at",
                                       "created_by", "updated_at"])


@st.cache_data(ttl=TTL_S, show_spinner=False)
def predictions(root: str, model: str, where: PredictionFilter) -> pd.DataFrame:
    from raigov.dashboard.shape.predictions import find_predictions

    return find_predictions(_home(root), model, where)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def prediction(root: str, model: str, prediction_id: str) -> dict[str, Any] | None:
    from raigov.dashboard.shape.predictions import get_prediction

    return get_prediction(_home(root), model, prediction_id)


@st.cache_data(ttl=3600, max_entries=256, show_spinner=False)
def explanation(root: str, model: str, version: int, prediction_id: str,
                inputs: dict[str, Any]) -> dict[str, Any]:
    """SHAP values of one decision (a prediction never changes: cached for an hour)."""
    from raigov.dashboard.shape.predictions import explain

    return explain(_home(root), model, version, inputs)


@st.cache_data(ttl=3600, max_entries=4, show_spinner=False)
def drift_report(root: str, model: str, version: int, start: dt.datetime,
                 end: dt.datetime, max_rows: int = 5000) -> str:
    """Evidently's own HTML drift report of one window (its generated page), with
    captured text values made inert (see :mod:`raigov.monitors.report_safety`)."""
    from raigov.monitors.drift import drift_report_html
    from raigov.monitors.runner import WindowKey, load_window

    window = load_window(_home(root), WindowKey(model, version, start, end, 0, 0))
    return drift_report_html(window, max_rows=max_rows)
