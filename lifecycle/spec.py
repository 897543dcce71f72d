"""The pipeline spec: one YAML file parsed into typed, validated models."""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lifecycle.errors import SpecError

# Loss names decide the task, so the head and the label encoding follow from them.
BINARY_LOSSES = frozenset({"binary_crossentropy", "binary_focal_crossentropy"})
SPARSE_LOSSES = frozenset({"sparse_categorical_crossentropy"})
ONE_HOT_LOSSES = frozenset(
    {"categorical_crossentropy", "categorical_focal_crossentropy"}
)
REGRESSION_LOSSES = frozenset(
    {
        "mse",
        "mean_squared_error",
        "mae",
        "mean_absolute_error",
        "huber",
        "log_cosh",
        "msle",
        "mean_squared_logarithmic_error",
        "mape",
        "mean_absolute_percentage_error",
    }
)
KNOWN_LOSSES = BINARY_LOSSES | SPARSE_LOSSES | ONE_HOT_LOSSES | REGRESSION_LOSSES

Task = Literal["binary", "multiclass", "regression"]


class _Strict(BaseModel):
    """Base of every spec section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    """How to read a CSV source.

    Attributes:
        separator: Field delimiter. Defaults to ",".
        na_values: Extra strings read as missing, besides the empty field. Defaults
            to none.
        quote_char: Quote character. Defaults to '"'.
        encoding: Text encoding. Defaults to "utf8".
    """

    separator: str = Field(default=",", min_length=1, max_length=1)
    na_values: list[str] = Field(default_factory=list)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf8"


class SourceSpec(_Strict):
    """One table: a file, a glob, a folder of Parquet files, or a bundled table.

    Attributes:
        path: A Parquet or CSV file, a glob of them, or a (hive-partitioned) folder
            of Parquet files. Relative paths are taken from the working directory.
        bundled: One of scikit-learn's bundled real tables, instead of a path.
        format: "parquet", "csv" or "auto" (from the file suffix). Defaults to "auto".
        csv: CSV reading options. Defaults to comma-separated, empty field missing.
    """

    path: str | None = None
    bundled: Literal["wine", "breast_cancer", "diabetes"] | None = None
    format: Literal["auto", "parquet", "csv"] = "auto"
    csv: CsvOptions = Field(default_factory=CsvOptions)

    @model_validator(mode="after")
    def _one_location(self) -> SourceSpec:
        if (self.path is None) == (self.bundled is None):
            raise ValueError("give exactly one of 'path' or 'bundled'")
        return self

    def describe(self) -> str:
        """Returns a short label for messages: the path or ``bundled:<name>``."""
        return self.path if self.path is not None else f"bundled:{self.bundled}"


class FeaturesSpec(_Strict):
    """Which columns feed the model and how each is encoded.

    Listing ``numeric`` or ``categorical`` selects exactly those columns. Listing
    neither takes every column but the target, id, group and excluded ones, typed by
    their dtype (numbers are numeric, text is categorical).

    Attributes:
        numeric: Columns normalised inside the model. Defaults to None.
        categorical: Columns looked up as strings inside the model. Defaults to None.
        exclude: Columns never used when selecting by dtype. Defaults to none.
    """

    numeric: list[str] | None = None
    categorical: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)

    @property
    def listed(self) -> bool:
        """Whether the spec names the feature columns itself."""
        return self.numeric is not None or self.categorical is not None


class SplitSpec(_Strict):
    """How rows are divided into train, validation and test.

    Attributes:
        train: Fraction for training. Defaults to 0.7.
        validation: Fraction for validation (early stopping). Defaults to 0.15.
        test: Fraction held out for evaluation; 0 when ``data.test_source`` is given.
            Defaults to 0.15.
        seed: Shuffle seed. Defaults to None (the pipeline's seed).
        stratify: Keep class shares equal across splits (classification only).
            Defaults to True.
        group_column: Rows sharing a value stay on one side. Defaults to None.
    """

    train: float = Field(default=0.7, gt=0, lt=1)
    validation: float = Field(default=0.15, ge=0, lt=1)
    test: float = Field(default=0.15, ge=0, lt=1)
    seed: int | None = None
    stratify: bool = True
    group_column: str | None = None

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitSpec:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                "train + validation + test must be 1; "
                f"got {self.train} + {self.validation} + {self.test} = {total:g}"
            )
        return self


class DataSpec(_Strict):
    """Where the rows come from and what role each column plays.

    Attributes:
        source: The training table.
        test_source: A separate held-out table; then ``split.test`` must be 0.
            Defaults to None.
        target: The label column.
        features: Feature selection. Defaults to every other column.
        id_columns: Columns passed through to predictions. Defaults to none.
        split: Train / validation / test division. Defaults to 70 / 15 / 15.
    """

    source: SourceSpec
    test_source: SourceSpec | None = None
    target: str = Field(min_length=1)
    features: FeaturesSpec = Field(default_factory=FeaturesSpec)
    id_columns: list[str] = Field(default_factory=list)
    split: SplitSpec = Field(default_factory=SplitSpec)

    @model_validator(mode="after")
    def _test_from_one_place(self) -> DataSpec:
        if self.test_source is not None and self.split.test > 0:
            raise ValueError(
                "with data.test_source, split.test must be 0 (the test rows come "
                f"from that table); got split.test={self.split.test}"
            )
        if self.test_source is None and self.split.test == 0:
            raise ValueError(
                "split.test is 0 and there is no data.test_source: nothing would "
                "be held out; set split.test > 0 or give data.test_source"
            )
        return self


class LayerSpec(_Strict):
    """One Keras layer by class name, with its constructor arguments.

    Attributes:
        class_name: A class of ``keras.layers``, such as "Dense" or "Dropout".
        config: Keyword arguments for the constructor. Defaults to none.
    """

    class_name: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)


class NodeSpec(LayerSpec):
    """A named layer of a Functional graph, applied to named tensors.

    Attributes:
        name: The node's name, which later nodes and ``output`` refer to.
        inputs: Names of input groups or earlier nodes; several are passed as a
            list (as Concatenate expects).
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    inputs: list[str] = Field(min_length=1)


class InputGroup(_Strict):
    """A named model input made of several feature columns, concatenated.

    Attributes:
        columns: Feature columns in this group, encoded as their kind says.
    """

    columns: list[str] = Field(min_length=1)


class SequentialModelSpec(_Strict):
    """A ``keras.Sequential`` stack over all features; the output head is added.

    Attributes:
        kind: Always "sequential".
        layers: The hidden layers, first to last.
    """

    kind: Literal["sequential"]
    layers: list[LayerSpec] = Field(min_length=1)


class FunctionalModelSpec(_Strict):
    """A Functional graph from named input groups to one named node.

    Attributes:
        kind: Always "functional".
        inputs: Input groups by name.
        layers: Nodes in order; each names its inputs.
        output: The node the output head is put on.
    """

    kind: Literal["functional"]
    inputs: dict[str, InputGroup] = Field(min_length=1)
    layers: list[NodeSpec] = Field(min_length=1)
    output: str

    @model_validator(mode="after")
    def _graph_is_wired(self) -> FunctionalModelSpec:
        known = set(self.inputs)
        problems = []
        for node in self.layers:
            if node.name in known:
                problems.append(f"node name {node.name!r} is used twice")
            for ref in node.inputs:
                if ref not in known:
                    problems.append(
                        f"node {node.name!r} takes {ref!r}, which is not an input "
                        f"group or an earlier node; known: {sorted(known)}"
                    )
            known.add(node.name)
        if self.output not in known:
            problems.append(
                f"output {self.output!r} is not a node; known: {sorted(known)}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BuilderModelSpec(_Strict):
    """A user's own function builds the body of the model.

    The function is called as ``function(features, columns, **options)`` where
    ``features`` is the concatenated, preprocessed tensor and ``columns`` maps each
    feature column to its preprocessed tensor. It returns the tensor the output head
    is put on.

    Attributes:
        kind: Always "builder".
        builder: "package.module:function".
        options: Keyword arguments for the function. Defaults to none.
    """

    kind: Literal["builder"]
    builder: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    options: dict[str, Any] = Field(default_factory=dict)


ModelSpec = Annotated[
    SequentialModelSpec | FunctionalModelSpec | BuilderModelSpec,
    Field(discriminator="kind"),
]


class OptimizerSpec(_Strict):
    """An optimizer of ``keras.optimizers`` by name, with its arguments.

    Attributes:
        name: Such as "sgd", "adam", "rmsprop", "adamw" (any case).
        config: Constructor arguments, such as learning_rate and momentum.
            Defaults to Keras' own defaults.
    """

    name: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)


class CompileSpec(_Strict):
    """Optimizer, loss and metrics.

    Attributes:
        optimizer: A name, or a mapping with ``name`` and the optimizer's arguments.
        loss: A Keras loss name; it decides the task (binary, multiclass or
            regression).
        metrics: Metric names: accuracy, precision, recall, f1, auc, prc for
            classification; mae, mse, rmse, mape, r2 for regression. Defaults to none.
    """

    optimizer: OptimizerSpec
    loss: str
    metrics: list[str] = Field(default_factory=list)

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "config" not in value:
            rest = {k: v for k, v in value.items() if k != "name"}
            return {"name": value.get("name"), "config": rest}
        return value

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value not in KNOWN_LOSSES:
            raise ValueError(
                f"unknown loss {value!r}{did_you_mean(value, KNOWN_LOSSES)}; "
                f"allowed: {', '.join(sorted(KNOWN_LOSSES))}"
            )
        return value

    @field_validator("metrics")
    @classmethod
    def _lower_metrics(cls, value: list[str]) -> list[str]:
        return [name.lower() for name in value]

    @property
    def task(self) -> Task:
        """The learning task implied by the loss."""
        if self.loss in BINARY_LOSSES:
            return "binary"
        if self.loss in REGRESSION_LOSSES:
            return "regression"
        return "multiclass"


class EarlyStoppingSpec(_Strict):
    """Stop when the monitored figure stops improving.

    Attributes:
        monitor: A logged figure. Defaults to "val_loss".
        patience: Epochs without improvement before stopping. Defaults to 10.
        min_delta: Smallest change that counts. Defaults to 0.
        mode: "auto", "min" or "max". Defaults to "auto".
        restore_best_weights: Keep the best epoch's weights. Defaults to True.
    """

    monitor: str = "val_loss"
    patience: int = Field(default=10, ge=0)
    min_delta: float = Field(default=0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = True


class FitSpec(_Strict):
    """Arguments of ``Model.fit``.

    Attributes:
        epochs: Passes over the training split; at least 1.
        batch_size: Rows a step. Defaults to 32.
        verbose: Passed straight to Keras: 0 silent, 1 progress bar, 2 a line an
            epoch. Defaults to 2.
        shuffle: Shuffle the training rows each epoch. Defaults to True.
        early_stopping: Early stopping settings. Defaults to None (off).
    """

    epochs: int = Field(ge=1)
    batch_size: int = Field(default=32, ge=1)
    verbose: Literal[0, 1, 2] = 2
    shuffle: bool = True
    early_stopping: EarlyStoppingSpec | None = None


# Figures where a larger value is better; every other figure is an error to lower.
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "auc", "r2"})
GATE_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "auc"),
    "multiclass": ("accuracy", "precision", "recall", "f1"),
    "regression": ("mae", "rmse", "mse", "r2"),
}


class PromotionSpec(_Strict):
    """The gate a new model version must pass to become the champion.

    Attributes:
        metric: The key figure, computed the same way for the challenger and the
            champion on the run's held-out rows. Defaults to None (accuracy for
            classification, mae for regression).
        floor: The absolute bar the key figure must clear (at least it for
            higher-is-better figures, at most it for errors). Defaults to None
            (no bar).
        tolerance: How much worse than the champion the challenger may be.
            Defaults to 0 (not worse at all).
    """

    metric: str | None = None
    floor: float | None = None
    tolerance: float = Field(default=0.0, ge=0)


class PipelineSpec(_Strict):
    """One pipeline: data, model, compile and fit settings, and the seed.

    Attributes:
        name: Pipeline name; outputs go under ``<data_dir>/<name>/``.
        description: Free text. Defaults to "".
        seed: Seeds the split, weights, shuffling and dropout. Defaults to 42.
        data: Data settings.
        model: The model: sequential, functional or builder.
        compile: Optimizer, loss and metrics.
        fit: Training settings.
        promotion: The promotion gate. Defaults to the task's key figure with no
            floor and no tolerance.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    description: str = ""
    seed: int = 42
    data: DataSpec
    model: ModelSpec
    compile: CompileSpec
    fit: FitSpec
    promotion: PromotionSpec = Field(default_factory=PromotionSpec)

    @property
    def key_metric(self) -> str:
        """The figure the promotion gate compares."""
        if self.promotion.metric is not None:
            return self.promotion.metric
        return "mae" if self.compile.task == "regression" else "accuracy"

    @model_validator(mode="after")
    def _gate_metric_fits_task(self) -> PipelineSpec:
        allowed = GATE_METRICS[self.compile.task]
        if self.key_metric not in allowed:
            raise ValueError(
                f"promotion.metric {self.key_metric!r} is not a {self.compile.task} "
                f"figure the gate computes; allowed: {', '.join(allowed)}"
            )
        return self

    @property
    def split_seed(self) -> int:
        """The split's own seed, or the pipeline's."""
        seed = self.data.split.seed
        return self.seed if seed is None else seed

    @model_validator(mode="after")
    def _stopping_has_validation(self) -> PipelineSpec:
        stopping = self.fit.early_stopping
        if (
            stopping is not None
            and stopping.monitor.startswith("val_")
            and self.data.split.validation == 0
        ):
            raise ValueError(
                f"fit.early_stopping monitors {stopping.monitor!r} but "
                "data.split.validation is 0; give a validation fraction or monitor "
                "a training figure"
            )
        return self


def shipped_specs() -> dict[str, Path]:
    """Returns the specs that ship with the package, by name."""
    folder = resources.files("lifecycle") / "specs"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def resolve_spec_path(spec: str | Path) -> Path:
    """Finds a spec file: an existing path, or the name of a shipped spec.

    Args:
        spec: A path to a YAML file, or a shipped spec's name such as "wine".

    Returns:
        The spec file's path.

    Raises:
        SpecError: Neither a file nor a shipped spec has that name.
    """
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_specs()
    if str(spec) in shipped:
        return shipped[str(spec)]
    raise SpecError(
        f"spec {str(spec)!r} is neither a file nor a shipped spec"
        f"{did_you_mean(str(spec), shipped)}; shipped: {', '.join(sorted(shipped))}"
    )


def load_spec(spec: str | Path) -> PipelineSpec:
    """Reads and validates a pipeline spec.

    Args:
        spec: A path to a YAML file, or a shipped spec's name.

    Returns:
        The parsed spec.

    Raises:
        SpecError: The file is missing, is not YAML, or breaks the schema; the
            message names every offending key, the value found and what is allowed.
    """
    path = resolve_spec_path(spec)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"spec {path}: cannot read it as YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(
            f"spec {path}: expected a mapping at the top level; "
            f"got {type(raw).__name__}"
        )
    return parse_spec(raw, origin=str(path))


def parse_spec(raw: dict[str, Any], origin: str = "<spec>") -> PipelineSpec:
    """Validates a spec given as a mapping.

    Args:
        raw: The spec's contents.
        origin: Where it came from, for messages. Defaults to "<spec>".

    Returns:
        The parsed spec.

    Raises:
        SpecError: The mapping breaks the schema.
    """
    try:
        return PipelineSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe_error(error) for error in exc.errors()]
        if len(problems) == 1:
            raise SpecError(f"spec {origin}: {problems[0]}") from None
        listed = "\n".join(f"  - {line}" for line in problems)
        raise SpecError(f"spec {origin}: {len(problems)} problems:\n{listed}") from None


def _describe_error(error: dict[str, Any]) -> str:
    """Turns one pydantic error into 'key: what is wrong; got X'."""
    # Discriminated unions put the chosen tag in the location; it is noise here.
    loc = [str(part) for part in error["loc"] if part not in _MODEL_KINDS]
    key = ".".join(loc) or "<top>"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        hint = did_you_mean(loc[-1], allowed)
        return f"unknown key {key!r}{hint}; allowed here: {', '.join(sorted(allowed))}"
    if error["type"] == "missing":
        return f"key {key!r} is required but missing"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        # A check across sections names its keys itself.
        return message if key == "<top>" else f"{key}: {message}"
    return f"{key}: {message}; got {error.get('input')!r}"


_MODEL_KINDS = {"sequential", "functional", "builder"}


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Walks the spec models along a location to list the keys allowed there."""
    model: Any = PipelineSpec
    for part in loc:
        if part in _MODEL_KINDS:
            model = {
                "sequential": SequentialModelSpec,
                "functional": FunctionalModelSpec,
                "builder": BuilderModelSpec,
            }[part]
            continue
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """Finds the spec model inside an annotation such as ``list[X] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def did_you_mean(value: str, choices: Any) -> str:
    """Returns " (did you mean 'x'?)" for the closest choice, or ""."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_]")


def safe_name(column: str) -> str:
    """Returns a Keras-safe layer name part for a column name."""
    return _SAFE_NAME.sub("_", column)
