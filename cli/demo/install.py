"""The policies in force for the demo: the shipped packs, with the demo's own files
(``cli/demo/policies/``) beside them. A demo file named like a pack replaces that
pack (see the file's header for why); waivers in demo files expire a fixed number of
days after the scenario's last day, so a demo run shows them in force."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from raigov.home import Home

DEMO_POLICIES_DIR = Path(__file__).parent / "policies"
WAIVER_DAYS = 90
_EXPIRES = re.compile(r"^(\s*expires:\s*)\S+\s*$", re.MULTILINE)


def demo_policy_paths() -> list[Path]:
    return sorted(DEMO_POLICIES_DIR.glob("*.yaml"))


def install_policies(home: Home, *, end: dt.date) -> list[Path]:
    """Write the demo's policies into ``<home>/policies``; returns the files, loaded
    once to prove they are valid."""
    from raigov.policies.loader import load_policies, pack_paths

    home.policies.mkdir(parents=True, exist_ok=True)
    demo = {path.name: path for path in demo_policy_paths()}
    installed = [Path(shutil.copy2(pack, home.policies / pack.name))
                 for pack in pack_paths() if pack.name not in demo]
    expires = (end + dt.timedelta(days=WAIVER_DAYS)).isoformat()
    for name, path in demo.items():
        target = home.policies / name
        target.write_text(_EXPIRES.sub(lambda m: m.group(1) + expires, path.read_text()))
        installed.append(target)
    load_policies(sorted(installed))
    return sorted(installed)
