"""``raigov demo``: part of the CLI layer (it orchestrates every area; nothing imports it
but ``raigov.cli``)."""
