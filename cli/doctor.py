"""``raigov doctor``: checks a home the way an operator would, one line per check
(``ok``, ``warn`` or ``FAIL``, the check's name, what was found), exit 1 when any
check fails. It reads files and the catalog; it changes nothing."""

from __future__ import annotations

import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors

MIN_FREE_BYTES = 1 << 30          # 1 GiB
MIN_FREE_SHARE = 0.05
LABELS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
STALE_SPOOL_S = 300               # a spool file untouched this long, its writer gone


@dataclass(frozen=True)
class Check:
    name: str
    status: str                   # ok | warn | fail
    message: str


def _open_to_others(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _where(home, path: Path) -> Path:
    """``path`` relative to the home when inside it (a catalog or lake may lie outside)."""
    return path.relative_to(home.root) if path.is_relative_to(home.root) else path


def _shown(home, paths: list[Path]) -> str:
    return ", ".join(f"{_where(home, p)} ({p.stat().st_mode & 0o777:o})" for p in paths[:3])


def check_permissions(home) -> Check:
    """Secrets (the keys folder and its files) readable by the owner only: a failure.
    The catalog and the API key hashes open to others: a warning."""
    keys = [home.keys, *home.keys.rglob("*")] if home.keys.exists() else []
    secrets = [p for p in keys if _open_to_others(p)]
    if secrets:
        return Check("permissions", "fail", f"secrets open to group or others: "
                     f"{_shown(home, secrets)}; chmod go-rwx them")
    from raigov.store.catalog_url import catalog_target

    target = catalog_target(home)
    files = [p for p in (target.path, home.api_keys_path) if p is not None]
    loose = [p for p in files if p.exists() and _open_to_others(p)]
    if loose:
        return Check("permissions", "warn", f"readable by group or others: "
                     f"{_shown(home, loose)}; chmod go-rwx to keep hashes private")
    catalog = ("catalog file owner-only" if target.path is not None else
               "catalog on PostgreSQL (access is its server's roles and grants)")
    return Check("permissions", "ok", f"{len(keys)} key path(s), {catalog}")


def check_spool(home) -> Check:
    """Spool files (acknowledged rows not yet sealed into the lake): those of a writer
    that is gone wait for the next ``raigov serve`` to seal them."""
    from raigov.durable import lock_holder

    if not home.spool.exists():
        return Check("spool backlog", "ok", "no spool")
    files = list(home.spool.rglob("*.wal"))
    size = sum(p.stat().st_size for p in files)
    now = time.time()
    orphaned = [p for p in files if lock_holder(p.parent / "LOCK") is None
                and now - p.stat().st_mtime > STALE_SPOOL_S]
    if orphaned:
        return Check("spool backlog", "fail",
                     f"{len(orphaned)} spool file(s) of a stopped writer wait to be sealed "
                     f"(e.g. {orphaned[0].relative_to(home.root)}): start `raigov serve` "
                     "on this home to seal them")
    return Check("spool backlog", "ok", f"{len(files)} file(s), {size:,} bytes in live spools")


def check_unsealed(home) -> Check:
    """Half-written lake files (a crash between write and rename) left behind."""
    from raigov.store.lake_s3 import lake_from_env

    lake = lake_from_env(home)
    if lake is not None and not isinstance(lake, Path):
        # objects are uploaded whole: no half-written object exists to find
        return Check("unsealed files", "ok", "lake on object storage (objects are "
                     "uploaded whole)")
    root = lake if isinstance(lake, Path) else home.lake
    stray = [p for p in root.rglob("*.tmp")] if root.exists() else []
    if stray:
        return Check("unsealed files", "fail",
                     f"{len(stray)} half-written lake file(s), e.g. "
                     f"{_where(home, stray[0])}: never read; safe to delete once no "
                     "raigov process runs")
    return Check("unsealed files", "ok", "none")


def check_locks(home) -> Check:
    """Which processes hold a monitor lock now (a killed one holds none)."""
    from raigov.durable import lock_holder

    folder = home.root / "locks"
    held = []
    for path in sorted(folder.glob("*.lock")) if folder.exists() else []:
        holder = lock_holder(path)
        if holder is not None:
            held.append(f"{path.stem}: {holder or 'unknown process'}")
    if held:
        return Check("lock holders", "ok", "; ".join(held))
    return Check("lock holders", "ok", "no lock held")


def check_disk(home) -> Check:
    usage = shutil.disk_usage(home.root)
    free, share = usage.free, usage.free / usage.total if usage.total else 0.0
    text = f"{free / (1 << 30):.1f} GiB free ({share:.0%})"
    if free < MIN_FREE_BYTES or share < MIN_FREE_SHARE:
        return Check("disk space", "fail", f"{text}: under 1 GiB or 5 %; capture will stop "
                     "when the disk fills")
    return Check("disk space", "ok", text)


def check_catalog(home) -> Check:
    """Where the catalog is (RAIGOV_CATALOG_URL), and that it answers."""
    from raigov.errors import RaigovError
    from raigov.store.catalog import catalog
    from raigov.store.catalog_url import catalog_target

    try:
        target = catalog_target(home)
        with catalog(home, read_only=True) as con:
            models = con.execute("SELECT count(*) FROM models").fetchone()[0]
    except RaigovError as exc:
        return Check("catalog", "fail", str(exc))
    return Check("catalog", "ok", f"{target.engine} at {target.display}: {models} model "
                 "version(s)")


def check_checkpoint(home) -> Check:
    """The ledger head is covered by the last signed checkpoint."""
    from raigov.ledger.checkpoints import read_checkpoints
    from raigov.store.catalog import catalog

    with catalog(home, read_only=True) as con:
        head = con.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    if head is None:
        return Check("ledger checkpoint", "ok", "empty ledger")
    lines = [line.checkpoint for line in read_checkpoints(home) if line.checkpoint is not None]
    last = max(lines, key=lambda c: c.seq, default=None)
    if last is None:
        return Check("ledger checkpoint", "fail", f"ledger head seq {head[0]} has no checkpoint")
    if last.seq != head[0] or last.head_hash != head[1]:
        return Check("ledger checkpoint", "fail",
                     f"ledger head seq {head[0]}, last checkpoint seq {last.seq}: "
                     "run `raigov audit verify`")
    return Check("ledger checkpoint", "ok", f"head seq {head[0]} checkpointed at {last.at}")


CHECKS: tuple[Callable, ...] = (check_permissions, check_catalog, check_spool, check_unsealed,
                                check_locks, check_disk, check_checkpoint)


def run_checks(home) -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check(home))
        except Exception as exc:  # noqa: BLE001 - a check that cannot run has failed
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(Check(name, "fail", f"could not check: {type(exc).__name__}: {exc}"))
    return results


@click.command("doctor")
@HOME_OPTION
@translate_errors
def doctor(home: str | None) -> None:
    """Check a home: permissions, spool backlog, unsealed files, lock holders, disk
    space, ledger head checkpointed. Exit 1 when a check fails."""
    where = resolve_home(home)
    if not where.root.exists():
        raise click.UsageError(f"No raigov home at {where.root}.")
    results = run_checks(where)
    for r in results:
        click.echo(f"{LABELS[r.status]} {r.name}: {r.message}")
    if any(r.status == "fail" for r in results):
        raise SystemExit(1)
