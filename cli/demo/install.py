"""The policies in force for the demo: the shipped packs, copied byte for byte (their
hashes are the packs'), and the demo's waiver files (``cli/demo/waivers/``: policy
files holding only waivers, for the known incidents the demo shows as waived). A
waiver expires a fixed number of days after the scenario's last day, so a demo run
shows it in force."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from raigov.home import Home

DEMO_WAIVERS_DIR = Path(__file__).parent / "waivers"
WAIVER_DAYS = 90
_EXPIRES = re.compile(r"^(\s*expires:\s*)\S+\s*$", re.MULTILINE)


def demo_waiver_paths() -> list[Path]:
    return sorted(DEMO_WAIVERS_DIR.glob("*.yaml"))


def install_policies(home: Home, *, end: dt.date) -> list[Path]:
    """Write the shipped packs and the demo's waiver files into ``<home>/policies``;
    returns the files, loaded once to prove they are valid."""
    from raigov.policies.loader import load_policies, pack_paths

    home.policies.mkdir(parents=True, exist_ok=True)
    installed = [Path(shutil.copyfile(pack, home.policies / pack.name)) for pack in pack_paths()]
    expires = (end + dt.timedelta(days=WAIVER_DAYS)).isoformat()
    for path in demo_waiver_paths():
        target = home.policies / path.name
        if target.name in {p.name for p in installed}:
            raise ValueError(f"demo waiver file {path.name} is named like a shipped pack")
        target.write_text(_EXPIRES.sub(lambda m: m.group(1) + expires, path.read_text()))
        installed.append(target)
    load_policies(sorted(installed))
    return sorted(installed)
