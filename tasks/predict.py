"""Predict step: score rows in batches with the SavedModel, write Parquet."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle import artifacts
from lifecycle.errors import DataError, ModelError
from lifecycle.features import class_probabilities, to_model_inputs
from lifecycle.layout import PipelineLayout, read_json
from lifecycle.locks import promotion_lock
from lifecycle.registry import ModelRegistry
from lifecycle.retries import IO_RETRIES
from lifecycle.schema import DataSchema
from lifecycle.spec import SourceSpec
from tasks.export import METADATA, SAVED_MODEL, SCHEMA
from tasks.load import load_table
from tasks.validate import check_rows

logger = logging.getLogger(__name__)

# The SavedModel's serve endpoint ran fastest over chunks of this size
# (../shared/NOTES.md).
BATCH_ROWS = 65_536
PREDICTION = "prediction"
MODEL_VERSION = "model_version"


def layout_name(model_dir: Path) -> str:
    """The pipeline a model folder belongs to (``<pipeline>/models/<version>``)."""
    return Path(model_dir).resolve().parents[1].name


@dataclass(frozen=True)
class ExportedModel:
    """A published model folder, loaded for scoring.

    Attributes:
        version: The model version (the folder's name).
        schema: The schema it was trained on.
        serve: The SavedModel's serving function: named raw columns in.
        root: The loaded SavedModel object; kept so the variables that ``serve``
            refers to stay alive as long as this object.
    """

    version: str
    schema: DataSchema
    serve: Any
    root: Any

    @classmethod
    def load(cls, model_dir: Path) -> ExportedModel:
        """Loads a model folder written by the export step.

        Raises:
            ModelError: The folder is not a complete exported model.
        """
        import tensorflow as tf

        model_dir = Path(model_dir)
        missing = [
            name
            for name in (SAVED_MODEL, METADATA, SCHEMA)
            if not (model_dir / name).exists()
        ]
        if missing:
            raise ModelError(
                f"model folder {model_dir} lacks {missing}; expected a folder written "
                "by the export step (lifecycle train)"
            )
        loaded = tf.saved_model.load(str(model_dir / SAVED_MODEL))
        metadata = read_json(model_dir / METADATA)
        return cls(
            version=str(metadata["version"]),
            schema=DataSchema.load(model_dir / SCHEMA),
            serve=loaded.signatures["serve"],
            root=loaded,
        )

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """Runs the serving function on raw rows; returns the raw model output."""
        inputs = to_model_inputs(frame, self.schema)
        result = self.serve(**inputs)
        if isinstance(result, dict):
            (result,) = result.values()
        return np.asarray(result)


def prediction_frame(model: ExportedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Returns ids, the predicted label or value, class probabilities and version.

    Rows keep the input's order.
    """
    schema = model.schema
    outputs = model.outputs(frame)
    result = pd.DataFrame(
        {column: frame[column].to_numpy() for column in schema.id_columns},
        index=pd.RangeIndex(len(frame)),
    )
    if schema.labels is None:
        result[PREDICTION] = outputs.reshape(-1).astype("float64")
    else:
        probabilities = class_probabilities(outputs, schema)
        labels = pd.Series(schema.labels)
        result[PREDICTION] = labels.iloc[probabilities.argmax(axis=1)].to_numpy()
        for index, label in enumerate(schema.labels):
            result[f"proba_{label}"] = probabilities[:, index].astype("float64")
    result[MODEL_VERSION] = model.version
    return result


def predict_table(
    model: ExportedModel,
    frame: pd.DataFrame,
    output: Path,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Scores a frame in chunks and writes one Parquet file, complete or not at all.

    Args:
        model: The loaded model.
        frame: Rows with at least the feature and id columns.
        output: The Parquet file to write; written under a temporary name first.
        batch_rows: Rows per model call. Defaults to 65,536.

    Returns:
        Rows written.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, max(len(frame), 1), batch_rows):
            chunk = prediction_frame(model, frame.iloc[start : start + batch_rows])
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
            writer = None
        os.replace(tmp, output)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return len(frame)


@task(
    name="resolve-model",
    task_run_name="resolve-model-{layout.root.name}",
    cache_policy=NO_CACHE,
)
def resolve_model(layout: PipelineLayout, version: str | None = None) -> Path:
    """Returns the folder of the named version, or of the champion.

    The champion is read while holding the pipeline's promotion lock, so scoring
    waits while a promotion is in flight.

    Args:
        layout: The pipeline's folders.
        version: A registered version. Defaults to None (the champion).

    Returns:
        The model version's folder.

    Raises:
        LifecycleError: The version is not registered, or there is no champion.
    """
    from prefect.logging import get_run_logger

    if version is None:
        with promotion_lock(layout.root.name):
            version = ModelRegistry(layout).require_champion()
        get_run_logger().info("Scoring with champion %s", version)
    return layout.published_model_dir(version)


@task(
    name="check-rows",
    task_run_name="check-rows-{model_dir.parent.parent.name}",
    cache_policy=NO_CACHE,
)
def check_new_rows(model_dir: Path, source: SourceSpec) -> int:
    """Checks new rows against the model's stored schema with Great Expectations.

    Missing columns, non-numeric numbers and missing values where training had
    none stop the run; values outside training's ranges or categories are logged
    as warnings (drift) and scored.

    Args:
        model_dir: The model version's folder.
        source: The rows to score.

    Returns:
        The number of rows checked.

    Raises:
        ValidationFailed: The rows break the model's contract.
    """
    from prefect.logging import get_run_logger

    schema = DataSchema.load(Path(model_dir) / SCHEMA)
    frame = load_table(source)
    warnings = check_rows(
        frame, schema, where=f"input {source.describe()!r}", include_target=False
    )
    get_run_logger().info(
        "Checked %d new rows against model %s: %d drift warning(s)",
        len(frame),
        Path(model_dir).name,
        len(warnings),
    )
    return len(frame)


@task(
    name="predict",
    task_run_name="predict-{model_dir.parent.parent.name}",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def predict_rows(
    model_dir: Path, source: SourceSpec, output: Path, batch_rows: int = BATCH_ROWS
) -> Path:
    """Scores rows with the SavedModel and writes predictions as Parquet.

    Args:
        model_dir: The model version's folder.
        source: The rows to score.
        output: The predictions file.
        batch_rows: Rows per model call. Defaults to 65,536.

    Returns:
        ``output``.

    Raises:
        DataError: The source cannot be read.
        ModelError: The model folder is incomplete.
    """
    from prefect.logging import get_run_logger

    if Path(output).is_dir():
        raise DataError(
            f"--output {str(output)!r} is a folder; expected the path of the "
            "Parquet file to write, such as predictions.parquet inside it"
        )
    model = ExportedModel.load(model_dir)
    frame = load_table(source)
    missing = [c for c in model.schema.id_columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"input {source.describe()!r} lacks id columns {missing}, which "
            "predictions carry; add them to the input"
        )
    rows = predict_table(model, frame, Path(output), batch_rows)
    artifacts.link(
        layout_name(model_dir),
        "predictions",
        Path(output),
        f"Predictions by {model.version}",
    )
    get_run_logger().info(
        "Wrote %d predictions (model %s) to %s", rows, model.version, output
    )
    return Path(output)
