"""The kill switch's control file (``<home>/control.json``): the models and versions the
catalog disables, in the form serving processes read without touching the catalog.

It is written durably (:func:`raigov.durable.write_durably`: temporary file, fsync,
rename, directory fsync). A disable is published before its unit commits and again
after, an enable only after, so the file is never less restrictive than the catalog.
If the file goes missing while the catalog disables anything, the next unit of work on
the catalog (any raigov command that opens it) rewrites it: :func:`restore_control_file`
runs at the end of every unit and costs one ``stat`` when the file is there.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from raigov.canonical import iso_utc
from raigov.durable import write_durably
from raigov.home import Home

log = logging.getLogger("raigov.control")

NOT_RESTORED = "the control file {path} is missing and could not be rewritten: {error}"


def disabled_models(con: Any) -> dict[str, dict]:
    """Disabled models (``name``) and versions (``name@version``), with reason, actor
    and time: the latest row of ``model_status`` per model and version."""
    rows = con.execute(
        "SELECT name, version, enabled, reason, actor, changed_at FROM (SELECT *, "
        "row_number() OVER (PARTITION BY name, version ORDER BY changed_at DESC) AS newest "
        "FROM model_status) AS s WHERE newest = 1"
    ).fetchall()
    out: dict[str, dict] = {}
    for name, version, enabled, reason, actor, at in rows:
        if not enabled:
            key = name if version is None else f"{name}@{version}"
            out[key] = {"reason": reason, "actor": actor, "since": iso_utc(at)}
    return out


def write_control_file(home: Home, disabled: dict[str, dict]) -> None:
    data = json.dumps({"disabled": disabled}, indent=1, sort_keys=True).encode()
    write_durably(home.control_path, data)


def restore_control_file(home: Home, con: Any) -> bool:
    """Rewrite a missing control file while the catalog disables anything. Returns
    whether it wrote; a failure is logged (serving keeps refusing what it knew)."""
    if home.control_path.exists():
        return False
    try:
        disabled = disabled_models(con)
        if not disabled:
            return False
        write_control_file(home, disabled)
    except Exception as exc:   # OSError, or the catalog's own error
        log.error(NOT_RESTORED.format(path=home.control_path, error=exc))
        return False
    log.warning("rewrote the missing control file %s from the catalog", home.control_path)
    return True
