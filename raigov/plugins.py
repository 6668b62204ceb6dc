"""Plugins: a user's own architectures, monitor families, rule types and output formats,
brought into every raigov process (the CLI, ``raigov serve``, the monitor runner, the
dashboard) from two places:

- **entry points** of the group ``raigov.plugins`` in any installed distribution; each
  names a module (importing it registers things) or a callable taking nothing (called
  once, it registers things);
- the home's **settings file** (:attr:`raigov.home.Home.settings_path`,
  ``<home>/settings.yaml``): ``plugins``, a list of module names to import.

A plugin registers through the same doors as the built-ins (``register_architecture``,
``register_monitor``, ``register_rule_type``, ``register_format``). Loading is
idempotent per process: each plugin is imported, or called, once. A plugin that does
not load is a :class:`ConfigError` naming it, where it was declared and the error
(``raigov`` exits 2). This module sits in the floor: it imports only what it is told to.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from raigov.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from raigov.home import Home

ENTRY_POINT_GROUP = "raigov.plugins"
#: Every key the settings file may hold.
SETTINGS_KEYS = ("plugins",)

PLUGIN_FAILED = "Plugin {name!r} ({where}) failed to load: {error}{hint}"
NOT_CALLABLE = ("{target!r} is a {type}; an entry point of group 'raigov.plugins' must "
                "name a module or a callable taking nothing")
SETTINGS_BAD_YAML = "Settings file {path} is not valid YAML: {error}"
SETTINGS_NOT_MAPPING = "Settings file {path} must be a mapping of settings; found {found}."
SETTINGS_UNKNOWN_KEY = ("Unknown setting {key!r} in {path}, line {line}.{hint} "
                        "Settings: {known}.")
PLUGINS_NOT_LIST = ("Setting 'plugins' in {path}, line {line} must be a list of module "
                    "names; found {found}.")
NOT_A_MODULE_NAME = ("Plugin {value!r} in {path}, line {line} is not a module name (a "
                     "dotted Python name such as my_company.raigov_plugin).")

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_LOCK = threading.RLock()
_LOADED: dict[str, "Plugin"] = {}


@dataclass(frozen=True)
class Plugin:
    """One declared plugin: ``name`` as the user wrote it, ``target`` what it imports
    (``module`` or ``module:callable``), ``where`` the place it was declared."""

    name: str
    target: str
    where: str

    def load(self) -> None:
        """Import the target; call it when it names a callable rather than a module."""
        module_name, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        if isinstance(obj, ModuleType):
            return
        if not callable(obj):
            raise TypeError(NOT_CALLABLE.format(target=self.target, type=type(obj).__name__))
        obj()


def load_plugins(home: "Home | None" = None) -> list[Plugin]:
    """Load every entry-point plugin and, with ``home``, the plugins its settings file
    lists; each at most once per process. Returns every plugin loaded so far."""
    declared = entry_point_plugins() + (settings_plugins(home) if home is not None else [])
    with _LOCK:
        for plugin in declared:
            if plugin.target not in _LOADED:
                _load_one(plugin, declared)
                _LOADED[plugin.target] = plugin
        return list(_LOADED.values())


def loaded_plugins() -> list[Plugin]:
    """The plugins this process has loaded, in loading order."""
    with _LOCK:
        return list(_LOADED.values())


def entry_point_plugins() -> list[Plugin]:
    """The plugins installed distributions declare in group ``raigov.plugins``."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return [Plugin(ep.name, ep.value, _entry_point_where(ep))
            for ep in sorted(found, key=lambda e: (e.name, e.value))]


def settings_plugins(home: "Home") -> list[Plugin]:
    """The ``plugins`` list of the home's settings file (none when there is no file)."""
    import yaml

    path = home.settings_path
    if not path.is_file():
        return []
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(SETTINGS_BAD_YAML.format(path=path, error=exc)) from exc
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(SETTINGS_NOT_MAPPING.format(path=path, found=_node_kind(node)))
    plugins: list[Plugin] = []
    for key, value in node.value:
        if key.value not in SETTINGS_KEYS:
            raise ConfigError(SETTINGS_UNKNOWN_KEY.format(
                key=key.value, path=path, line=_line(key),
                hint=did_you_mean(str(key.value), SETTINGS_KEYS), known=", ".join(SETTINGS_KEYS)))
        plugins = _plugin_list(value, path)
    return plugins


def _plugin_list(node: Any, path: Path) -> list[Plugin]:
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(PLUGINS_NOT_LIST.format(path=path, line=_line(node),
                                                  found=_node_kind(node)))
    out = []
    for item in node.value:
        value = item.value if isinstance(item, yaml.ScalarNode) else _node_kind(item)
        if not (isinstance(item, yaml.ScalarNode) and item.tag.endswith(":str")
                and _MODULE_NAME.match(value)):
            raise ConfigError(NOT_A_MODULE_NAME.format(value=value, path=path, line=_line(item)))
        out.append(Plugin(value, value, f"plugins list in {path}, line {_line(item)}"))
    return out


def _load_one(plugin: Plugin, declared: list[Plugin]) -> None:
    try:
        plugin.load()
    except Exception as exc:  # noqa: BLE001 - a plugin may fail in any way; say which
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == plugin.target.partition(":")[0]:
            hint = did_you_mean(exc.name, sorted({p.target.partition(":")[0] for p in declared
                                                  if p is not plugin}))
        raise ConfigError(PLUGIN_FAILED.format(name=plugin.name, where=plugin.where,
                                               error=f"{type(exc).__name__}: {exc}",
                                               hint=hint)) from exc


def _entry_point_where(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    owner = f"{dist.name} {dist.version}" if dist is not None else "an unnamed distribution"
    return f"entry point '{ep.name} = {ep.value}' in group {ENTRY_POINT_GROUP} of {owner}"


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _node_kind(node: Any) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return repr(node.value)
