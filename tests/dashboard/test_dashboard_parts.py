"""The dashboard's parts without a page: the command that starts it, its telemetry-free
configuration, the shaping of figures, and text that must stay literal."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from raigov.cli.dashboard import app_path, config_flags, streamlit_command

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "dashboard" / ".streamlit" / "config.toml"


def _flag(command: list[str], name: str) -> str:
    return command[len(command) - 1 - command[::-1].index(name) + 1]


def test_the_dashboard_config_sends_no_usage_statistics_and_runs_headless() -> None:
    config = tomllib.loads(CONFIG.read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["headless"] is True


def test_the_streamlit_command_turns_telemetry_off_whatever_the_directory() -> None:
    command = streamlit_command(host="127.0.0.1", port=8765)
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]) == app_path()
    assert _flag(command, "--browser.gatherUsageStats") == "false"   # the last one wins
    assert _flag(command, "--server.headless") == "true"
    assert _flag(command, "--server.port") == "8765"
    assert set(config_flags(CONFIG)) >= {"--browser.gatherUsageStats", "false"}


def test_raigov_dashboard_execs_streamlit_with_the_home_in_raigov_home(tmp_path: Path,
                                                                     monkeypatch) -> None:
    from raigov.cli import dashboard as cli_dashboard
    from raigov.cli import main

    calls = []
    monkeypatch.setattr(cli_dashboard, "launch", lambda args, env: calls.append((args, env)))
    result = CliRunner().invoke(main, ["dashboard", "--home", str(tmp_path / "h"),
                                       "--port", "8777", "--session-minutes", "5"])
    assert result.exit_code == 0, result.output
    args, env = calls[0]
    assert args[0] == sys.executable and "streamlit" in args
    assert env["RAIGOV_HOME"] == str((tmp_path / "h").resolve())
    assert env["RAIGOV_SESSION_MINUTES"] == "5.0"


def test_the_cli_imports_no_streamlit() -> None:
    code = "import sys, raigov.cli; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_segments_split_into_attribute_and_group() -> None:
    from raigov.dashboard.shape.fairness import split_segment

    assert split_segment("sex=Female&race=Black") == ("sex&race", "Female&Black")
    assert split_segment("sex=Female") == ("sex", "Female")
    assert split_segment("sex") is None and split_segment("all") is None
    assert split_segment("job=a&b") == ("job", "a&b")


def test_markdown_escaping_leaves_no_tag_or_mark_active() -> None:
    from raigov.dashboard.ui import md

    escaped = md("<img src=x onerror=alert(1)> **bold** :red[x] [a](javascript:x)")
    assert re.search(r"(?<!\\)[<>*:\[\]()]", escaped) is None   # every mark escaped
    assert escaped.replace("\\", "") == "<img src=x onerror=alert(1)> **bold** :red[x] " \
                                         "[a](javascript:x)"


def test_plotly_text_is_escaped_so_no_tag_is_read() -> None:
    from raigov.dashboard.charts import esc

    assert esc("<b>x</b> & <br>") == "&lt;b&gt;x&lt;/b&gt; &amp; &lt;br&gt;"


def test_the_fleet_status_is_disabled_before_the_worst_alert() -> None:
    from raigov.dashboard.shape.fleet import model_row

    start = pd.Timestamp("2026-01-01", tz="UTC")
    metrics = pd.DataFrame([
        {"model": "m", "version": 1, "window_start": start, "metric": "performance.accuracy",
         "segment": "all", "value": 0.9, "ci_low": None, "ci_high": None, "n": 10,
         "status": "ok"},
        {"model": "m", "version": 1, "window_start": start, "metric": "quality.rows",
         "segment": "all", "value": 10.0, "ci_low": None, "ci_high": None, "n": 10,
         "status": "ok"}])
    alerts = pd.DataFrame([{"model": "m", "status": "open", "severity": "warning"},
                           {"model": "m", "status": "resolved", "severity": "critical"}])
    row = model_row("m", 1, metrics, alerts, {})
    assert (row["status"], row["accuracy"], row["alerts_critical"]) == ("warning", 0.9, 0)
    disabled = model_row("m", 1, metrics, alerts, {"m@1": {"reason": "bias"}})
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "bias")
    assert model_row("m", 2, metrics, alerts.iloc[0:0], {})["status"] == "no traffic yet"


@pytest.mark.parametrize("failures, expected", [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0),
                                                (10, 30.0)])
def test_the_sign_in_delay_doubles_per_failure_up_to_its_cap(monkeypatch, failures: int,
                                                             expected: float) -> None:
    from raigov.dashboard import auth

    monkeypatch.setenv("RAIGOV_LOGIN_DELAY_S", "1")
    monkeypatch.setenv("RAIGOV_LOGIN_DELAY_MAX_S", "30")
    assert auth._delay_for(failures) == expected


def _sources(*folders: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for folder in folders
            for p in (ROOT / folder).rglob("*.py")}


def test_no_dashboard_code_renders_raw_html_except_evidentlys_report() -> None:
    """Two reviewed exceptions: Evidently's report in its sandboxed iframe, and one
    text decision's highlighted words, a fragment ``dashboard/highlight.py`` builds from
    html.escape'd data only (tests/dashboard/test_dashboard_tokens.py parses it)."""
    sources = _sources("dashboard")
    unsafe = [(f, line.strip()) for f, text in sources.items() for line in text.splitlines()
              if "unsafe_allow_html" in line]
    assert unsafe == [("dashboard/sections/predictions.py",
                       'st.markdown(highlighted_text(result["text"], result["words"]), '
                       'unsafe_allow_html=True)')]
    assert [f for f, text in sources.items() if "st.html(" in text] == []
    assert [f for f, text in sources.items()
            if "components.html(" in text] == ["dashboard/sections/drift.py"]


def test_pages_only_draw_no_sql_and_no_catalog_connection() -> None:
    sources = _sources("dashboard/app_pages", "dashboard/sections")
    for needle in ("SELECT ", "catalog(", "lake_connection(", "duckdb"):
        assert [f for f, text in sources.items() if needle in text] == [], needle
