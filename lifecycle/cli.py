"""The ``lifecycle`` command line: train, score, run the main job, check specs.

Heavy packages (TensorFlow, Prefect, Great Expectations) are imported inside the
commands that need them, so ``lifecycle --help`` answers at once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="lifecycle",
    no_args_is_help=True,
    add_completion=False,
)

SpecArg = Annotated[
    str, typer.Argument(help="A spec YAML file, or a shipped spec's name (see specs).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Output root. Defaults to $LIFECYCLE_DATA_DIR or ./data."
    ),
]


@app.callback()
def _setup() -> None:
    """A tf.keras model's life cycle as Prefect flows: train, evaluate, score."""
    # TensorFlow's C++ start-up chatter hides the pipeline's own log lines, and
    # Prefect's telemetry would try to reach the internet from a local run.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class _NoTracebackForExpectedErrors(logging.Filter):
    """Drops the traceback Prefect logs with a failed run when the error is ours.

    A LifecycleError is a message for the user (a bad spec, bad data), printed
    once at the end; its stack is noise. Other errors keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from lifecycle.errors import LifecycleError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, LifecycleError):
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_expected_errors() -> None:
    # Prefect's run loggers are these two; the filter must sit on each.
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logging.getLogger(name).addFilter(_NoTracebackForExpectedErrors())


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def _preflight(spec: str) -> None:
    """Rejects a bad spec before a flow run starts, so the error stands alone."""
    from lifecycle.errors import SpecError
    from lifecycle.spec import load_spec, resolve_spec_path
    from tasks.check import check_spec_names

    parsed = load_spec(spec)
    try:
        check_spec_names(parsed)
    except SpecError as exc:
        raise SpecError(f"spec {resolve_spec_path(spec)}: {exc}") from None


def _print_training(result: object) -> None:
    from flows.training import TrainingResult

    assert isinstance(result, TrainingResult)
    typer.echo(f"pipeline      {result.pipeline}")
    typer.echo(f"model version {result.version}")
    for name, value in result.metrics.items():
        shown = f"{value:.0f}" if name == "rows" else f"{value:.4f}"
        typer.echo(f"test {name:<18} {shown}")
    typer.echo(f"promoted      {'yes' if result.promoted else 'no'}")
    typer.echo(f"SavedModel    {result.model_dir / 'saved_model'}")
    typer.echo(f"run record    {result.run_dir}")


@app.command()
def train(
    spec: SpecArg,
    source: Annotated[
        str | None, typer.Option(help="Training table instead of the spec's.")
    ] = None,
    test_source: Annotated[
        str | None, typer.Option(help="Held-out table instead of the spec's.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Train, evaluate and export a new model version of a pipeline."""
    from flows.training import training_flow
    from lifecycle.errors import LifecycleError

    _quiet_expected_errors()

    try:
        _preflight(spec)
        result = training_flow(
            spec=spec,
            source=source,
            test_source=test_source,
            data_dir=str(data_dir) if data_dir else None,
        )
    except LifecycleError as exc:
        raise _fail(exc) from None
    _print_training(result)


@app.command()
def score(
    spec: SpecArg,
    input: Annotated[str, typer.Option("--input", help="Rows to score.")],
    output: Annotated[
        str, typer.Option("--output", help="Predictions Parquet file to write.")
    ],
    model_version: Annotated[
        str | None, typer.Option(help="Model version. Defaults to the champion.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Score rows with a published model; write predictions as Parquet."""
    from flows.scoring import scoring_flow
    from lifecycle.errors import LifecycleError

    _quiet_expected_errors()

    try:
        path = scoring_flow(
            spec=spec,
            input=input,
            output=output,
            model_version=model_version,
            data_dir=str(data_dir) if data_dir else None,
        )
    except LifecycleError as exc:
        raise _fail(exc) from None
    typer.echo(f"predictions   {path}")


@app.command()
def run(
    spec: Annotated[
        str, typer.Argument(help="Spec to run. Defaults to the bundled wine spec.")
    ] = "wine",
    data_dir: DataDirOpt = None,
) -> None:
    """The main job: train a spec, then score its held-out rows with the SavedModel."""
    from flows.scoring import scoring_flow
    from flows.training import training_flow
    from lifecycle.errors import LifecycleError

    _quiet_expected_errors()

    root = str(data_dir) if data_dir else None
    try:
        _preflight(spec)
        result = training_flow(spec=spec, data_dir=root)
        predictions = scoring_flow(
            spec=spec,
            input=str(result.test_split),
            model_version=result.version,
            data_dir=root,
        )
    except LifecycleError as exc:
        raise _fail(exc) from None
    _print_training(result)
    typer.echo(f"predictions   {predictions}")


@app.command()
def specs() -> None:
    """List the specs that ship with the package."""
    from lifecycle.spec import shipped_specs

    for name, path in sorted(shipped_specs().items()):
        typer.echo(f"{name:<16} {path}")


@app.command()
def check(spec: SpecArg) -> None:
    """Parse a spec and check its Keras names, without reading data."""
    from lifecycle.errors import LifecycleError
    from lifecycle.spec import load_spec

    _quiet_expected_errors()

    try:
        _preflight(spec)
    except LifecycleError as exc:
        raise _fail(exc) from None
    parsed = load_spec(spec)
    typer.echo(f"spec {parsed.name!r} is valid ({parsed.compile.task})")


@app.command()
def deploy(
    config: Annotated[
        Path | None,
        typer.Option(
            help="Deployments file. Defaults to deployments/deployments.yaml."
        ),
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Apply the nightly-retraining and batch-scoring deployments to the server.

    The server is the one PREFECT_API_URL names (see the README).
    """
    from deployments.apply import DEFAULT_CONFIG, apply, load_config
    from lifecycle.errors import LifecycleError

    try:
        loaded = load_config(
            config or DEFAULT_CONFIG, data_dir=str(data_dir) if data_dir else None
        )
        applied = apply(loaded)
    except LifecycleError as exc:
        raise _fail(exc) from None
    for name, deployment_id in applied.items():
        typer.echo(f"{name:<36} {deployment_id}")
    typer.echo(f"work pool: {loaded.work_pool} (start a worker for it)")


models_app = typer.Typer(
    help="The model registry: versions, decisions, the champion.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


def _registry(spec: str, data_dir: Path | None) -> Any:
    from lifecycle.layout import PipelineLayout
    from lifecycle.registry import ModelRegistry
    from lifecycle.settings import resolve_data_dir
    from lifecycle.spec import load_spec

    pipeline = load_spec(spec)
    return ModelRegistry(PipelineLayout.of(resolve_data_dir(data_dir), pipeline.name))


@models_app.command("list")
def models_list(spec: SpecArg, data_dir: DataDirOpt = None) -> None:
    """List a pipeline's versions, their key figure and the gate's verdict."""
    from lifecycle.errors import LifecycleError

    try:
        registry = _registry(spec, data_dir)
    except LifecycleError as exc:
        raise _fail(exc) from None
    champion = registry.champion()
    versions = registry.versions()
    if not versions:
        typer.echo(f"no versions under {registry.layout.models}")
        return
    typer.echo(f"{'':2}{'version':<32} {'metric':<10} {'value':>8}  gate")
    for version in versions:
        decision = registry.decision(version) or {}
        mark = "* " if version == champion else "  "
        value = decision.get("challenger")
        shown = f"{value:>8.4f}" if isinstance(value, float) else f"{'-':>8}"
        verdict = {True: "promoted", False: "rejected"}.get(
            decision.get("promote"), "-"
        )
        typer.echo(
            f"{mark}{version:<32} {decision.get('metric', '-'):<10} {shown}  {verdict}"
        )
    typer.echo("* champion")


@models_app.command("show")
def models_show(spec: SpecArg, version: str, data_dir: DataDirOpt = None) -> None:
    """Show one version: metadata, test figures, the gate's checks, alias moves."""
    import json

    from lifecycle.errors import LifecycleError
    from lifecycle.layout import read_json

    try:
        registry = _registry(spec, data_dir)
        folder = registry.layout.published_model_dir(version)
    except LifecycleError as exc:
        raise _fail(exc) from None
    metadata = read_json(folder / "metadata.json")
    summary = {
        "version": version,
        "champion": registry.champion() == version,
        "folder": str(folder),
        "created_at": metadata["created_at"],
        "task": metadata["task"],
        "target": metadata["target"],
        "data_fingerprint": metadata["data_fingerprint"],
        "metrics": metadata["metrics"],
        "decision": registry.decision(version),
        "alias_moves": [
            move.__dict__ for move in registry.history() if move.version == version
        ],
    }
    typer.echo(json.dumps(summary, indent=2))


@models_app.command("promote")
def models_promote(
    spec: SpecArg,
    version: str,
    reason: Annotated[
        str, typer.Option(help="Why, recorded with the move.")
    ] = "manual promotion",
    data_dir: DataDirOpt = None,
) -> None:
    """Make a version the champion by hand (a promotion or a rollback)."""
    from lifecycle.errors import LifecycleError
    from lifecycle.locks import promotion_lock

    try:
        registry = _registry(spec, data_dir)
        with promotion_lock(registry.layout.root.name):
            move = registry.promote(version, by="manual", reason=reason)
    except LifecycleError as exc:
        raise _fail(exc) from None
    typer.echo(f"champion {move.previous or '(none)'} -> {move.version} (manual)")


if __name__ == "__main__":
    app()
