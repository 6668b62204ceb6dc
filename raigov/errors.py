"""Domain errors. Library code raises these; only the CLI and the HTTP layer translate
them into exit codes, HTTP statuses or messages (raise inside, translate at the edge)."""

from __future__ import annotations


class RaigovError(Exception):
    """Base of every raigov error. ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class ConfigError(RaigovError):
    """Bad configuration or usage: a file, field or option is wrong."""


class InputError(RaigovError):
    """Bad input data (a file, a row, a field)."""


class NotFoundError(RaigovError):
    """A named thing (model, version, prediction) does not exist."""


class CatalogBusyError(RaigovError):
    """The catalog stayed locked by another process past the deadline."""


class CatalogUnavailableError(RaigovError):
    """The catalog's database (RAIGOV_CATALOG_URL) cannot be reached."""


class CaptureError(RaigovError):
    """Capture cannot take rows now (the spool fails, or a capture thread stopped);
    nothing of the refused rows was acknowledged. The server answers 503."""


class SpoolFullError(CaptureError):
    """The capture spool cannot take more bytes (disk full or size cap reached)."""


class ModelDisabledError(RaigovError):
    """The model version is disabled by its kill switch."""


class VerificationError(RaigovError):
    """The ledger or a report failed verification."""

    exit_code = 1


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choices, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
