"""Scoring flow: check new rows against the model's schema, predict, write Parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from flows.naming import run_name
from lifecycle.layout import PipelineLayout
from lifecycle.settings import resolve_data_dir
from lifecycle.spec import load_spec
from tasks.predict import check_new_rows, predict_rows, resolve_model


@flow(name="scoring", flow_run_name=lambda: run_name("score"), log_prints=False)
def scoring_flow(
    spec: str,
    input: str,
    output: str | None = None,
    model_version: str | None = None,
    data_dir: str | None = None,
) -> Path:
    """Scores new rows with a published model version.

    Args:
        spec: A spec file's path, or a shipped spec's name.
        input: The rows to score: a Parquet or CSV file, a glob or a folder, read
            with the spec's CSV options.
        output: The predictions Parquet file. Defaults to None
            (``predictions/<version>/<time>.parquet`` under the pipeline).
        model_version: The version to use. Defaults to None (the champion).
        data_dir: Output root. Defaults to None (``LIFECYCLE_DATA_DIR`` or
            ``data``).

    Returns:
        The predictions file.

    Raises:
        ValidationFailed: The rows break the model's contract.
    """
    pipeline = load_spec(spec)
    layout = PipelineLayout.of(resolve_data_dir(data_dir), pipeline.name)
    source = pipeline.data.source.model_copy(update={"path": input, "bundled": None})

    # Resolve the model: the named version, or the champion.
    model_dir = resolve_model(layout, model_version)
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = str(layout.predictions / model_dir.name / f"{stamp}.parquet")

    # Check the rows against the schema stored with the model.
    check_new_rows(model_dir, source)

    # Predict in batches and write Parquet.
    return predict_rows(model_dir, source, Path(output))
