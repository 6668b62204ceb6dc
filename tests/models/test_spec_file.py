"""Spec files: every kind of mistake is named with file, line and field (and close
matches), all problems at once, exit 2 from ``raigov models register``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from raigov.cli import main
from raigov.file_problems import FILE_NOT_FOUND
from raigov.models import spec_file as sf
from raigov.models.spec_file import SpecFileError, load_spec_file, parse_spec

GOOD = """\
name: income
output_kind: binary
inputs:
  columns:
    - name: age
      dtype: int
      min: 17
      max: 90
    - name: sex
      dtype: str
      allowed: [Female, Male]
features: [age, sex]
sensitive: [sex]
label_name: income
classes: [0, 1]
positive_class: 1
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[sf.SpecProblem]:
    path = _write(tmp_path, text)
    with pytest.raises(SpecFileError) as err:
        load_spec_file(path)
    return list(err.value.problems)


def _register(tmp_path: Path, text: str):
    path = _write(tmp_path, text)
    return CliRunner().invoke(main, ["models", "register", "--spec", str(path),
                                     "--home", str(tmp_path / "home")])


def test_a_correct_spec_file_loads_with_yaml_numbers_read_as_class_names(tmp_path):
    spec = load_spec_file(_write(tmp_path, GOOD))
    assert spec.classes == ("0", "1") and spec.positive_class == "1"
    assert spec.inputs.column("age").max == 90 and spec.features == ("age", "sex")


def test_an_unknown_field_names_file_line_field_and_the_close_match(tmp_path):
    text = GOOD.replace("label_name: income", "label_nme: income")
    [problem] = _problems(tmp_path, text)
    path = str(tmp_path / "spec.yaml")
    allowed = ", ".join(sf._fields(sf.ModelSpec))
    assert (problem.line, problem.field) == (14, "label_nme")
    assert problem.message == sf.UNKNOWN_FIELD.format(
        field="label_nme", path=path, line=14, hint=" Did you mean 'label_name'?",
        allowed=allowed)


def test_an_unknown_field_inside_a_column_lists_the_column_fields(tmp_path):
    text = GOOD.replace("      max: 90\n", "      max: 90\n      nulable: true\n")
    [problem] = _problems(tmp_path, text)
    assert (problem.line, problem.field) == (9, "inputs.columns[0].nulable")
    assert "Did you mean 'nullable'?" in problem.message
    assert ("Allowed fields here: name, dtype, nullable, allowed, min, max, description, "
            "tokenizer, max_length, identity_terms.") in problem.message


def test_a_wrong_dtype_names_the_choices_and_the_close_one(tmp_path):
    text = GOOD.replace("dtype: int", "dtype: integer")
    [problem] = _problems(tmp_path, text)
    path = str(tmp_path / "spec.yaml")
    assert problem.message == sf.INVALID_VALUE.format(
        got="'integer'", field="inputs.columns[0].dtype", path=path, line=6,
        detail="expected one of 'float', 'int', 'str', 'bool', 'text'.",
        hint=" Did you mean 'int'?")


def test_a_feature_that_is_not_an_input_column_is_named_at_its_line(tmp_path):
    text = GOOD.replace("features: [age, sex]", "features: [age, sexx]")
    [problem] = _problems(tmp_path, text)
    path = str(tmp_path / "spec.yaml")
    assert problem.message == sf.NOT_AN_INPUT.format(
        field="features[1]", path=path, line=12, got="'sexx'", hint=" Did you mean 'sex'?",
        columns="age, sex")


def test_a_classifier_without_classes_is_named(tmp_path):
    text = GOOD.replace("classes: [0, 1]\npositive_class: 1\n", "").replace(
        "output_kind: binary", "output_kind: multiclass")
    [problem] = _problems(tmp_path, text)
    path = str(tmp_path / "spec.yaml")
    assert problem.message == sf.CLASSES_MISSING.format(path=path, line=2, kind="multiclass")


def test_too_few_classes_for_the_kind_come_from_the_kind_strategy(tmp_path):
    text = GOOD.replace("output_kind: binary", "output_kind: multiclass").replace(
        "positive_class: 1\n", "")
    [problem] = _problems(tmp_path, text)
    assert (problem.field, problem.line) == ("classes", 15)
    assert "a multiclass classifier needs 'classes' (3 or more class names)" in problem.message


def test_an_unknown_output_kind_suggests_the_registered_one(tmp_path):
    [problem] = _problems(tmp_path, GOOD.replace("output_kind: binary", "output_kind: regresion"))
    assert (problem.field, problem.line) == ("output_kind", 2)
    assert "Did you mean 'regression'?" in problem.message
    assert "registered: binary, multiclass, regression" in problem.message


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(tmp_path):
    text = (GOOD.replace("dtype: int", "dtype: integer").replace("features: [age, sex]",
            "features: [age, sexx]").replace("label_name: income", "label_nme: income")
            .replace("min: 17", "min: seventeen"))
    problems = _problems(tmp_path, text)
    assert [(p.line, p.field) for p in problems] == [
        (6, "inputs.columns[0].dtype"), (7, "inputs.columns[0].min"), (12, "features[1]"),
        (14, "label_nme")]
    assert problems[1].message.endswith("must be a number, got 'seventeen'.")


def test_invalid_yaml_names_the_line_and_the_key(tmp_path):
    with pytest.raises(SpecFileError) as err:
        parse_spec("name: x\nfeatures: [a, b\nsensitive: []\n", path="s.yaml")
    [problem] = err.value.problems
    assert problem.code == "yaml" and problem.message.startswith("Invalid YAML in s.yaml, line ")


def test_a_duplicate_key_is_named_with_both_lines(tmp_path):
    problems = _problems(tmp_path, GOOD + "features: [age]\n")
    assert [p.code for p in problems] == ["duplicate_key"]
    assert "line 17); first at line 12" in problems[0].message


@pytest.mark.parametrize("mistake,needle", [
    (("label_name: income", "label_nme: income"), "line 14"),
    (("dtype: int", "dtype: integer"), "line 6"),
    (("features: [age, sex]", "features: [age, sexx]"), "line 12"),
    (("output_kind: binary\n", "output_kind: multiclass\n"), "line 15"),
])
def test_the_register_command_exits_2_naming_file_line_and_field(tmp_path, mistake, needle):
    result = _register(tmp_path, GOOD.replace(*mistake))
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "spec.yaml") in result.output and needle in result.output
    assert "Registered" not in result.output


def test_a_missing_spec_file_exits_2_naming_it(tmp_path):
    result = CliRunner().invoke(main, ["models", "register", "--spec", str(tmp_path / "no.yaml"),
                                       "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert FILE_NOT_FOUND.format(what="Spec", path=tmp_path / "no.yaml") in result.output
