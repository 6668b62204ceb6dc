"""``raigov card`` and ``raigov report``, and the ``--report`` verification command:
exit 0 on success, 2 on bad input with the message on stderr, 1 on a rejected report."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from raigov.cli import main
from raigov.cli.reports import verify_report_command
from raigov.home import Home


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_card_prints_the_model_card_in_the_chosen_format(seeded_home_template: Home) -> None:
    home = str(seeded_home_template.root)
    result = run("card", "--model", "credit-risk", "--format", "json", "--home", home)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model_details"]["name"] == "credit-risk"
    markdown = run("card", "--model", "credit-risk", "--home", home)
    assert markdown.exit_code == 0 and markdown.stdout.startswith("---\n")


def test_report_exports_a_file_that_audit_verify_accepts(module_home: Home,
                                                         tmp_path: Path) -> None:
    output = tmp_path / "report.json"
    result = run("report", "--model", "credit-risk", "--format", "json", "--output",
                 str(output), "--home", str(module_home.root), "--actor", "auditor-2",
                 "--since", "2000-01-01")
    assert result.exit_code == 0, result.output
    assert "report.exported by auditor-2" in result.stdout
    assert json.loads(output.read_text())["facts"]["period"]["since"].startswith("2000-01-01")
    assert verify_report_command(module_home, output) == 0
    verify = ("audit", "verify", "--report", str(output), "--home", str(module_home.root))
    assert run(*verify).exit_code == 0
    output.write_text(output.read_text().replace('"credit-risk"', '"credit-risk2"', 1))
    assert verify_report_command(module_home, output) == 1
    assert run(*verify).exit_code == 1


def test_bad_input_exits_2_with_the_message_on_stderr(seeded_home_template: Home,
                                                      tmp_path: Path) -> None:
    home = str(seeded_home_template.root)
    unknown = run("card", "--model", "credit-rsk", "--home", home)
    assert unknown.exit_code == 2 and "Did you mean 'credit-risk'?" in unknown.stderr
    bad_time = run("report", "--model", "credit-risk", "--format", "json", "--output",
                   str(tmp_path / "r.json"), "--home", home, "--since", "yesterday")
    assert bad_time.exit_code == 2 and "'yesterday' is not an ISO 8601" in bad_time.stderr
    assert not (tmp_path / "r.json").exists()
