"""What every CLI module shares: the ``--home`` option and the translation of raigov
errors into a message on stderr and the error's exit code (raise inside, translate at
the edge). Kept apart from ``raigov.cli`` so area command modules import it without a
cycle."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from raigov.errors import RaigovError

HOME_OPTION = click.option("--home", type=click.Path(file_okay=False), default=None,
                           help="raigov home (default: $RAIGOV_HOME or ./.raigov).")


def resolve_home(home: str | None):
    from raigov.home import Home

    return Home.resolve(home)


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
