"""``raigov ledger``: set up and use the Ed25519 key that signs the ledger's checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from raigov.cli.support import HOME_OPTION, translate_errors
from raigov.cli.support import resolve_home as _home

INITIALISED = ("Signing key {fp} written to {path} (mode 0600) and recorded in the ledger as "
               "event {seq}; checkpoint written for event {head}.\n"
               "Every raigov process must now run with RAIGOV_SIGNING_KEY_FILE={path}.\n"
               "Give auditors the public key (`raigov ledger public-key`).")
NO_KEY_RECORDED = ("The ledger of {home} records no signing key; run "
                   "`raigov ledger init-signing --private-key PATH` first.")
NO_KEY_CONFIGURED = ("RAIGOV_SIGNING_KEY_FILE is not set: no checkpoint can be signed "
                     "(see `raigov ledger init-signing`).")
CHECKPOINTED = "Checkpoint written: event {seq} ({hash}), signed by {fp}."
EMPTY = "The ledger is empty: nothing to checkpoint."


@click.group()
def ledger() -> None:
    """The ledger's signing key and checkpoints."""


@ledger.command("init-signing")
@HOME_OPTION
@click.option("--private-key", "private_key", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the new Ed25519 private key (PEM, mode 0600). Must be "
                   "outside the home; never overwritten.")
@translate_errors
def init_signing(home: str | None, private_key: Path) -> None:
    """Create the checkpoint signing key outside the home, record its public key in the
    ledger and sign a first checkpoint of the current head."""
    from raigov.ledger.init_signing import init_signing as create_signing_key

    done = create_signing_key(_home(home), private_key, actor="cli")
    click.echo(INITIALISED.format(fp=done.fingerprint, path=done.path, seq=done.event_seq,
                                  head=done.checkpoint_seq or "-"))


ROTATED = ("Signing key {old} rotated to {new}: the new key is written to {path} (mode "
           "0600) and linked to the old one in the ledger as event {seq}, signed by both; "
           "the old key signed the checkpoint covering that event and signs nothing after "
           "it.\nRestart every raigov process with RAIGOV_SIGNING_KEY_FILE={path}.\n"
           "Auditors holding the old public key can go on verifying; give them the new one "
           "too (`raigov ledger public-key`).")


@ledger.command("rotate-key")
@HOME_OPTION
@click.option("--new-private-key", "new_private_key", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the new Ed25519 private key (PEM, mode 0600). Must be "
                   "outside the home; never overwritten.")
@translate_errors
def rotate_key(home: str | None, new_private_key: Path) -> None:
    """Replace the checkpoint signing key: the current key (RAIGOV_SIGNING_KEY_FILE) and
    the new one both sign the link between them, recorded in the ledger."""
    from raigov.errors import ConfigError
    from raigov.ledger.chain import read_events, record_signing_key
    from raigov.ledger.checkpoints import write_checkpoint
    from raigov.ledger.rotation import check_rotating_key, rotation_payload
    from raigov.ledger.signing import (KEY_INSIDE_HOME, configured_private_key, fingerprint,
                                       generate_private_key, is_inside, write_private_key)
    from raigov.store.catalog import catalog

    h = _home(home)
    target = new_private_key.expanduser().absolute()
    if is_inside(target, h.root):
        raise ConfigError(KEY_INSIDE_HOME.format(path=target, home=h.root))
    old = configured_private_key(h)
    if old is None:
        raise ConfigError(NO_KEY_CONFIGURED)
    with catalog(h, read_only=True) as con:
        check_rotating_key(read_events(con), old)
    new = generate_private_key()
    write_private_key(target, new)
    with catalog(h) as con:
        event = record_signing_key(con, new.public_key(), actor="cli",
                                   extra=rotation_payload(old, new))
    # The unit above checkpointed its head with the configured (old) key; make sure.
    write_checkpoint(h, key=old)
    click.echo(ROTATED.format(old=fingerprint(old.public_key()),
                              new=fingerprint(new.public_key()), path=target, seq=event.seq))


@ledger.command("public-key")
@HOME_OPTION
@translate_errors
def public_key(home: str | None) -> None:
    """Print the PEM public key the ledger records for its checkpoints."""
    from raigov.errors import NotFoundError
    from raigov.ledger.chain import read_events
    from raigov.ledger.signing import SIGNING_KEY_EVENT
    from raigov.store.catalog import catalog

    h = _home(home)
    with catalog(h, read_only=True) as con:
        events = read_events(con, kind=SIGNING_KEY_EVENT)
    if not events:
        raise NotFoundError(NO_KEY_RECORDED.format(home=h.root))
    click.echo(str(events[-1].payload["public_key"]).rstrip("\n"))


@ledger.command("checkpoint")
@HOME_OPTION
@translate_errors
def checkpoint(home: str | None) -> None:
    """Sign and append a checkpoint of the ledger's head now."""
    from raigov.errors import ConfigError
    from raigov.ledger.checkpoints import write_checkpoint
    from raigov.ledger.signing import configured_private_key

    where = _home(home)
    key = configured_private_key(where)
    if key is None:
        raise ConfigError(NO_KEY_CONFIGURED)
    written = write_checkpoint(where, key=key)
    if written is None:
        click.echo(EMPTY)
        return
    click.echo(CHECKPOINTED.format(seq=written.seq, hash=written.head_hash[:12],
                                   fp=written.key))
