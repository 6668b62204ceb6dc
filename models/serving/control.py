"""The kill switch: disable or enable a model, recorded in the catalog and the ledger,
and published to serving processes through a small control file
(:mod:`raigov.store.control_file`).

Serving must never wait on the catalog, so ``raigov serve`` does not query it per
request: it checks the control file's modification time (one ``stat``) and rereads the
file when it changed. The catalog row and the ledger event are the record; the control
file is written durably from the catalog around every change. Serving fails closed: if
the file goes missing or cannot be read, the last state it knew (at the latest, the
catalog's when it started) stays in force, and ``/healthz`` says why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from raigov.canonical import utcnow
from raigov.errors import ConfigError
from raigov.home import Home
from raigov.ledger.chain import append_event
from raigov.store.catalog import catalog
from raigov.store.control_file import disabled_models, write_control_file

REASON_REQUIRED = "Disabling model '{name}' needs a reason (--reason TEXT)."
CONTROL_MISSING = ("the kill switch's control file {path} is missing while {models} are "
                   "disabled: they stay refused; any raigov command that opens the catalog "
                   "(raigov models list) rewrites it")
CONTROL_UNREADABLE = ("the kill switch's control file {path} cannot be read ({error}); the "
                      "last state read stays in force ({models} refused)")


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
        disabled = disabled_models(con)
        if not enabled:    # before the commit: a crash leaves the file stricter, not laxer
            write_control_file(home, disabled)
    write_control_file(home, disabled)


@dataclass
class ControlWatcher:
    """Cheap per-request check of the kill switch for a serving process. ``known``: the
    catalog's disabled models when the server started."""

    home: Home
    known: dict = field(default_factory=dict)
    _mtime: int | None = None
    _disabled: dict | None = None
    _problem: str | None = None

    def disabled_reason(self, name: str, version: int) -> str | None:
        self._refresh()
        disabled = self._disabled if self._disabled is not None else self.known
        entry = disabled.get(f"{name}@{version}") or disabled.get(name)
        return None if entry is None else str(entry.get("reason") or "disabled")

    def problem(self) -> str | None:
        """Why the kill switch is not read as it should be (for ``/healthz``)."""
        self._refresh()
        return self._problem

    def _refresh(self) -> None:
        path = self.home.control_path
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            self._mtime = None
            held = self._disabled if self._disabled is not None else self.known
            self._problem = CONTROL_MISSING.format(path=path, models=sorted(held)) if held else None
            return
        if mtime == self._mtime:
            return
        try:
            disabled = json.loads(path.read_text())["disabled"]
            if not isinstance(disabled, dict):
                raise ValueError(f"'disabled' is a {type(disabled).__name__}, not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            held = self._disabled if self._disabled is not None else self.known
            self._problem = CONTROL_UNREADABLE.format(path=path, error=exc, models=sorted(held))
            return
        self._disabled, self._mtime, self._problem = disabled, mtime, None


def model_status(home: Home) -> dict[str, dict]:
    """Disabled models and versions with reason, actor and time."""
    with catalog(home, read_only=True) as con:
        return disabled_models(con)
