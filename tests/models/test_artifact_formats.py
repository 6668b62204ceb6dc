"""The artifact formats behind one LoadedModel interface, on Adult rows with networks
written in the test: an exported program and a registered module class read the
float32 feature tensor of the contract; an external model cannot be run; wrong files
are named."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from raigov.errors import ConfigError
from raigov.models.artifacts import (ARCHITECTURES, LoadedModel, NotRunnableError,
                                     artifact_format, check_artifact, load_model)
from raigov.models.artifacts import exported as ex
from raigov.models.artifacts import feature_tensor as ft
from raigov.models.spec import ModelSpec
from tests.serving import byom, user_nets

TASK = byom.TASKS["relationship"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return byom.adult()


@pytest.fixture(scope="module")
def spec(adult) -> ModelSpec:
    return ModelSpec.model_validate(byom.spec_dict(TASK, adult))


@pytest.fixture(scope="module")
def net(adult):
    torch.manual_seed(0)
    cols = byom.columns_of(TASK, adult)
    x = user_nets.encode(adult.head(2000), cols)
    return user_nets.make_net(x, cols, outputs=6)  # untrained: the contract, not the fit


@pytest.fixture(scope="module")
def rows(adult) -> pd.DataFrame:
    sample = adult.sample(n=200, random_state=3).reset_index(drop=True)
    assert sample["workclass"].isna().any(), "the sample holds nulls (NaN in the tensor)"
    return sample


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory, net) -> Path:
    path = tmp_path_factory.mktemp("export")
    user_nets.export(net[0], len(TASK.features), path / "model.pt2")
    return path


def test_the_feature_tensor_holds_values_category_indices_and_nan_for_nulls(spec, rows, adult):
    x = ft.FeatureTensor(spec, format="export").encode(rows)
    own = user_nets.encode(rows, byom.columns_of(TASK, adult))
    assert x.dtype == np.float32 and x.shape == (200, len(TASK.features))
    np.testing.assert_array_equal(x, own)              # NaN compare equal here
    j = TASK.features.index("workclass")
    assert np.isnan(x[rows["workclass"].isna().to_numpy(), j]).all()
    sex = TASK.features.index("sex")
    assert x[0, sex] == ["Female", "Male"].index(rows.loc[0, "sex"])


def test_bools_are_one_and_zero_and_a_str_feature_needs_allowed():
    spec = ModelSpec.model_validate({
        "name": "m", "inputs": {"columns": [{"name": "b", "dtype": "bool", "nullable": True},
                                            {"name": "s", "dtype": "str"}]},
        "features": ["b"], "classes": ["0", "1"]})
    x = ft.FeatureTensor(spec, format="export").encode(pd.DataFrame({"b": [True, False, None]}))
    assert x[:2, 0].tolist() == [1.0, 0.0] and np.isnan(x[2, 0])
    no_allowed = spec.model_copy(update={"features": ("s",)})
    with pytest.raises(ConfigError) as err:
        ft.FeatureTensor(no_allowed, format="export")
    assert str(err.value) == ft.NEEDS_ALLOWED.format(name="s", model="m", format="export", index=1)


def test_an_exported_program_answers_its_own_outputs_through_the_interface(program_dir, spec,
                                                                        rows, adult):
    loaded = load_model(program_dir, spec, device="cpu")
    assert isinstance(loaded, LoadedModel)
    assert (loaded.format, loaded.runnable, loaded.deep_exact) == ("export", True, False)
    assert loaded.input_names == list(TASK.features)
    own = byom.program_outputs(program_dir / "model.pt2", TASK, rows, adult)
    out = loaded.forward(rows)
    assert out.dtype == np.float64 and out.shape == (200, 6)
    np.testing.assert_allclose(out, own, rtol=1e-6)


def test_the_network_is_differentiable_and_forward_is_network_of_encode(program_dir, spec, rows):
    loaded = load_model(program_dir, spec, device="cpu")
    x = torch.from_numpy(loaded.encode(rows.head(8))).nan_to_num().requires_grad_(True)
    loaded.network(x)[:, 2].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with torch.no_grad():
        direct = loaded.network(torch.from_numpy(loaded.encode(rows))).double().numpy()
    np.testing.assert_array_equal(loaded.forward(rows), direct)


def test_forward_is_safe_from_several_threads(program_dir, spec, rows):
    loaded = load_model(program_dir, spec, device="cpu")
    sizes = list(range(1, 120, 7)) * 2
    expected = [loaded.forward(rows.head(n)) for n in sizes]   # one thread, one at a time
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: loaded.forward(rows.head(n)), sizes))
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result, want)


def test_a_registered_module_class_reads_the_same_tensor(tmp_path, net, spec, rows, adult):
    from raigov.models.artifacts import save_module

    module, params = net
    save_module(tmp_path, module, "adult_net", params)
    assert artifact_format(tmp_path).name == "module"
    loaded = load_model(tmp_path, spec, device="cpu")
    with torch.no_grad():
        own = module(torch.from_numpy(user_nets.encode(rows, byom.columns_of(TASK, adult))))
    np.testing.assert_allclose(loaded.forward(rows), own.double().numpy(), rtol=1e-6)
    assert type(loaded.network) is user_nets.AdultNet and not loaded.deep_exact
    with ARCHITECTURES.overriding():
        ARCHITECTURES._entries.pop("adult_net")
        with pytest.raises(ConfigError, match=r"Unknown architecture 'adult_net'.*register_architecture"):
            load_model(tmp_path, spec)


def test_an_external_model_loads_as_not_runnable(tmp_path, spec, rows):
    loaded = load_model(tmp_path, spec)
    assert (loaded.format, loaded.runnable, loaded.network) == ("external", False, None)
    with pytest.raises(NotRunnableError, match="is external"):
        loaded.forward(rows)


def test_a_program_exported_for_a_fixed_batch_is_refused_with_the_fix(tmp_path, net, spec):
    program = torch.export.export(net[0].eval(), (torch.zeros(8, len(TASK.features)),))
    torch.export.save(program, str(tmp_path / "model.pt2"))
    with pytest.raises(ConfigError) as err:
        load_model(tmp_path, spec)
    assert str(err.value) == ex.MSG_FIXED_BATCH.format(path=tmp_path / "model.pt2", rows=8)


def test_a_program_of_the_wrong_width_names_the_features(tmp_path, program_dir, spec):
    narrow = spec.model_copy(update={"features": spec.features[:3]})
    with pytest.raises(ConfigError, match=r"takes 7 columns, but model 'relationship' declares 3"):
        load_model(program_dir, narrow)


def test_a_file_that_is_not_a_program_is_named(tmp_path, spec):
    (tmp_path / "model.pt2").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"model\.pt2 is not a torch\.export program"):
        load_model(tmp_path, spec)


def test_an_artifact_directory_without_model_files_or_with_two_formats_is_refused(tmp_path,
                                                                                program_dir):
    with pytest.raises(ConfigError, match="holds no model files"):
        check_artifact(tmp_path)
    (tmp_path / "model.pt2").write_bytes((program_dir / "model.pt2").read_bytes())
    (tmp_path / "architecture.json").write_text(json.dumps({"name": "adult_net"}))
    with pytest.raises(ConfigError, match=r"two formats \(export, module\)"):
        check_artifact(tmp_path)
