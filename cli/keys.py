"""``raigov keys``: the API keys of ``raigov serve`` (see :mod:`raigov.keys`).

``create`` prints the token once, as the last line of its standard output, so a script
can take it with ``tail -n 1``; raigov keeps only its hash. ``list`` never shows a
token or a hash."""

from __future__ import annotations

import json

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors

SCOPE_HELP = ("A scope (repeatable): predict, feedback, log, backfill, metrics, admin "
              "(admin: every scope).")
CREATED = ("created API key '{name}' (id {key_id}): scopes {scopes}; models {models}; "
           "expires {expires}; rate {rate}")
TOKEN_ONCE = "token (shown once; raigov keeps only its hash):"
REVOKED = "revoked API key '{name}' (id {key_id}); running servers refuse it from their next request"

_actor_option = click.option("--actor", default="cli", show_default=True,
                             help="Who makes the change; recorded in the ledger.")


@click.group()
def keys() -> None:
    """Manage the API keys that raigov serve accepts."""


@keys.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help=SCOPE_HELP)
@click.option("--model", "models", multiple=True,
              help="Bind the key to this registered model (repeatable; default: every model).")
@click.option("--expires", default=None,
              help="Expiry: an ISO 8601 date (its 00:00 UTC) or date-time (default: never).")
@click.option("--rate", default=None,
              help="Rate limit in requests per second per server, as N/s (default: unlimited).")
@HOME_OPTION
@_actor_option
@translate_errors
def keys_create(name: str, scopes: tuple[str, ...], models: tuple[str, ...],
                expires: str | None, rate: str | None, home: str | None, actor: str) -> None:
    """Make an API key; its token is printed once, as the last line."""
    from raigov.keys import create_key, parse_expiry, parse_rate

    made = create_key(resolve_home(home), name, scopes=scopes, models=models or None,
                      expires_at=parse_expiry(expires) if expires else None,
                      rate_per_s=parse_rate(rate) if rate else None, actor=actor)
    key = made.key
    click.echo(CREATED.format(
        name=key.name, key_id=key.key_id, scopes=", ".join(key.scopes),
        models=", ".join(key.models) if key.models else "all",
        expires=key.expires_at.isoformat() if key.expires_at else "never",
        rate=f"{key.rate_per_s:g}/s" if key.rate_per_s else "unlimited"))
    click.echo(TOKEN_ONCE)
    click.echo(made.token)


@keys.command("list")
@HOME_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@translate_errors
def keys_list(home: str | None, fmt: str) -> None:
    """Every key with its scopes, models, expiry, rate and status (never a token or hash)."""
    from raigov.keys import list_keys

    described = [key.describe() for key in list_keys(resolve_home(home))]
    if fmt == "json":
        click.echo(json.dumps({"keys": described}, indent=1))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("name", "id", "scopes", "models", "expires", "rate", "status", "created", "by")
    for k in described:
        table.add_row(k["name"], k["key_id"], ", ".join(k["scopes"]),
                      ", ".join(k["models"]) if k["models"] else "all", k["expires_at"] or "never",
                      f"{k['rate_per_s']:g}/s" if k["rate_per_s"] else "unlimited", k["status"],
                      k["created_at"][:16], escape(k["created_by"]))
    Console(width=180).print(table)


@keys.command("revoke")
@click.argument("name")
@HOME_OPTION
@_actor_option
@translate_errors
def keys_revoke(name: str, home: str | None, actor: str) -> None:
    """Revoke a key; running servers refuse it from their next request on."""
    from raigov.keys import revoke_key

    key = revoke_key(resolve_home(home), name, actor=actor)
    click.echo(REVOKED.format(name=key.name, key_id=key.key_id))
