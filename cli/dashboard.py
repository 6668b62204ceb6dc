"""CLI commands for the dashboard and its users.

``raigov dashboard`` execs ``streamlit run dashboard/app.py`` with the home in
``$RAIGOV_HOME`` and every setting of ``dashboard/.streamlit/config.toml`` passed as a
command-line flag, so usage statistics stay off and the server stays headless whatever
directory it is started from. Streamlit is imported only by that child process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from raigov.cli.support import HOME_OPTION as _home_option
from raigov.cli.support import TLS_CERT_OPTION, TLS_KEY_OPTION, check_tls_pair
from raigov.cli.support import resolve_home as _home
from raigov.cli.support import translate_errors as _errors_to_exit

ROLE_CHOICE = click.Choice(["viewer", "owner", "auditor", "admin"])
PASSWORDS_DIFFER = "The passwords do not match."
NO_PASSWORD_ON_STDIN = "--password-stdin was given but standard input held no password."
PASSWORD_OPTIONS_CLASH = "Give at most one of --password-stdin and --no-password."
APP_MISSING = "The dashboard's entry script app.py is not in {paths}: reinstall raigov."
STARTING = "raigov dashboard on {scheme}://{host}:{port} (home {home})"

_actor_option = click.option("--actor", default="cli", show_default=True,
                             help="Who makes the change; recorded in the ledger.")


def app_path() -> Path:
    """The dashboard's entry script, wherever the package is installed."""
    from raigov import dashboard   # the package's __init__ only: streamlit is not imported here

    # __path__, not __file__: an editable install may see the package as a namespace
    for folder in dashboard.__path__:
        candidate = Path(folder) / "app.py"
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(APP_MISSING.format(paths=list(dashboard.__path__)))


def config_flags(config_file: Path) -> list[str]:
    """``--section.key value`` for every setting in a Streamlit config.toml."""
    import tomllib

    flags: list[str] = []
    data = tomllib.loads(config_file.read_text()) if config_file.exists() else {}
    for section, settings in data.items():
        for key, value in settings.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{key}", text]
    return flags


def streamlit_command(*, host: str, port: int, tls_cert: str | None = None,
                      tls_key: str | None = None) -> list[str]:
    app = app_path()
    tls = (["--server.sslCertFile", str(tls_cert), "--server.sslKeyFile", str(tls_key)]
           if tls_cert and tls_key else [])
    return [sys.executable, "-m", "streamlit", "run", str(app),
            *config_flags(app.parent / ".streamlit" / "config.toml"),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.address", host, "--server.port", str(port), *tls]


@click.command()
@_home_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--session-minutes", default=None, type=float,
              help="Sign a person out after this many idle minutes (default 60).")
@TLS_CERT_OPTION
@TLS_KEY_OPTION
@_errors_to_exit
def dashboard(home: str | None, host: str, port: int, session_minutes: float | None,
              tls_cert: str | None, tls_key: str | None) -> None:
    """Start the Streamlit dashboard (sign-in required; no usage statistics sent)."""
    check_tls_pair(tls_cert, tls_key)
    resolved = _home(home).ensure()
    env = {**os.environ, "RAIGOV_HOME": str(resolved.root)}
    if session_minutes is not None:
        env["RAIGOV_SESSION_MINUTES"] = str(session_minutes)
    click.echo(STARTING.format(scheme="https" if tls_cert else "http", host=host, port=port,
                               home=resolved.root), err=True)
    launch(streamlit_command(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key), env)


def launch(command: list[str], env: dict[str, str]) -> None:
    """Replace this process with the server (it gets our pid and our signals); where
    there is no exec, run it as a child and exit with its code."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(command[0], command, env)
    import subprocess

    sys.exit(subprocess.call(command, env=env))


@click.group()
def users() -> None:
    """Manage dashboard users and their roles."""


def _read_password(name: str, *, password_stdin: bool, no_password: bool) -> str | None:
    if password_stdin and no_password:
        raise click.UsageError(PASSWORD_OPTIONS_CLASH)
    if no_password:
        return None
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError(NO_PASSWORD_ON_STDIN)
        return line
    return click.prompt(f"Password for {name}", hide_input=True,
                        confirmation_prompt=True)


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True,
              help="No password: the user signs in through the OIDC provider only.")
@_home_option
@_actor_option
@_errors_to_exit
def users_add(name: str, role: str, password_stdin: bool, no_password: bool,
              home: str | None, actor: str) -> None:
    """Add a user (the password is prompted for unless given on stdin)."""
    from raigov.users import add_user

    password = _read_password(name, password_stdin=password_stdin, no_password=no_password)
    add_user(_home(home), name, role=role, password=password, actor=actor)
    click.echo(f"added {name} ({role})")


@users.command("list")
@_home_option
@_errors_to_exit
def users_list(home: str | None) -> None:
    """Users, their roles and how they sign in."""
    from rich.console import Console
    from rich.table import Table

    from raigov.users import list_users

    table = Table("name", "role", "signs in with", "created", "by")
    for user in list_users(_home(home)):
        table.add_row(user.name, user.role, "password" if user.has_password else "OIDC",
                      f"{user.created_at:%Y-%m-%d %H:%M}", user.created_by)
    Console(width=160).print(table)


@users.command("set-role")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True)
@_home_option
@_actor_option
@_errors_to_exit
def users_set_role(name: str, role: str, home: str | None, actor: str) -> None:
    """Change a user's role."""
    from raigov.users import set_role

    set_role(_home(home), name, role=role, actor=actor)
    click.echo(f"{name}: role {role}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_home_option
@_actor_option
@_errors_to_exit
def users_passwd(name: str, password_stdin: bool, home: str | None, actor: str) -> None:
    """Set a user's password."""
    from raigov.users import set_password

    password = _read_password(name, password_stdin=password_stdin, no_password=False)
    set_password(_home(home), name, password=password, actor=actor)
    click.echo(f"{name}: password set")


@users.command("remove")
@click.argument("name")
@_home_option
@_actor_option
@_errors_to_exit
def users_remove(name: str, home: str | None, actor: str) -> None:
    """Remove a user."""
    from raigov.users import remove_user

    remove_user(_home(home), name, actor=actor)
    click.echo(f"removed {name}")
