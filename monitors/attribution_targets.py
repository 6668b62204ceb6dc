"""Which of a network's raw outputs an explanation attributes, per output kind.

One strategy per output kind in :data:`EXPLAIN_TARGETS` (the kind's name is the key, as
in ``raigov.models.output_kinds``), so the explanations never branch on a kind's name:

- **binary**: one target, the network's raw output for the positive class (its logit,
  or its probability when ``spec.returns`` is ``probabilities``);
- **multiclass**: one target per class, the raw output of that class (logit or
  probability); a row's *decision* is its predicted class, and the monitor also reports
  each class's importance under segment ``class=<name>``;
- **regression**: one target, the predicted value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from raigov.registry import Registry

if TYPE_CHECKING:
    from raigov.models.spec import ModelSpec

CLASS_COLUMN = "class"  # per-class rows have segment class=<name>


class ExplainTarget:
    """The strategy interface; subclasses are the kinds."""

    name: ClassVar[str]

    def names(self, spec: "ModelSpec") -> tuple[str, ...]:
        """One name per explained output column."""
        raise NotImplementedError

    def unit(self, spec: "ModelSpec") -> str:
        """What the explained output is, in a word (``logit``, ``probability``, ``value``)."""
        return "logit" if spec.returns == "logits" else "probability"

    def meaning(self, spec: "ModelSpec") -> str:
        raise NotImplementedError

    def decision(self, outputs: np.ndarray) -> np.ndarray:
        """For each row, the index of the target that explains its decision."""
        return np.zeros(len(outputs), dtype=np.int64)

    def class_segments(self, spec: "ModelSpec") -> list[tuple[str, int]]:
        """(class name, target index) pairs reported per class (segment
        ``class=<name>``; none by default)."""
        return []


def as_targets(raw: np.ndarray) -> np.ndarray:
    """A raw output ``[N]``, ``[N, 1]`` or ``[N, K]`` as ``[N, T]`` float64."""
    out = np.asarray(raw, dtype=np.float64)
    return out.reshape(len(out), -1)


class BinaryTarget(ExplainTarget):
    name = "binary"

    def names(self, spec):
        return (spec.positive_class,)

    def meaning(self, spec):
        return (f"the network's {self.unit(spec)} of class {spec.positive_class!r}: "
                "baseline + sum of a row's contributions = the row's "
                f"{self.unit(spec)}")


class MulticlassTarget(ExplainTarget):
    name = "multiclass"

    def names(self, spec):
        return tuple(spec.classes)

    def meaning(self, spec):
        return (f"the network's {self.unit(spec)} of each class; a row's decision is "
                f"explained on its predicted class: baseline + sum of its contributions "
                f"= that class's {self.unit(spec)}")

    def decision(self, outputs):
        return np.argmax(outputs, axis=1).astype(np.int64)

    def class_segments(self, spec):
        return [(c, k) for k, c in enumerate(spec.classes)]


class RegressionTarget(ExplainTarget):
    name = "regression"

    def names(self, spec):
        return ("value",)

    def unit(self, spec):
        return "value"

    def meaning(self, spec):
        return ("the predicted value: baseline + sum of a row's contributions = the "
                "row's prediction")


EXPLAIN_TARGETS: Registry[ExplainTarget] = Registry("explained output kind")
for _target in (BinaryTarget(), MulticlassTarget(), RegressionTarget()):
    EXPLAIN_TARGETS.register(_target.name, _target)


def explain_target(spec: "ModelSpec") -> ExplainTarget:
    return EXPLAIN_TARGETS.get(spec.output_kind)
