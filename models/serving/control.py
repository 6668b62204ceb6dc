"""The kill switch: disable or enable a model, recorded in the catalog and the ledger,
and published to serving processes through a small control file.

Serving must never wait on the catalog, so ``raigov serve`` does not query it per
request: it checks the control file's modification time (one ``stat``) and rereads the
file when it changed. The catalog row and the ledger event are the record; the control
file is rewritten atomically from the catalog after every change.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from raigov.canonical import iso_utc, utcnow
from raigov.store.catalog import catalog
from raigov.errors import ConfigError
from raigov.home import Home
from raigov.ledger.chain import append_event

REASON_REQUIRED = "Disabling model '{name}' needs a reason (--reason TEXT)."


def control_path(home: Home) -> Path:
    return home.root / "control.json"


def set_model_enabled(home: Home, name: str, *, enabled: bool, actor: str,
                      reason: str | None = None, version: int | None = None) -> None:
    """Disable (with a reason) or re-enable a model; every version unless one is named."""
    from raigov.models.registry import get_model

    get_model(home, name, version)  # NotFoundError for unknown names and versions
    if not enabled and not (reason and reason.strip()):
        raise ConfigError(REASON_REQUIRED.format(name=name))
    with catalog(home) as con:
        con.execute("INSERT INTO model_status VALUES (?, ?, ?, ?, ?, ?)",
                    [name, version, enabled, reason, actor, utcnow()])
        append_event(con, "model.enabled" if enabled else "model.disabled", actor=actor,
                     subject=name if version is None else f"{name}@{version}",
                     payload={"model": name, "version": version, "reason": reason})
        disabled = _disabled_from(con)
    _publish(home, disabled)


def _disabled_from(con) -> dict[str, dict]:
    rows = con.execute(
        "SELECT name, version, enabled, reason, actor, changed_at FROM model_status "
        "QUALIFY row_number() OVER (PARTITION BY name, version ORDER BY changed_at DESC) = 1"
    ).fetchall()
    out: dict[str, dict] = {}
    for name, version, enabled, reason, actor, at in rows:
        if not enabled:
            key = name if version is None else f"{name}@{version}"
            out[key] = {"reason": reason, "actor": actor, "since": iso_utc(at)}
    return out


def _publish(home: Home, disabled: dict[str, dict]) -> None:
    path = control_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"disabled": disabled}, indent=1, sort_keys=True))
    os.replace(tmp, path)


@dataclass
class ControlWatcher:
    """Cheap per-request check of the kill switch for a serving process."""

    home: Home
    _mtime: float = -1.0
    _disabled: dict | None = None

    def disabled_reason(self, name: str, version: int) -> str | None:
        path = control_path(self.home)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if mtime != self._mtime:
            self._disabled = json.loads(path.read_text()).get("disabled", {})
            self._mtime = mtime
        entry = (self._disabled or {}).get(f"{name}@{version}") or (self._disabled or {}).get(name)
        return None if entry is None else str(entry.get("reason") or "disabled")


def model_status(home: Home) -> dict[str, dict]:
    """Disabled models and versions with reason, actor and time."""
    with catalog(home, read_only=True) as con:
        return _disabled_from(con)
