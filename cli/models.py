"""``raigov models``: register, infer-spec, list, disable and enable.

Imported by ``raigov.cli`` at start, so it imports nothing heavy at the top; the
shared option and error translation come from ``raigov.cli.support``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors

REGISTERED = "Registered {model} version {version} ({kind}, {format} artifact, {rows} reference rows)."
SPEC_WRITTEN = "Spec written to {path}; check the fields its comments name, then register it."


@click.group()
def models() -> None:
    """Register, list, disable and enable models."""


@models.command("register")
@click.option("--spec", "spec_file", required=True, type=click.Path(dir_okay=False),
              help="The model spec, a YAML file (see 'Model spec files' in the README).")
@click.option("--artifact", default=None, type=click.Path(),
              help="Artifact directory (export, module or builtin format) or a .pt2 file; "
                   "leave out for an external model.")
@click.option("--reference", default=None, type=click.Path(dir_okay=False),
              help="Reference rows (Parquet or CSV): inputs and, when known, the ground "
                   "truth under the spec's label_name.")
@HOME_OPTION
@click.option("--actor", default="cli", show_default=True, help="Recorded in the ledger.")
@translate_errors
def models_register(spec_file: str, artifact: str | None, reference: str | None,
                    home: str | None, actor: str) -> None:
    """Register a new version of a model (versions are immutable)."""
    from raigov.models.registration import register_model_files

    reg = register_model_files(resolve_home(home), spec_file, artifact=artifact,
                               reference=reference, actor=actor)
    rows = len(reg.load_reference())
    click.echo(REGISTERED.format(model=reg.name, version=reg.version, kind=reg.spec.output_kind,
                                 format=reg.artifact_format, rows=rows))


@models.command("infer-spec")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--label", required=True, help="The ground-truth column (sets output_kind).")
@click.option("--sensitive", multiple=True, help="A sensitive column (repeatable).")
@click.option("--name", default=None, help="Model name (default: the data file's name).")
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Write the spec here (default: standard output).")
@translate_errors
def models_infer_spec(data: str, label: str, sensitive: tuple[str, ...], name: str | None,
                      output: str | None) -> None:
    """Write a starting spec (YAML with comments) from a Parquet or CSV file."""
    from raigov.models.infer_spec import infer_spec_text
    from raigov.models.registration import read_table

    path = Path(data)
    text = infer_spec_text(read_table(path), label=label, sensitive=sensitive,
                           name=name or path.name.split(".")[0], path=path.name)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(SPEC_WRITTEN.format(path=output), err=True)


@models.command("list")
@HOME_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: every version, with its spec.")
@translate_errors
def models_list(home: str | None, fmt: str) -> None:
    """Registered models (the table: latest versions) and their status."""
    from raigov.models.serving.control import model_status
    from raigov.models.registry import list_models

    h = resolve_home(home)
    disabled = model_status(h)
    if fmt == "json":
        import json

        versions = list_models(h, latest_only=False)
        click.echo(json.dumps({"models": _as_json(versions, disabled)}, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "version", "kind", "artifact", "features", "sensitive", "status")
    for m in list_models(h):
        table.add_row(m.name, str(m.version), m.spec.output_kind, m.artifact_format,
                      str(len(m.spec.features)), ", ".join(m.spec.sensitive),
                      _status(disabled, m.name, m.version))
    Console().print(table)


def _status(disabled: dict[str, Any], name: str, version: int) -> str:
    entry = disabled.get(f"{name}@{version}") or disabled.get(name)
    return f"disabled: {entry['reason']}" if entry else "enabled"


def _as_json(versions: list[Any], disabled: dict[str, Any]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in versions:
        entry = out.setdefault(m.name, {"name": m.name, "latest_version": m.version,
                                        "versions": []})
        entry["latest_version"] = m.version
        entry["versions"].append({
            "version": m.version, "created_at": m.created_at.isoformat(),
            "output_kind": m.spec.output_kind, "artifact_format": m.artifact_format,
            "status": _status(disabled, m.name, m.version), "spec_sha256": m.spec_sha256,
            "spec": m.spec.model_dump(mode="json")})
    return list(out.values())


def _set_enabled(model: str, home: str | None, *, enabled: bool, version: int | None,
                 reason: str | None, actor: str) -> None:
    from raigov.models.serving.control import set_model_enabled

    set_model_enabled(resolve_home(home), model, enabled=enabled, actor=actor, reason=reason,
                      version=version)
    click.echo(f"{model}: {'enabled' if enabled else 'disabled'}")


@models.command("disable")
@click.argument("model")
@HOME_OPTION
@click.option("--reason", required=True, help="Why; recorded in the ledger.")
@click.option("--version", type=int, default=None, help="Only this version.")
@click.option("--actor", default="cli", show_default=True)
@translate_errors
def models_disable(model: str, home: str | None, reason: str, version: int | None,
                   actor: str) -> None:
    """Disable a model (kill switch): serving answers 503 until it is enabled."""
    _set_enabled(model, home, enabled=False, version=version, reason=reason, actor=actor)


@models.command("enable")
@click.argument("model")
@HOME_OPTION
@click.option("--version", type=int, default=None, help="Only this version.")
@click.option("--actor", default="cli", show_default=True)
@translate_errors
def models_enable(model: str, home: str | None, version: int | None, actor: str) -> None:
    """Re-enable a disabled model."""
    _set_enabled(model, home, enabled=True, version=version, reason=None, actor=actor)
