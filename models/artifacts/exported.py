"""The export format: ``model.pt2``, a ``torch.export`` program, loaded with
``torch.export.load`` (a serialised graph and its weights; nothing is unpickled).

The program takes one float32 tensor ``[N, F]`` (the contract of
:mod:`raigov.models.artifacts.feature_tensor`) with a dynamic batch dimension and returns
one tensor: binary ``[N]`` or ``[N, 1]``, multiclass ``[N, K]`` in ``classes`` order
(logits, or probabilities with ``returns: probabilities``), regression ``[N]`` or
``[N, 1]`` values. Export it in eval mode::

    program = torch.export.export(net.eval(), (torch.zeros(8, n_features),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, "artifact/model.pt2")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError
from raigov.models.artifacts.feature_tensor import FeatureTensor, TensorModel
from raigov.models.artifacts.loaded import default_device

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

PROGRAM_FILE = "model.pt2"
FORMAT = "export"

MSG_UNREADABLE = "Model artifact file {path} is not a torch.export program: {error}"
MSG_INPUTS = ("Model artifact file {path} takes {n} inputs {names}; raigov feeds one float32 "
              "tensor [N, F] of the spec's features")
MSG_FIXED_BATCH = ("Model artifact file {path} was exported for a fixed batch of {rows} rows; "
                   "export it with dynamic_shapes=({{0: torch.export.Dim('batch')}},)")
MSG_WIDTH = ("Model artifact file {path} takes {width} columns, but model {model!r} declares "
             "{n} features {features}")
MSG_MOVE = "Model artifact file {path} cannot be moved to device {device!r}: {error}"


def load_exported(path: Path, spec: "ModelSpec", *, device: str | None = None) -> TensorModel:
    """Load ``path`` (``model.pt2`` or a directory holding it) for ``spec``."""
    import torch

    file = path / PROGRAM_FILE if path.is_dir() else path
    tensor = FeatureTensor(spec, format=FORMAT)
    try:
        program = torch.export.load(str(file))
    except Exception as exc:  # noqa: BLE001 - whatever torch says, the file is wrong
        raise ConfigError(MSG_UNREADABLE.format(path=file, error=_first_line(exc))) from exc
    _check_input(program, file, spec)
    device = default_device(device)
    if device != "cpu":
        try:
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, device)
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(MSG_MOVE.format(path=file, device=device,
                                              error=_first_line(exc))) from exc
    return TensorModel(spec, device, program.module(), tensor, FORMAT)


def _check_input(program: Any, file: Path, spec: "ModelSpec") -> None:
    names = list(program.graph_signature.user_inputs)
    if len(names) != 1:
        raise ConfigError(MSG_INPUTS.format(path=file, n=len(names), names=names))
    node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == names[0])
    shape = getattr(node.meta.get("val"), "shape", None)
    if shape is None or len(shape) != 2:
        return  # the first forward pass reports what is wrong
    if isinstance(shape[0], int):
        raise ConfigError(MSG_FIXED_BATCH.format(path=file, rows=shape[0]))
    if isinstance(shape[1], int) and shape[1] != len(spec.features):
        raise ConfigError(MSG_WIDTH.format(path=file, width=shape[1], model=spec.name,
                                           n=len(spec.features), features=list(spec.features)))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
