"""The one extension door: a named registry of things of one kind (architectures,
output kinds, monitor families, rule types, output formats, incident kinds).

Built-ins register through the same door as a user's own (``Registry.register`` or
its decorator form); names users can type are derived from it (``names``, did-you-mean
on ``get``), never kept by hand beside it. ``overriding`` swaps entries for a test and
puts the registry back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar, overload

from raigov.errors import ConfigError, did_you_mean

T = TypeVar("T")

ALREADY_REGISTERED = "{kind} {name!r} is already registered (by {existing})."
UNKNOWN_NAME = "Unknown {kind} {name!r} (registered: {known}).{hint}"
BAD_NAME = "A {kind} name must be a non-empty string without spaces; got {name!r}."


class UnknownNameError(ConfigError, KeyError):
    """``get`` of a name nobody registered; the message lists the names and close
    matches. A ``KeyError`` too, so ``name in registry`` style code keeps working."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Named entries of one kind, in registration order."""

    def __init__(self, kind: str, *, check: Callable[[str, T], None] | None = None) -> None:
        self.kind = kind
        self._check = check
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str, entry: T) -> T: ...
    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    def register(self, name, entry=None):
        """Add ``entry`` under ``name`` (or, without ``entry``, return a decorator).
        Registering the very same entry twice is a no-op (modules may be imported
        twice); another entry under a taken name is an error."""
        if entry is None:
            return lambda e: self.register(name, e)
        if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
            raise ConfigError(BAD_NAME.format(kind=self.kind, name=name))
        existing = self._entries.get(name)
        if existing is not None and existing is not entry:
            raise ConfigError(ALREADY_REGISTERED.format(kind=self.kind, name=name,
                                                        existing=_describe(existing)))
        if self._check is not None:
            self._check(name, entry)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(UNKNOWN_NAME.format(
                kind=self.kind, name=name, known=", ".join(self._entries) or "none",
                hint=did_you_mean(str(name), list(self._entries)))) from None

    def find(self, name: object) -> T | None:
        """The entry under ``name``, or None: for callers that report an unknown name
        in their own words (with the file and line it came from)."""
        return self._entries.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def values(self) -> list[T]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    @contextmanager
    def overriding(self, **entries: T) -> Iterator["Registry[T]"]:
        """Within the block, ``name=entry`` replaces or adds entries; afterwards the
        registry is exactly as before (entries registered inside are dropped too)."""
        saved = dict(self._entries)
        try:
            self._entries.update(entries)
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _describe(entry: object) -> str:
    name = getattr(entry, "__qualname__", None) or type(entry).__qualname__
    module = getattr(entry, "__module__", None) or type(entry).__module__
    return f"{module}.{name}"
