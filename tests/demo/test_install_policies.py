"""The demo installs the shipped packs byte for byte, and its known incident's waivers
as a separate waiver file."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from raigov.cli.demo import install
from raigov.home import Home
from raigov.policies.loader import load_policies, pack_paths


def test_the_demo_installs_every_shipped_pack_byte_for_byte_and_a_waiver_file(tmp_path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    end = dt.date(2026, 12, 1)
    installed = install.install_policies(home, end=end)
    packs = {p.name: p for p in pack_paths()}
    shipped = Path(__file__).resolve().parents[2] / "policies" / "packs"
    assert set(packs) == {p.name for p in shipped.glob("*.yaml")} and len(packs) >= 8
    for name, pack in packs.items():
        assert (home.policies / name).read_bytes() == pack.read_bytes(), name
    loaded = {p.policy: p for p in load_policies(installed)}
    for pack in packs.values():
        [policy] = [p for p in loaded.values() if Path(p.path).name == pack.name]
        assert policy.sha256 == hashlib.sha256(pack.read_bytes()).hexdigest()
    extra = sorted(p.name for p in installed if p.name not in packs)
    assert extra == ["income-classifier.yaml"]
    waivers = loaded["income-classifier-waivers"]
    assert waivers.rules == () and waivers.applies_to.models == ("income-classifier",)
    assert {(w.policy, w.rule) for w in waivers.waivers} == {
        ("fairness-four-fifths", "four-fifths"), ("fairness-four-fifths", "four-fifths-confident")}
    assert {w.expires for w in waivers.waivers} == {end + dt.timedelta(days=install.WAIVER_DAYS)}
    assert not (Path(install.__file__).parent / "policies").exists()
