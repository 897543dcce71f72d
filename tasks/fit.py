"""Fit step: train the compiled model, log each epoch, keep the history."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle import artifacts
from lifecycle.features import encode_target, to_model_inputs
from lifecycle.layout import write_parquet
from lifecycle.schema import DataSchema
from lifecycle.spec import PipelineSpec
from tasks.define import seed_everything

logger = logging.getLogger(__name__)


def _epoch_logger(
    log: logging.Logger | logging.LoggerAdapter,
    epochs: int,
    on_epoch: Callable[[int], None] | None,
) -> Any:
    """Returns a Keras callback that logs every epoch's figures and keeps them."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        """Sends each epoch's metrics to a logger and records them as rows."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict[str, float]] = []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            figures = {name: float(value) for name, value in (logs or {}).items()}
            self.rows.append({"epoch": epoch + 1, **figures})
            shown = " ".join(f"{name}={value:.4f}" for name, value in figures.items())
            log.info("Epoch %d/%d: %s", epoch + 1, epochs, shown)
            if on_epoch is not None:
                on_epoch(epoch + 1)

    return EpochLogger()


def fit_keras_model(
    model: Any,
    spec: PipelineSpec,
    schema: DataSchema,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    log: logging.Logger | logging.LoggerAdapter = logger,
    on_epoch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Fits a compiled model in place, as the spec's fit section says.

    Args:
        model: A compiled model.
        spec: The pipeline spec.
        schema: The training schema.
        train: The training split.
        validation: The validation split (may be empty).
        log: Where each epoch's figures go. Defaults to this module's logger.
        on_epoch: Called with the number of epochs done. Defaults to None.

    Returns:
        The history, one row per epoch.
    """
    import keras

    seed_everything(spec.seed)
    fit = spec.fit
    loss = spec.compile.loss
    callbacks = [_epoch_logger(log, fit.epochs, on_epoch)]
    validation_data = None
    if len(validation):
        validation_data = (
            to_model_inputs(validation, schema),
            encode_target(validation[schema.target], schema, loss),
        )
    if fit.early_stopping is not None:
        stopping = fit.early_stopping
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor,
                patience=stopping.patience,
                min_delta=stopping.min_delta,
                mode=stopping.mode,
                restore_best_weights=stopping.restore_best_weights,
            )
        )
    model.fit(
        to_model_inputs(train, schema),
        encode_target(train[schema.target], schema, loss),
        validation_data=validation_data,
        epochs=fit.epochs,
        batch_size=fit.batch_size,
        shuffle=fit.shuffle,
        verbose=fit.verbose,
        callbacks=callbacks,
    )
    history = pd.DataFrame(callbacks[0].rows)
    final = history.iloc[-1].to_dict() if len(history) else {}
    if any(isinstance(v, float) and not math.isfinite(v) for v in final.values()):
        log.warning("Training ended with non-finite figures: %s", final)
    return history


@task(name="fit", task_run_name="fit-{spec.name}", cache_policy=NO_CACHE)
def fit_model(
    spec: PipelineSpec,
    schema_path: Path,
    model_path: Path,
    splits: dict[str, Path],
    out_path: Path,
    history_path: Path,
) -> Path:
    """Trains the compiled model; saves it and its per-epoch history.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        model_path: The compiled model's ``.keras`` file.
        splits: Split name to Parquet path.
        out_path: Where the trained ``.keras`` file goes.
        history_path: Where the history Parquet goes.

    Returns:
        ``out_path``.
    """
    from prefect.logging import get_run_logger

    from lifecycle.keras_objects import load_keras_file

    log = get_run_logger()
    schema = DataSchema.load(schema_path)
    model = load_keras_file(model_path)
    progress = artifacts.start_progress(spec.name, spec.fit.epochs)
    history = fit_keras_model(
        model,
        spec,
        schema,
        pd.read_parquet(splits["train"]),
        pd.read_parquet(splits["validation"]),
        log=log,
        on_epoch=lambda done: artifacts.update_progress(
            progress, 100.0 * done / spec.fit.epochs
        ),
    )
    # Early stopping ends short of the planned epochs: the run is still complete.
    artifacts.update_progress(progress, 100.0)
    artifacts.training_curves(spec.name, history)
    write_parquet(history_path, history)
    model.save(out_path)
    last = history.iloc[-1]
    log.info(
        "Trained %d epochs: loss %.4f%s",
        len(history),
        last["loss"],
        f", val_loss {last['val_loss']:.4f}" if "val_loss" in last else "",
    )
    return out_path
