"""Evaluate step: the model's figures on the held-out test split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.features import class_probabilities, encode_target, to_model_inputs
from lifecycle.layout import write_json, write_parquet
from lifecycle.schema import DataSchema
from lifecycle.spec import PipelineSpec

logger = logging.getLogger(__name__)


def baseline_metrics(
    train: pd.DataFrame, test: pd.DataFrame, schema: DataSchema
) -> dict[str, float]:
    """Figures of the trivial predictor, fitted on train, scored on test.

    Classification: the majority class's accuracy. Regression: the mean
    predictor's MAE and RMSE.
    """
    truth = test[schema.target]
    if schema.task == "regression":
        error = truth.to_numpy(dtype="float64") - float(train[schema.target].mean())
        return {
            "baseline_mae": float(np.abs(error).mean()),
            "baseline_rmse": float(np.sqrt((error**2).mean())),
        }
    majority = train[schema.target].mode().iloc[0]
    return {"baseline_accuracy": float((truth == majority).mean())}


def confusion_matrix(
    truth: pd.Series, predicted: pd.Series, labels: list[Any]
) -> pd.DataFrame:
    """Counts of true label (rows) by predicted label (columns), every label shown."""
    table = pd.crosstab(
        pd.Categorical(truth, categories=labels),
        pd.Categorical(predicted, categories=labels),
        dropna=False,
    )
    table.index = [str(label) for label in labels]
    table.columns = [str(label) for label in labels]
    return table.rename_axis("true_label").reset_index()


def evaluate_keras_model(
    model: Any,
    spec: PipelineSpec,
    schema: DataSchema,
    test: pd.DataFrame,
    train: pd.DataFrame,
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """Computes the test figures and, for classification, the confusion matrix.

    Returns:
        Metric name to value (Keras' compiled metrics, the loss, the row count and
        the trivial baseline), and the confusion matrix or None.
    """
    inputs = to_model_inputs(test, schema)
    target = encode_target(test[schema.target], schema, spec.compile.loss)
    figures = model.evaluate(
        inputs, target, batch_size=1024, verbose=0, return_dict=True
    )
    metrics = {name: float(value) for name, value in figures.items()}
    metrics["rows"] = float(len(test))
    metrics.update(baseline_metrics(train, test, schema))
    matrix = None
    if schema.labels is not None:
        outputs = model.predict(inputs, batch_size=4096, verbose=0)
        probabilities = class_probabilities(outputs, schema)
        predicted = pd.Series(
            np.asarray(schema.labels, dtype=object)[probabilities.argmax(axis=1)]
        )
        matrix = confusion_matrix(
            test[schema.target].reset_index(drop=True), predicted, schema.labels
        )
    return metrics, matrix


@task(name="evaluate", task_run_name="evaluate-{spec.name}", cache_policy=NO_CACHE)
def evaluate_model(
    spec: PipelineSpec,
    schema_path: Path,
    model_path: Path,
    splits: dict[str, Path],
    out_dir: Path,
) -> Path:
    """Scores the trained model on the test split; saves the figures.

    Writes ``metrics.parquet`` (one row per figure), ``metrics.json`` and, for
    classification, ``confusion_matrix.parquet``.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        model_path: The trained model's ``.keras`` file.
        splits: Split name to Parquet path.
        out_dir: Where the evaluation files go.

    Returns:
        The path of ``metrics.json``.
    """
    from prefect.logging import get_run_logger

    from lifecycle.keras_objects import load_keras_file

    schema = DataSchema.load(schema_path)
    model = load_keras_file(model_path)
    metrics, matrix = evaluate_keras_model(
        model,
        spec,
        schema,
        pd.read_parquet(splits["test"]),
        pd.read_parquet(splits["train"]),
    )
    write_parquet(
        out_dir / "metrics.parquet",
        pd.DataFrame({"metric": list(metrics), "value": list(metrics.values())}),
    )
    if matrix is not None:
        write_parquet(out_dir / "confusion_matrix.parquet", matrix)
    get_run_logger().info(
        "Test figures: %s", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    )
    return write_json(out_dir / "metrics.json", metrics)
