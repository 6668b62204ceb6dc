"""The one registry type behind every extension door."""

from __future__ import annotations

import pytest

from raigov.errors import ConfigError
from raigov.registry import ALREADY_REGISTERED, BAD_NAME, Registry, UnknownNameError


def test_a_name_taken_by_another_entry_is_refused_and_the_same_entry_again_is_a_no_op():
    reg: Registry[object] = Registry("widget")
    first = object()
    reg.register("alpha", first)
    reg.register("alpha", first)
    with pytest.raises(ConfigError) as err:
        reg.register("alpha", object())
    assert str(err.value) == ALREADY_REGISTERED.format(kind="widget", name="alpha",
                                                       existing="builtins.object")
    assert reg.names() == ["alpha"]


def test_an_unknown_name_lists_the_known_ones_with_close_matches():
    reg: Registry[int] = Registry("rule type")
    reg.register("threshold", 1)
    reg.register("range", 2)
    with pytest.raises(UnknownNameError) as err:
        reg.get("treshold")
    assert str(err.value) == ("Unknown rule type 'treshold' (registered: threshold, range). "
                              "Did you mean 'threshold'?")


def test_the_decorator_form_registers_and_returns_the_class():
    reg: Registry[type] = Registry("monitor")

    @reg.register("drift")
    class Drift:
        pass

    assert reg.get("drift") is Drift and "drift" in reg and len(reg) == 1


def test_overriding_restores_the_registry_exactly_afterwards():
    reg: Registry[int] = Registry("format")
    reg.register("table", 1)
    with reg.overriding(table=10, sarif=3):
        reg.register("extra", 4)
        assert reg.items() == [("table", 10), ("sarif", 3), ("extra", 4)]
    assert reg.items() == [("table", 1)]


def test_find_gives_none_for_an_unknown_name_where_get_raises() -> None:
    reg: Registry[int] = Registry("output format")
    reg.register("table", 1)
    assert reg.find("table") == 1 and reg.find("tabel") is None and reg.find(None) is None
    with pytest.raises(UnknownNameError, match="Did you mean 'table'"):
        reg.get("tabel")


def test_a_name_with_spaces_or_an_empty_name_is_refused() -> None:
    reg: Registry[int] = Registry("rule type")
    for bad in ("", "two words"):
        with pytest.raises(ConfigError) as err:
            reg.register(bad, 1)
        assert str(err.value) == BAD_NAME.format(kind="rule type", name=bad)
    assert reg.names() == []


def test_every_extension_door_is_a_registry() -> None:
    from raigov.cli.demo.incidents import INCIDENT_KINDS
    from raigov.models.artifact import ARCHITECTURES
    from raigov.models.output_kinds import OUTPUT_KINDS
    from raigov.monitors.base import MONITORS
    from raigov.policies.formats import FORMATS
    from raigov.policies.rules import RULE_TYPES

    doors = (ARCHITECTURES, OUTPUT_KINDS, MONITORS, RULE_TYPES, FORMATS, INCIDENT_KINDS)
    assert [type(d) for d in doors] == [Registry] * 6
    assert [d.kind for d in doors] == ["architecture", "output kind", "monitor family",
                                       "rule type", "output format", "incident kind"]
