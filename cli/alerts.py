"""``raigov alerts``: list, acknowledge and resolve alerts from the terminal.

The CLI acts as a named person (``--as USER``, else ``$RAIGOV_USER``), looked up in
the home's users and checked for the same permission the dashboard checks; the alert
transition and its ledger event are the dashboard's own (:mod:`raigov.dashboard.actions`),
with that user as the actor."""

from __future__ import annotations

import dataclasses
import json
import os

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors

USER_ENV = "RAIGOV_USER"
NO_ACTOR = ("Say who you are: pass --as USER or set $RAIGOV_USER to a user of this home "
            "(`raigov users list`); the ledger records who acknowledged or resolved.")
MIN_ID = 8
MOVED = "{verb} alert {alert_id} ({model} {rule} {segment}) as {actor}: now {status}"

_as_option = click.option("--as", "as_user", default=None, metavar="USER",
                          help="The user acting (default: $RAIGOV_USER); their role must "
                          "allow it.")
_comment_option = click.option("--comment", default=None, help="What was seen, done or decided "
                               "(recorded in the ledger).")


@click.group()
def alerts() -> None:
    """List, acknowledge and resolve alerts (as a user of the home)."""


def short_ids(ids: list[str]) -> dict[str, str]:
    """Each id cut to the shortest prefix (at least 8 characters) no other id shares."""
    out = {}
    ordered = sorted(ids)
    for i, full in enumerate(ordered):
        neighbours = [n for n in (ordered[i - 1] if i else None,
                                  ordered[i + 1] if i + 1 < len(ordered) else None) if n]
        length = MIN_ID
        while length < len(full) and any(n.startswith(full[:length]) for n in neighbours):
            length += 1
        out[full] = full[:length]
    return out


def _jsonable(alert) -> dict:
    record = dataclasses.asdict(alert)
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in record.items()}


@alerts.command("list")
@HOME_OPTION
@click.option("--status", default=None, help="open, acknowledged or resolved.")
@click.option("--severity", default=None, help="info, warning or critical.")
@click.option("--model", default=None, help="Only this model's alerts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@translate_errors
def alerts_list(home: str | None, status: str | None, severity: str | None,
                model: str | None, fmt: str) -> None:
    """Alerts, newest first (any id prefix shown works for ack and resolve)."""
    from raigov.policies.alerts import list_alerts

    where = resolve_home(home)
    found = list_alerts(where, model=model, status=status, severity=severity)
    if fmt == "json":
        click.echo(json.dumps([_jsonable(a) for a in found], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    short = short_ids([a.alert_id for a in list_alerts(where)])
    console = Console()
    if not found:
        console.print("No alerts match.", markup=False, highlight=False)
        return
    table = Table("id", "status", "severity", "model", "rule [segment]", "last seen",
                  expand=False, pad_edge=False, box=None)
    ids = [short.get(a.alert_id, a.alert_id) for a in found]
    widths = ((max(map(len, ids)),) * 2, (12, 12), (8, 8), (6, 10), (10, 18), (10, 10))
    for column, (least, most) in zip(table.columns, widths):
        column.overflow, column.no_wrap = "ellipsis", True
        column.min_width, column.max_width = least, most
    for shown, a in zip(ids, found):
        last = a.last_seen_window_start
        segment = "" if a.segment == "all" else f" [{a.segment}]"
        table.add_row(shown, a.status, a.severity, a.model,
                      f"{a.policy}/{a.rule_id}{segment}",
                      "" if last is None else f"{last:%Y-%m-%d}")
    console.print(table)
    console.print(f"{len(found)} alert(s)", markup=False, highlight=False)


def _actor(home, as_user: str | None):
    from raigov.users import get_user

    name = as_user or os.environ.get(USER_ENV)
    if not name:
        raise click.UsageError(NO_ACTOR)
    return get_user(home, name)


def _moved(verb: str, alert, actor: str) -> None:
    click.echo(MOVED.format(verb=verb, alert_id=alert.alert_id, model=alert.model,
                            rule=f"{alert.policy}/{alert.rule_id}", segment=alert.segment,
                            actor=actor, status=alert.status))


@alerts.command("ack")
@click.argument("alert_id")
@_comment_option
@_as_option
@HOME_OPTION
@translate_errors
def alerts_ack(alert_id: str, comment: str | None, as_user: str | None,
               home: str | None) -> None:
    """Acknowledge an open alert (role owner or admin)."""
    from raigov.dashboard.actions import acknowledge

    where = resolve_home(home)
    user = _actor(where, as_user)
    _moved("acknowledged", acknowledge(where, user, alert_id, comment=comment), user.name)


@alerts.command("resolve")
@click.argument("alert_id")
@_comment_option
@_as_option
@HOME_OPTION
@translate_errors
def alerts_resolve(alert_id: str, comment: str | None, as_user: str | None,
                   home: str | None) -> None:
    """Resolve an open or acknowledged alert; --comment is required (role owner or
    admin)."""
    from raigov.dashboard.actions import resolve

    if not comment or not comment.strip():
        raise click.UsageError("Resolving an alert needs --comment: say what was done or "
                               "decided.")
    where = resolve_home(home)
    user = _actor(where, as_user)
    _moved("resolved", resolve(where, user, alert_id, comment=comment), user.name)
