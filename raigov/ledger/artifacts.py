"""The SHA-256 of every file of a registered model version, as its ``model.registered``
event records it, and the check that the files on disk are still those files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from raigov.errors import VerificationError
from raigov.home import Home
from raigov.ledger.chain import LedgerEvent

REGISTERED_EVENT = "model.registered"
FILE_CHANGED = ("{subject}: artifact file {file} changed since registration (event {seq}): "
                "sha256 {actual}, the ledger recorded {expected}")
FILE_MISSING = ("{subject}: artifact file {file} recorded at registration (event {seq}) is "
                "missing")
FILE_ADDED = ("{subject}: artifact file {file} was added after registration (event {seq}): "
              "the ledger does not account for it")
REFUSED = "Refusing to load {subject}: {problem}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_digests(directory: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``directory``."""
    return {p.relative_to(directory).as_posix(): file_sha256(p)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def artifact_changes(home: Home, event: LedgerEvent) -> list[str]:
    """Why the files of the version registered by ``event`` differ from what it recorded
    (empty: unchanged, or an event from before digests were recorded)."""
    files = event.payload.get("files")
    relative = event.payload.get("artifact_dir")
    if not isinstance(files, dict) or not isinstance(relative, str):
        return []
    directory = home.root / relative
    actual = directory_digests(directory) if directory.is_dir() else {}
    out: list[str] = []
    fields = {"subject": event.subject, "seq": event.seq}
    for name, expected in sorted(files.items()):
        got = actual.get(name)
        if got is None:
            out.append(FILE_MISSING.format(file=name, **fields))
        elif got != expected:
            out.append(FILE_CHANGED.format(file=name, actual=got[:12], expected=expected[:12],
                                           **fields))
    # Files added later are not flagged: raigov writes caches (reference_profile.json)
    # beside a version; the loader reads only the files registration recorded.
    return out


def registered_event(events: Sequence[LedgerEvent], subject: str) -> LedgerEvent | None:
    found = [e for e in events if e.kind == REGISTERED_EVENT and e.subject == subject]
    return found[-1] if found else None


def check_artifact(home: Home, subject: str) -> None:
    """Raise :class:`VerificationError` (exit 1) naming the first changed file of the
    registered version ``subject`` (``name@version``)."""
    from raigov.ledger.chain import read_events
    from raigov.store.catalog import catalog

    with catalog(home, read_only=True) as con:
        events = read_events(con, kind=REGISTERED_EVENT, subject=subject)
    if not events:
        return
    changes = artifact_changes(home, events[-1])
    if changes:
        raise VerificationError(REFUSED.format(subject=subject, problem=changes[0]))
