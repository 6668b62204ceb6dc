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
