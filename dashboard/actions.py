"""What a person can change from the dashboard. Every action re-reads the signed-in
user from the catalog, checks their role for the permission it needs (here, where it
runs: a hidden button is no check), then calls the owning package's API with the
user's name as the actor, so the ledger records who did it. Nothing here imports
Streamlit; pages call these and show the outcome."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Literal

from raigov.models.serving.control import set_model_enabled
from raigov.policies.alerts import Alert, acknowledge_alert, resolve_alert
from raigov.home import Home
from raigov.store.lake import model_key
from raigov.users import (User, add_user, find_user, remove_user, require_permission,
                          set_role)

CardFormat = Literal["md", "html", "json"]
ReportFormat = Literal["html", "pdf", "json"]
CARD_FORMATS: tuple[str, ...] = ("md", "html", "json")
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "json")
REPORTS_MISSING = ("Exports need raigov.reports (build_card, build_report), which this "
                   "installation does not have yet.")


def acting_user(home: Home, user: User | None, permission: str) -> User:
    """The user as the catalog knows them now, if their role grants ``permission``."""
    fresh = find_user(home, user.name) if user is not None else None
    return require_permission(fresh, permission)   # a removed user counts as signed out


def acknowledge(home: Home, user: User | None, alert_id: str, *, comment: str | None) -> Alert:
    actor = acting_user(home, user, "alert.acknowledge")
    return acknowledge_alert(home, alert_id, actor=actor.name, comment=comment or None)


def resolve(home: Home, user: User | None, alert_id: str, *, comment: str) -> Alert:
    actor = acting_user(home, user, "alert.resolve")
    return resolve_alert(home, alert_id, actor=actor.name, comment=comment)


def set_enabled(home: Home, user: User | None, model: str, *, enabled: bool,
                version: int | None, reason: str | None) -> None:
    """The kill switch: disabled versions get 503 from ``raigov serve``."""
    actor = acting_user(home, user, "model.toggle")
    set_model_enabled(home, model, enabled=enabled, actor=actor.name,
                      reason=reason.strip() if reason else None, version=version)


def reveal_sensitive(home: Home, user: User | None, model: str, *, prediction_id: str,
                     columns: list[str]) -> None:
    """Record that ``user`` revealed the protected columns of one prediction (a ledger
    event ``sensitive.revealed``: who, model, prediction and column names, never a
    value). Call before showing them; raises when the role lacks ``sensitive.read``."""
    from raigov.ledger.chain import append_event
    from raigov.store.catalog import catalog

    actor = acting_user(home, user, "sensitive.read")
    with catalog(home) as con:
        append_event(con, "sensitive.revealed", actor=actor.name, subject=model,
                     payload={"model": model, "prediction_id": prediction_id,
                              "columns": sorted(columns)})


def _reports() -> Any | None:
    try:
        from raigov import reports
    except ImportError:
        return None
    if not (hasattr(reports, "build_card") and hasattr(reports, "build_report")):
        return None
    return reports


def exports_available() -> bool:
    return _reports() is not None


def _require_reports() -> Any:
    reports = _reports()
    if reports is None:
        from raigov.errors import ConfigError

        raise ConfigError(REPORTS_MISSING)
    return reports


def export_card(home: Home, user: User | None, model: str, *, fmt: CardFormat) -> str:
    acting_user(home, user, "export")
    return _require_reports().build_card(home, model, fmt=fmt)


def export_report(home: Home, user: User | None, model: str, *, fmt: ReportFormat,
                  since: dt.datetime | None = None, until: dt.datetime | None = None) -> bytes:
    """The audit report's bytes. Where ``raigov.reports.export_report`` exists the
    export is recorded (``report.exported``, the user as actor, the file's SHA-256),
    so the downloaded file can be verified against the ledger later."""
    actor = acting_user(home, user, "export")
    reports = _require_reports()
    if not hasattr(reports, "export_report"):
        return reports.build_report(home, model, since=since, until=until, fmt=fmt)
    with tempfile.TemporaryDirectory(prefix="raigov-export-") as tmp:
        output = Path(tmp) / f"{model_key(model)}-report.{fmt}"
        reports.export_report(home, model, since=since, until=until, fmt=fmt, output=output,
                              actor=actor.name)
        return output.read_bytes()


def create_user(home: Home, user: User | None, name: str, *, role: str,
                password: str | None) -> None:
    actor = acting_user(home, user, "users.manage")
    add_user(home, name, role=role, password=password, actor=actor.name)


def change_role(home: Home, user: User | None, name: str, *, role: str) -> None:
    actor = acting_user(home, user, "users.manage")
    set_role(home, name, role=role, actor=actor.name)


def delete_user(home: Home, user: User | None, name: str) -> None:
    actor = acting_user(home, user, "users.manage")
    remove_user(home, name, actor=actor.name)
