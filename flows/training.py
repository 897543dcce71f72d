"""Training flow: from the raw table to a registered, gated model version."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from pydantic import BaseModel

from flows.naming import run_name
from lifecycle.layout import (
    PipelineLayout,
    discard_dir,
    new_version,
    publish_dir,
    read_json,
    staging_dir,
)
from lifecycle.settings import resolve_data_dir
from lifecycle.spec import PipelineSpec, SourceSpec, load_spec, parse_spec
from tasks.check import check_spec
from tasks.compile import compile_model
from tasks.define import define_model
from tasks.evaluate import evaluate_model
from tasks.export import export_model, register_model
from tasks.fit import fit_model
from tasks.load import load_data
from tasks.promote import judge_model, promote_model
from tasks.split import split_data
from tasks.validate import validate_data


class TrainingResult(BaseModel):
    """What a training run produced.

    Attributes:
        pipeline: The pipeline's name.
        version: The new model version.
        model_dir: The published model folder.
        run_dir: The run's record (splits, reports, history, evaluation).
        metrics: The test figures.
        promoted: Whether the gate made it the champion.
    """

    pipeline: str
    version: str
    model_dir: Path
    run_dir: Path
    metrics: dict[str, float]
    promoted: bool

    @property
    def test_split(self) -> Path:
        """The held-out rows the model was evaluated on."""
        return self.run_dir / "splits" / "test.parquet"


def _with_overrides(
    spec: PipelineSpec, source: str | None, test_source: str | None, epochs: int | None
) -> PipelineSpec:
    """Points the spec's data at other files (keeping its reading options), and
    applies an epochs override, validated as the spec's own value would be."""
    data = spec.data
    if source is not None:
        data = data.model_copy(update={"source": _pointed(data.source, source)})
    if test_source is not None:
        base = data.test_source or data.source
        data = data.model_copy(update={"test_source": _pointed(base, test_source)})
    spec = spec.model_copy(update={"data": data})
    if epochs is not None:
        raw = spec.model_dump()
        raw["fit"]["epochs"] = epochs
        spec = parse_spec(raw, origin="training_flow(epochs=...)")
    return spec


def _pointed(source: SourceSpec, path: str) -> SourceSpec:
    return source.model_copy(update={"path": path, "bundled": None})


@flow(name="training", flow_run_name=lambda: run_name("train"), log_prints=False)
def training_flow(
    spec: str,
    source: str | None = None,
    test_source: str | None = None,
    data_dir: str | None = None,
    epochs: int | None = None,
) -> TrainingResult:
    """Trains, evaluates, registers and (if it passes the gate) promotes a model.

    Every file goes into a hidden staging folder first; the model version and the
    run record are renamed into place only once everything succeeded, so a failed
    run leaves the registry as it was. The gate compares the new version with the
    champion on the same held-out rows; only a version that passes it is promoted,
    which emits the ``lifecycle.model.promoted`` event.

    Args:
        spec: A spec file's path, or a shipped spec's name such as "wine".
        source: Another training table than the spec's. Defaults to None.
        test_source: Another held-out table than the spec's. Defaults to None.
        data_dir: Output root. Defaults to None (``LIFECYCLE_DATA_DIR`` or
            ``data``).
        epochs: Overrides ``fit.epochs``, for a quick run. Defaults to None.

    Returns:
        The new version, where it went, its test figures and whether it was
        promoted.

    Raises:
        SpecError: The spec is invalid or names unknown Keras objects.
        DataError: The data cannot be read or does not fit the spec.
        ValidationFailed: The data breaks the contract; the GX results are kept
            under ``rejected/<version>/``, and the message says where.
    """
    pipeline = _with_overrides(load_spec(spec), source, test_source, epochs)
    layout = PipelineLayout.of(resolve_data_dir(data_dir), pipeline.name)
    version = new_version()

    # Pre-flight: unknown layers, optimizers or metrics fail before any I/O.
    check_spec(pipeline)

    run_dir = layout.runs / version
    staging = staging_dir(run_dir)
    staged_model = None
    try:
        # Load the training table (and a separate test table, if any).
        table = load_data(pipeline.data.source, staging / "input" / "table.parquet")
        test_table = None
        if pipeline.data.test_source is not None:
            test_table = load_data(
                pipeline.data.test_source, staging / "input" / "test_table.parquet"
            )

        # Validate with Great Expectations; derive the schema.
        schema = validate_data(
            pipeline,
            table,
            staging / "validation",
            test_table,
            rejected_dir=layout.rejected / version,
        )

        # Split into train, validation and test.
        splits = split_data(pipeline, table, staging / "splits", test_table)

        # Define the model, preprocessing inside.
        defined = define_model(
            pipeline, schema, splits["train"], staging / "model" / "defined.keras"
        )

        # Compile it.
        compiled = compile_model(
            pipeline, schema, defined, staging / "model" / "compiled.keras"
        )

        # Fit it.
        fitted = fit_model(
            pipeline,
            schema,
            compiled,
            splits,
            staging / "model" / "fitted.keras",
            staging / "history.parquet",
        )

        # Evaluate on the held-out split.
        metrics = evaluate_model(
            pipeline, schema, fitted, splits, staging / "evaluation"
        )

        # Export: SavedModel, .keras and metadata, not yet visible.
        model_dir = layout.model_dir(version)
        staged_model = export_model(pipeline, schema, fitted, metrics, model_dir)

        # Gate: challenger and champion on the same held-out rows.
        judge_model(pipeline, staged_model, version, splits, layout)

        # Register the immutable version, then keep the run record.
        register_model(pipeline, staged_model, model_dir)
        publish_dir(staging, run_dir)
    finally:
        # A failed run leaves nothing behind, not even the folders it made.
        discard_dir(staging, prune_up_to=layout.root)
        if staged_model is not None:
            discard_dir(staged_model, prune_up_to=layout.root)

    # Promote if the gate said so; the event triggers batch scoring.
    promoted = promote_model(pipeline, spec, layout, version)

    return TrainingResult(
        pipeline=pipeline.name,
        version=version,
        model_dir=model_dir,
        run_dir=run_dir,
        metrics=read_json(run_dir / "evaluation" / "metrics.json"),
        promoted=promoted,
    )
