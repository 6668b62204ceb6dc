"""The kill switch's control file: written durably, rewritten by the next catalog unit
when it goes missing, and read by serving so that it fails closed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from raigov.home import Home
from raigov.models.serving.control import CONTROL_MISSING, CONTROL_UNREADABLE, ControlWatcher
from raigov.store.catalog import catalog
from raigov.store.control_file import write_control_file

DISABLED = {"credit": {"reason": "bias under review", "actor": "olga",
                       "since": "2026-12-01T10:00:00.000000+00:00"}}


def _disable(home: Home, name: str = "credit") -> None:
    with catalog(home) as con:
        con.execute("INSERT INTO model_status VALUES (?, NULL, false, 'bias under review', "
                    "'olga', now())", [name])


def test_the_control_file_is_fsynced_renamed_and_its_directory_fsynced(
        home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def spy_replace(src, dst) -> None:
        calls.append(("rename", f"{Path(src).name} -> {Path(dst).name}"))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    write_control_file(home, DISABLED)
    [(first, tmp), (second, renamed), (third, directory)] = calls
    assert (first, second, third) == ("fsync", "rename", "fsync")
    assert Path(tmp).parent == home.root and re.fullmatch(r"\.control\.json\.\w+\.tmp", Path(tmp).name)
    assert renamed == f"{Path(tmp).name} -> control.json" and directory == str(home.root)
    assert json.loads(home.control_path.read_text()) == {"disabled": DISABLED}
    assert oct(home.control_path.stat().st_mode & 0o777) == "0o600"


def test_a_missing_control_file_is_rewritten_by_the_next_catalog_unit(home: Home) -> None:
    _disable(home)
    assert list(json.loads(home.control_path.read_text())["disabled"]) == ["credit"]
    home.control_path.unlink()
    with catalog(home, read_only=True) as con:
        con.execute("SELECT 1").fetchall()
    assert json.loads(home.control_path.read_text())["disabled"]["credit"]["reason"] == \
        "bias under review"


def test_no_control_file_is_written_while_nothing_is_disabled(home: Home) -> None:
    with catalog(home) as con:
        con.execute("SELECT 1").fetchall()
    assert not home.control_path.exists()


def test_serving_keeps_refusing_what_the_catalog_disabled_when_the_file_is_missing(
        home: Home) -> None:
    watcher = ControlWatcher(home, known=DISABLED)
    assert watcher.disabled_reason("credit", 3) == "bias under review"
    assert watcher.disabled_reason("other", 1) is None
    assert watcher.problem() == CONTROL_MISSING.format(path=home.control_path, models=["credit"])


def test_serving_keeps_the_last_state_it_read_when_the_file_goes_missing_or_bad(
        home: Home) -> None:
    write_control_file(home, DISABLED)
    watcher = ControlWatcher(home)
    assert watcher.disabled_reason("credit", 1) == "bias under review" and watcher.problem() is None
    home.control_path.write_text("{not json")
    assert watcher.disabled_reason("credit", 1) == "bias under review"
    assert watcher.problem().startswith(CONTROL_UNREADABLE.split("(")[0].format(
        path=home.control_path))
    home.control_path.unlink()
    assert watcher.disabled_reason("credit", 1) == "bias under review"
    assert "is missing while ['credit'] are disabled" in watcher.problem()
    write_control_file(home, {})
    assert watcher.disabled_reason("credit", 1) is None and watcher.problem() is None


def test_a_fresh_home_without_a_control_file_has_no_problem(home: Home) -> None:
    watcher = ControlWatcher(home)
    assert watcher.disabled_reason("credit", 1) is None and watcher.problem() is None
