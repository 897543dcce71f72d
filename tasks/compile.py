"""Compile step: optimizer, loss and metrics from the spec."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.errors import SpecError
from lifecycle.schema import DataSchema
from lifecycle.spec import ONE_HOT_LOSSES, CompileSpec, PipelineSpec, Task, did_you_mean

logger = logging.getLogger(__name__)


def _optimizers() -> dict[str, type]:
    import keras

    return {
        name.lower(): cls
        for name in dir(keras.optimizers)
        if isinstance(cls := getattr(keras.optimizers, name), type)
        and issubclass(cls, keras.optimizers.Optimizer)
        and cls is not keras.optimizers.Optimizer
    }


def make_optimizer(spec: CompileSpec) -> Any:
    """Returns a fresh optimizer as the spec names and configures it.

    Raises:
        SpecError: Unknown optimizer, or arguments it refuses.
    """
    known = _optimizers()
    cls = known.get(spec.optimizer.name.lower())
    if cls is None:
        raise SpecError(
            f"compile.optimizer.name: unknown optimizer {spec.optimizer.name!r}"
            f"{did_you_mean(spec.optimizer.name.lower(), known)}; allowed: "
            f"{', '.join(sorted(known))}"
        )
    try:
        return cls(**spec.optimizer.config)
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"compile.optimizer: {cls.__name__} refused {spec.optimizer.config}: {exc}"
        ) from None


def _metric_factories(task_kind: Task, loss: str, classes: int) -> dict[str, Callable]:
    """Metric name to a constructor, for one task."""
    import keras

    from lifecycle.keras_objects import MacroAUC, MacroScore

    if task_kind == "regression":
        return {
            "mae": lambda: keras.metrics.MeanAbsoluteError(name="mae"),
            "mse": lambda: keras.metrics.MeanSquaredError(name="mse"),
            "rmse": lambda: keras.metrics.RootMeanSquaredError(name="rmse"),
            "mape": lambda: keras.metrics.MeanAbsolutePercentageError(name="mape"),
            "r2": lambda: keras.metrics.R2Score(name="r2"),
        }
    if task_kind == "binary":
        return {
            "accuracy": lambda: keras.metrics.BinaryAccuracy(name="accuracy"),
            "precision": lambda: keras.metrics.Precision(name="precision"),
            "recall": lambda: keras.metrics.Recall(name="recall"),
            "f1": lambda: keras.metrics.F1Score(
                average="micro", threshold=0.5, name="f1"
            ),
            "auc": lambda: keras.metrics.AUC(name="auc"),
            "prc": lambda: keras.metrics.AUC(curve="PR", name="prc"),
        }
    one_hot = loss in ONE_HOT_LOSSES
    accuracy = (
        keras.metrics.CategoricalAccuracy
        if one_hot
        else keras.metrics.SparseCategoricalAccuracy
    )
    return {
        "accuracy": lambda: accuracy(name="accuracy"),
        "precision": lambda: MacroScore(classes, "precision", one_hot=one_hot),
        "recall": lambda: MacroScore(classes, "recall", one_hot=one_hot),
        "f1": lambda: MacroScore(classes, "f1", one_hot=one_hot),
        "auc": lambda: MacroAUC(classes, one_hot=one_hot),
    }


def make_metrics(spec: CompileSpec, classes: int) -> list[Any]:
    """Returns the Keras metric objects for the spec's metric names.

    Args:
        spec: The compile section.
        classes: Number of classes (2 for regression; unused there).

    Raises:
        SpecError: A metric name is unknown or does not fit the task.
    """
    factories = _metric_factories(spec.task, spec.loss, classes)
    unknown = [name for name in spec.metrics if name not in factories]
    if unknown:
        name = unknown[0]
        raise SpecError(
            f"compile.metrics: {name!r} is not a {spec.task} metric"
            f"{did_you_mean(name, factories)}; allowed with loss {spec.loss!r}: "
            f"{', '.join(factories)}"
        )
    return [factories[name]() for name in spec.metrics]


def check_compile_spec(spec: PipelineSpec) -> None:
    """Checks optimizer and metric names without data or a model.

    Raises:
        SpecError: The optimizer or a metric does not exist for this task.
    """
    make_optimizer(spec.compile)
    make_metrics(spec.compile, classes=2)


def compile_keras_model(model: Any, spec: PipelineSpec, schema: DataSchema) -> Any:
    """Compiles a model in place with the spec's optimizer, loss and metrics."""
    classes = len(schema.labels) if schema.labels else 1
    model.compile(
        optimizer=make_optimizer(spec.compile),
        loss=spec.compile.loss,
        metrics=make_metrics(spec.compile, classes),
    )
    return model


@task(name="compile", task_run_name="compile-{spec.name}", cache_policy=NO_CACHE)
def compile_model(
    spec: PipelineSpec, schema_path: Path, model_path: Path, out_path: Path
) -> Path:
    """Compiles the defined model and saves it with its compile settings.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        model_path: The defined model's ``.keras`` file.
        out_path: Where the compiled ``.keras`` file goes.

    Returns:
        ``out_path``.
    """
    from prefect.logging import get_run_logger

    from lifecycle.keras_objects import load_keras_file

    schema = DataSchema.load(schema_path)
    model = load_keras_file(model_path, compile=False)
    compile_keras_model(model, spec, schema)
    model.save(out_path)
    get_run_logger().info(
        "Compiled with %s, loss %s, metrics %s",
        spec.compile.optimizer.name,
        spec.compile.loss,
        spec.compile.metrics or "none",
    )
    return out_path
