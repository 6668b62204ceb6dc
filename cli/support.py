"""What every CLI module shares: the ``--home`` option and the translation of raigov
errors into a message on stderr and the error's exit code (raise inside, translate at
the edge). Kept apart from ``raigov.cli`` so area command modules import it without a
cycle."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from raigov.errors import RaigovError

if TYPE_CHECKING:
    from raigov.registry import Registry

HOME_OPTION = click.option("--home", type=click.Path(file_okay=False), default=None,
                           help="raigov home (default: $RAIGOV_HOME or ./.raigov).")


NO_HOME = ("no raigov home at {root}: its catalog {catalog} does not exist (check --home "
           "or RAIGOV_HOME; `raigov models register` or `raigov demo` creates a home)")


def resolve_home(home: str | None, *, must_exist: bool = False):
    """The home ``--home`` names. ``must_exist``: refuse, rather than create, a home
    whose catalog file is missing (a typo in ``--home`` would otherwise give an empty
    home and a run that finds nothing); a catalog elsewhere (``RAIGOV_CATALOG_URL``)
    may serve a host whose home is still empty."""
    from raigov.errors import ConfigError
    from raigov.home import Home
    from raigov.store.catalog_url import catalog_target

    resolved = Home.resolve(home)
    if must_exist:
        target = catalog_target(resolved)
        if target.path is not None and not target.path.exists():
            raise ConfigError(NO_HOME.format(root=resolved.root, catalog=target.path))
    return resolved


def translate_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Raigov errors become ``Error: <message>`` on stderr and the error's exit code."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RaigovError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


TLS_PAIR = "Give both --tls-cert and --tls-key, or neither (got only {given})."
TLS_CERT_OPTION = click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
                               default=None, help="Serve HTTPS with this PEM certificate "
                               "(chain); needs --tls-key.")
TLS_KEY_OPTION = click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
                              default=None, help="The PEM private key of --tls-cert.")


def check_tls_pair(cert: str | None, key: str | None) -> None:
    if (cert is None) != (key is None):
        raise click.UsageError(TLS_PAIR.format(given="--tls-cert" if cert else "--tls-key"))


def parse_when(value: str | None):
    """An ISO 8601 option value as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time") from exc
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when the option is used (after the
    plugins loaded), never kept by hand."""

    def __init__(self, load: Callable[[], "Registry[Any]"]) -> None:
        self._load = load
        super().__init__((), case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return tuple(self._load().names())

    @choices.setter
    def choices(self, _value: Sequence[str]) -> None:
        pass   # click.Choice assigns it once; the registry is the source
