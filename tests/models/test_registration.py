"""Registering from files (``register_model_files`` and ``raigov models register``),
and ``raigov models infer-spec``: the reference is checked and gets the truth and the
model's own predictions; versions are immutable; a starting spec registers once the
user has filled it in."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner

from raigov.cli import main
from raigov.errors import InputError
from raigov.home import Home
from raigov.models import registration as rg
from raigov.models.infer_spec import infer_kind
from raigov.models.registration import register_model_files
from raigov.models.registry import get_model
from tests.serving import byom, user_nets

TASK = byom.TASKS["hours"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return byom.adult()


@pytest.fixture(scope="module")
def files(tmp_path_factory, adult) -> dict[str, Path]:
    """An untrained regression network on Adult (the contract, not the fit)."""
    root = tmp_path_factory.mktemp("files")
    torch.manual_seed(0)
    cols = byom.columns_of(TASK, adult)
    net, _ = user_nets.make_net(user_nets.encode(adult.head(1000), cols), cols, outputs=1)
    (root / "artifact").mkdir()
    user_nets.export(net, len(cols), root / "artifact" / "model.pt2")
    (root / "spec.yaml").write_text(yaml.safe_dump(byom.spec_dict(TASK, adult)))
    ref = adult.sample(n=300, random_state=1).reset_index(drop=True)
    ref.to_parquet(root / "reference.parquet")
    ref.to_csv(root / "reference.csv", index=False)
    return {"root": root, "artifact": root / "artifact", "spec": root / "spec.yaml",
            "parquet": root / "reference.parquet", "csv": root / "reference.csv"}


def _home(tmp_path: Path) -> Home:
    return Home.resolve(tmp_path / "home").ensure()


def test_the_reference_gets_the_programs_own_values_and_the_true_value(tmp_path, files, adult):
    reg = register_model_files(_home(tmp_path), files["spec"], artifact=files["artifact"],
                               reference=files["parquet"])
    ref = reg.load_reference()
    source = pd.read_parquet(files["parquet"])
    own = byom.program_outputs(files["artifact"] / "model.pt2", TASK, source, adult)
    np.testing.assert_allclose(ref["value"], own[:, 0], rtol=1e-6)
    assert ref["y_true"].tolist() == source["hours_per_week"].astype(float).tolist()
    assert "label" not in ref and "probabilities" not in ref
    assert reg.artifact_format == "export" and reg.spec.classes == ()


def test_a_csv_reference_gives_the_same_stored_reference_as_parquet(tmp_path, files):
    home = _home(tmp_path)
    a = register_model_files(home, files["spec"], artifact=files["artifact"],
                             reference=files["parquet"]).load_reference()
    b = register_model_files(home, files["spec"], artifact=files["artifact"],
                             reference=files["csv"]).load_reference()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_registering_a_name_again_is_a_new_version_and_the_old_one_is_untouched(tmp_path, files):
    home = _home(tmp_path)
    first = register_model_files(home, files["spec"], artifact=files["artifact"],
                                 reference=files["parquet"])
    before = _digests(first.artifact_dir)
    second = register_model_files(home, files["spec"], artifact=files["artifact"] / "model.pt2")
    assert (first.version, second.version) == (1, 2)
    assert _digests(first.artifact_dir) == before
    assert get_model(home, "hours").version == 2 and len(second.load_reference()) == 0
    assert get_model(home, "hours", 1).load_reference().shape == first.load_reference().shape


def test_a_reference_breaking_the_input_schema_names_the_file_row_and_column(tmp_path, files):
    bad = pd.read_parquet(files["parquet"])
    bad.loc[4, "age"] = 300
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    with pytest.raises(InputError) as err:
        register_model_files(_home(tmp_path), files["spec"], artifact=files["artifact"],
                             reference=path)
    assert str(path) in str(err.value) and "row 4 column 'age': 300" in str(err.value)


def test_a_reference_lacking_an_input_column_names_it(tmp_path, files):
    path = tmp_path / "short.parquet"
    pd.read_parquet(files["parquet"]).drop(columns=["race"]).to_parquet(path)
    with pytest.raises(InputError, match=r"lacks the input column\(s\) \['race'\]"):
        register_model_files(_home(tmp_path), files["spec"], artifact=files["artifact"],
                             reference=path)


def test_an_unknown_class_in_the_truth_names_rows_and_the_valid_labels(tmp_path, files, adult):
    spec = byom.spec_dict(byom.TASKS["relationship"], adult)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    ref = adult.sample(n=20, random_state=2).reset_index(drop=True)
    ref.loc[3, "relationship"] = "Cousin"
    ref.to_parquet(tmp_path / "ref.parquet")
    with pytest.raises(InputError) as err:
        register_model_files(_home(tmp_path), tmp_path / "spec.yaml",
                             reference=tmp_path / "ref.parquet")
    assert "row(s) [3] hold ['Cousin']" in str(err.value)


def test_an_external_models_reference_keeps_the_predictions_it_brings(tmp_path, adult):
    spec = byom.spec_dict(byom.TASKS["income"], adult, name="elsewhere")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    ref = adult.sample(n=50, random_state=4).reset_index(drop=True)
    ref["score"] = np.linspace(0, 1, 50)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    reg = register_model_files(_home(tmp_path), tmp_path / "spec.yaml",
                               reference=tmp_path / "ref.csv")
    stored = reg.load_reference()
    assert reg.artifact_format == "external" and not reg.load().runnable
    assert stored["score"].tolist() == pytest.approx(np.linspace(0, 1, 50).tolist())
    assert stored["y_true"].tolist() == ref["income"].tolist()


def test_the_kind_is_inferred_from_the_label_column(adult):
    assert infer_kind(adult["income"])[0] == "binary"
    assert infer_kind(adult["relationship"])[0] == "multiclass"
    assert infer_kind(adult["hours_per_week"])[0] == "regression"
    assert infer_kind(pd.Series([0.5, 1.25, 2.0]))[0] == "regression"
    assert infer_kind(pd.Series([1, 2, 3, 1]))[0] == "multiclass"


def test_an_inferred_spec_registers_once_the_user_has_filled_it_in(tmp_path, files, adult):
    data = tmp_path / "adult-sample.parquet"
    adult.sample(n=2000, random_state=5).to_parquet(data)
    runner = CliRunner()
    out = tmp_path / "spec.yaml"
    result = runner.invoke(main, ["models", "infer-spec", str(data), "--label", "hours_per_week",
                                  "--sensitive", "sex", "--sensitive", "race", "--output",
                                  str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "# Check every field" in text and "output_kind: regression" in text
    assert "name: adult-sample" in text
    # The user's edits: a name, and the features their network reads, in its order.
    text = text.replace("name: adult-sample", "name: weekly-hours")
    text = re.sub(r"^features:.*\n(?:  .*\n)*", "features: [" + ", ".join(TASK.features) + "]\n",
                  text, flags=re.M)
    out.write_text(text)
    home = tmp_path / "home"
    result = runner.invoke(main, ["models", "register", "--spec", str(out), "--artifact",
                                  str(files["artifact"]), "--reference", str(data),
                                  "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "Registered weekly-hours version 1 (regression, export artifact, 2000" in result.output
    listed = json.loads(runner.invoke(main, ["models", "list", "--format", "json", "--home",
                                             str(home)]).output)
    [model] = listed["models"]
    assert model["versions"][0]["spec"]["sensitive"] == ["sex", "race"]
    assert model["versions"][0]["spec"]["label_name"] == "hours_per_week"


def test_infer_spec_names_a_label_column_that_is_not_there(tmp_path, adult):
    data = tmp_path / "a.csv"
    adult.head(50).to_csv(data, index=False)
    result = CliRunner().invoke(main, ["models", "infer-spec", str(data), "--label", "incme"])
    assert result.exit_code == 2 and "Did you mean 'income'?" in result.output


def test_an_unreadable_reference_suffix_is_named(tmp_path):
    (tmp_path / "r.xlsx").write_text("x")
    with pytest.raises(InputError) as err:
        rg.read_table(tmp_path / "r.xlsx")
    assert str(err.value) == rg.UNKNOWN_SUFFIX.format(path=tmp_path / "r.xlsx", suffix=".xlsx")
