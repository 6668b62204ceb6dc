"""The roof: the ``raigov`` command (:mod:`raigov.cli.commands`), its area command
modules and the demo. Nothing below this layer imports it."""

from raigov.cli.commands import main

__all__ = ["main"]
