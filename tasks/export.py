"""Export step: SavedModel, ``.keras`` file and metadata, published in one rename."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.layout import (
    discard_dir,
    publish_dir,
    read_json,
    staging_dir,
    write_json,
)
from lifecycle.retries import retry_on_io_error
from lifecycle.schema import DataSchema
from lifecycle.spec import PipelineSpec

logger = logging.getLogger(__name__)

SAVED_MODEL = "saved_model"
KERAS_FILE = "model.keras"
METADATA = "metadata.json"
SCHEMA = "schema.json"

_PACKAGES = (
    "tensorflow-cpu",
    "keras",
    "prefect",
    "great-expectations",
    "pandas",
    "pyarrow",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a model's behaviour."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


def build_metadata(
    spec: PipelineSpec, schema: DataSchema, metrics: dict[str, float], version: str
) -> dict[str, Any]:
    """Everything needed to know what a model is and where it came from."""
    return {
        "version": version,
        "pipeline": spec.name,
        "created_at": datetime.now(UTC).isoformat(),
        "task": schema.task,
        "target": schema.target,
        "label_vocabulary": schema.labels,
        "features": [
            {"name": column.name, "kind": column.kind, "dtype": column.dtype}
            for column in schema.features
        ],
        "id_columns": schema.id_columns,
        "data_fingerprint": schema.fingerprint,
        "training_rows": schema.rows,
        "metrics": metrics,
        "spec": spec.model_dump(mode="json"),
        "packages": package_versions(),
    }


def export_keras_model(
    model: Any,
    spec: PipelineSpec,
    schema: DataSchema,
    metrics: dict[str, float],
    final_dir: Path,
) -> Path:
    """Writes the model folder under a temporary name, then renames it into place.

    Args:
        model: The trained model.
        spec: The pipeline spec.
        schema: The training schema.
        metrics: The test figures.
        final_dir: The published folder; its name is the version.

    Returns:
        ``final_dir``.
    """
    staging = staging_dir(final_dir)
    try:
        model.export(str(staging / SAVED_MODEL), format="tf_saved_model", verbose=False)
        model.save(staging / KERAS_FILE)
        schema.save(staging / SCHEMA)
        write_json(
            staging / METADATA, build_metadata(spec, schema, metrics, final_dir.name)
        )
        return publish_dir(staging, final_dir)
    except BaseException:
        discard_dir(staging)
        raise


@task(
    name="export",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io_error,
    cache_policy=NO_CACHE,
)
def export_model(
    spec: PipelineSpec,
    schema_path: Path,
    model_path: Path,
    metrics_path: Path,
    final_dir: Path,
) -> Path:
    """Exports the trained model as a SavedModel plus ``.keras`` and metadata.

    The SavedModel's ``serve`` signature takes one named raw column per feature.
    Retried on I/O errors only.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        model_path: The trained model's ``.keras`` file.
        metrics_path: The test figures (``metrics.json``).
        final_dir: The model version's folder.

    Returns:
        ``final_dir``.
    """
    from prefect.logging import get_run_logger

    from lifecycle.keras_objects import load_keras_file

    schema = DataSchema.load(schema_path)
    model = load_keras_file(model_path)
    export_keras_model(model, spec, schema, read_json(metrics_path), final_dir)
    get_run_logger().info("Exported model version %s to %s", final_dir.name, final_dir)
    return final_dir
