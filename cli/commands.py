"""The ``raigov`` command. A thin layer: it parses options, imports the area it needs
lazily (so ``raigov --help`` is fast), calls its API and maps raigov errors to exit
codes: 0 ok, 1 a rule or verification failed, 2 bad usage, input or configuration.

Before any command runs, the group loads the plugins (entry points of group
``raigov.plugins`` and the ``plugins`` list of the home's settings file, the home
being the command's ``--home``, else ``$RAIGOV_HOME``, else ``./.raigov``)."""

from __future__ import annotations

import click

from raigov.cli.support import HOME_OPTION, translate_errors
from raigov.cli.support import resolve_home as _home

_ARGS = "raigov.args"


class _PluginGroup(click.Group):
    """The root group; it keeps the command line so the callback can find ``--home``
    before the command itself is parsed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS] = list(args)
        return super().parse_args(ctx, args)


def _home_arg(args: list[str]) -> str | None:
    """The value of ``--home`` on the command line (of any command), if given."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--home" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--home="):
            return arg.split("=", 1)[1]
    return None


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="raigov")
@click.pass_context
@translate_errors
def main(ctx: click.Context) -> None:
    """raigov: govern and monitor served PyTorch models."""
    from raigov.plugins import load_plugins

    load_plugins(_home(_home_arg(ctx.meta.get(_ARGS, []))))


@main.command()
@HOME_OPTION
def metrics(home: str | None) -> None:
    """Every metric name a monitor emits, with its meaning (built-in families and the
    plugins' own)."""
    from rich.console import Console
    from rich.table import Table

    from raigov.monitors.catalog import metrics as catalog

    table = Table("metric", "meaning", "better", "needs labels")
    for m in catalog():
        better = {True: "higher", False: "lower", None: ""}[m.higher_is_better]
        table.add_row(m.name, m.meaning, better, "yes" if m.needs_labels else "")
    Console(width=160).print(table)


def _register_area_commands() -> None:
    """Commands that live beside their area's CLI module (each imports lazily)."""
    from raigov.cli.alerts import alerts
    from raigov.cli.audit import audit
    from raigov.cli.dashboard import dashboard, users
    from raigov.cli.doctor import doctor
    from raigov.cli.demo.command import demo
    from raigov.cli.explain import explain
    from raigov.cli.keys import keys
    from raigov.cli.lake import lake
    from raigov.cli.ledger import ledger
    from raigov.cli.retention import erase, retention
    from raigov.cli.models import models
    from raigov.cli.monitor import monitor
    from raigov.cli.policy_check import policy_check
    from raigov.cli.probe import probe
    from raigov.cli.reports import card, report
    from raigov.cli.serve import serve

    for command in (serve, monitor, policy_check, audit, demo, dashboard, users, models,
                    card, report, explain, keys, ledger, alerts, doctor, lake, retention,
                    erase, probe):
        main.add_command(command)


_register_area_commands()

if __name__ == "__main__":
    main()
