"""Turning table rows into the raw named inputs the model and SavedModel take."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lifecycle.schema import DataSchema
from lifecycle.spec import ONE_HOT_LOSSES


def to_model_inputs(frame: pd.DataFrame, schema: DataSchema) -> dict[str, Any]:
    """Returns one ``(rows, 1)`` tensor per feature column, keyed by column name.

    Numbers become float32 (missing ones NaN, filled inside the model); everything
    categorical becomes a string tensor (missing values the empty string, which the
    model's lookup maps to its out-of-vocabulary slot). Keras refuses NumPy string
    arrays, hence TensorFlow string tensors.
    """
    import tensorflow as tf

    inputs: dict[str, Any] = {}
    for profile in schema.features:
        column = frame[profile.name]
        if profile.kind == "numeric":
            values = pd.to_numeric(column, errors="coerce").to_numpy(
                dtype="float32", na_value=np.nan
            )
            inputs[profile.name] = values.reshape(-1, 1)
        else:
            text = column.astype("str").where(column.notna(), "")
            # An object array of str becomes UTF-8 bytes; NumPy's bytes cast is ASCII.
            inputs[profile.name] = tf.constant(
                text.to_numpy(dtype=object).reshape(-1, 1)
            )
    return inputs


def encode_target(series: pd.Series, schema: DataSchema, loss: str) -> np.ndarray:
    """Encodes the target as the loss expects: indices, one-hot, 0/1 or values.

    Raises:
        ValueError: A label is not in the schema's vocabulary.
    """
    if schema.task == "regression":
        return series.to_numpy(dtype="float32").reshape(-1, 1)
    assert schema.labels is not None
    lookup = {label: index for index, label in enumerate(schema.labels)}
    unknown = series[~series.isin(list(lookup))].unique()
    if len(unknown):
        raise ValueError(
            f"target {schema.target!r} has labels {list(unknown[:5])} not in the "
            f"model's vocabulary {schema.labels}"
        )
    indices = series.map(lookup).to_numpy(dtype="int32")
    if schema.task == "binary":
        return indices.astype("float32").reshape(-1, 1)
    if loss in ONE_HOT_LOSSES:
        return np.eye(len(schema.labels), dtype="float32")[indices]
    return indices


def class_probabilities(outputs: np.ndarray, schema: DataSchema) -> np.ndarray:
    """Returns a ``(rows, classes)`` probability matrix from the model's output."""
    outputs = np.asarray(outputs)
    if schema.task == "binary":
        positive = outputs.reshape(-1)
        return np.stack([1.0 - positive, positive], axis=1)
    return outputs
