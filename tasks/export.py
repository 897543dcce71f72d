"""Export step: SavedModel, ``.keras`` file and metadata, published in one rename."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle import artifacts
from lifecycle.layout import publish_dir, read_json, staging_dir, write_json
from lifecycle.retries import IO_RETRIES
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


def write_model_folder(
    model: Any,
    spec: PipelineSpec,
    schema: DataSchema,
    metrics: dict[str, float],
    folder: Path,
) -> Path:
    """Writes SavedModel, ``.keras`` file, schema and metadata into a folder.

    Args:
        model: The trained model.
        spec: The pipeline spec.
        schema: The training schema.
        metrics: The test figures.
        folder: An empty folder named after the version (or its staging sibling).

    Returns:
        ``folder``.
    """
    version = folder.name.removeprefix(".").removesuffix(".partial")
    model.export(str(folder / SAVED_MODEL), format="tf_saved_model", verbose=False)
    model.save(folder / KERAS_FILE)
    schema.save(folder / SCHEMA)
    write_json(folder / METADATA, build_metadata(spec, schema, metrics, version))
    return folder


@task(
    name="export",
    task_run_name="export-{spec.name}",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def export_model(
    spec: PipelineSpec,
    schema_path: Path,
    model_path: Path,
    metrics_path: Path,
    final_dir: Path,
) -> Path:
    """Exports the trained model, unpublished, beside its future place.

    The SavedModel's ``serve`` signature takes one named raw column per feature.
    The folder also gets the run's evaluation outputs. Retried on I/O errors only.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        model_path: The trained model's ``.keras`` file.
        metrics_path: The run's ``metrics.json``; the files beside it (the
            evaluation outputs) are copied into the version too.
        final_dir: Where the version will be registered.

    Returns:
        The staging folder (``.<version>.partial``), complete but not yet visible.
    """
    from prefect.logging import get_run_logger

    from lifecycle.keras_objects import load_keras_file

    schema = DataSchema.load(schema_path)
    model = load_keras_file(model_path)
    staged = staging_dir(final_dir)
    write_model_folder(model, spec, schema, read_json(metrics_path), staged)
    shutil.copytree(metrics_path.parent, staged / "evaluation")
    get_run_logger().info("Exported model version %s", final_dir.name)
    return staged


@task(
    name="register",
    task_run_name="register-{spec.name}",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def register_model(spec: PipelineSpec, staged: Path, final_dir: Path) -> Path:
    """Publishes a complete model folder as a new immutable version, in one rename.

    Args:
        spec: The pipeline spec.
        staged: The exported folder, with its gate decision.
        final_dir: The version's folder.

    Returns:
        ``final_dir``.
    """
    from prefect.logging import get_run_logger

    publish_dir(staged, final_dir)
    artifacts.link(
        spec.name,
        "saved-model",
        final_dir / SAVED_MODEL,
        f"SavedModel {final_dir.name}",
    )
    get_run_logger().info(
        "Registered model version %s at %s", final_dir.name, final_dir
    )
    return final_dir
