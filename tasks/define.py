"""Define step: build the Keras model, with its preprocessing inside, from the spec."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lifecycle.errors import SpecError
from lifecycle.schema import ColumnProfile, DataSchema
from lifecycle.spec import (
    BuilderModelSpec,
    FunctionalModelSpec,
    LayerSpec,
    PipelineSpec,
    SequentialModelSpec,
    did_you_mean,
    safe_name,
)

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow, and makes TensorFlow ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def layer_class(class_name: str, key: str) -> type:
    """Returns the ``keras.layers`` class of that name.

    Raises:
        SpecError: No such layer class; names the spec key and the closest name.
    """
    import keras

    candidate = getattr(keras.layers, class_name, None)
    if isinstance(candidate, type) and issubclass(candidate, keras.layers.Layer):
        return candidate
    known = [
        name
        for name in dir(keras.layers)
        if isinstance(getattr(keras.layers, name), type)
        and issubclass(getattr(keras.layers, name), keras.layers.Layer)
    ]
    raise SpecError(
        f"{key}: unknown Keras layer {class_name!r}"
        f"{did_you_mean(class_name, known)}; use a class name of keras.layers "
        "such as Dense, Dropout or BatchNormalization"
    )


def _make_layer(layer: LayerSpec, key: str, name: str | None = None) -> Any:
    cls = layer_class(layer.class_name, f"{key}.class_name")
    config = dict(layer.config)
    if name is not None:
        config.setdefault("name", name)
    try:
        return cls(**config)
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"{key}.config: {layer.class_name} refused {config}: {exc}"
        ) from None


def _layer_keys(spec: PipelineSpec) -> list[tuple[str, LayerSpec]]:
    model = spec.model
    if isinstance(model, SequentialModelSpec | FunctionalModelSpec):
        return [(f"model.layers[{i}]", layer) for i, layer in enumerate(model.layers)]
    return []


def check_model_spec(spec: PipelineSpec) -> None:
    """Checks every layer class name and the builder's import path, without data.

    Raises:
        SpecError: A layer class or the builder does not exist.
    """
    for key, layer in _layer_keys(spec):
        layer_class(layer.class_name, f"{key}.class_name")
    if isinstance(spec.model, BuilderModelSpec):
        _builder(spec.model.builder)


def _builder(path: str) -> Any:
    module_name, _, function_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(
            f"model.builder: cannot import module {module_name!r}: {exc}; check "
            "the name and that its folder is on PYTHONPATH"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SpecError(
            f"model.builder: module {module_name!r} has no function {function_name!r}"
        )
    return function


def _preprocess(profile: ColumnProfile, raw: Any, train: pd.Series) -> Any:
    """Returns the encoded tensor of one raw column: normalised or looked up."""
    import keras
    import numpy as np

    name = safe_name(profile.name)
    if profile.kind == "numeric":
        values = pd.to_numeric(train, errors="coerce").astype("float64")
        tensor = raw
        if profile.nullable:
            fill = float(values.mean()) if values.notna().any() else 0.0
            tensor = _fill_missing(fill, name)(tensor)
            values = values.fillna(fill)
        normalizer = keras.layers.Normalization(name=f"normalize_{name}")
        normalizer.adapt(values.to_numpy(dtype="float32").reshape(-1, 1))
        return normalizer(tensor)
    vocabulary = sorted(
        value for value in train.dropna().astype("str").unique() if value != ""
    )
    lookup = keras.layers.StringLookup(
        vocabulary=np.array(vocabulary, dtype=object) if vocabulary else None,
        num_oov_indices=1,
        output_mode="one_hot",
        name=f"lookup_{name}",
    )
    return lookup(raw)


def _fill_missing(value: float, name: str) -> Any:
    from lifecycle.keras_objects import FillMissing

    return FillMissing(value=value, name=f"fill_{name}")


def _head(spec: PipelineSpec, schema: DataSchema) -> Any:
    """Returns the output layer the task needs, named after the target."""
    import keras

    name = f"{safe_name(schema.target)}_output"
    if schema.task == "regression":
        return keras.layers.Dense(1, name=name)
    if schema.task == "binary":
        return keras.layers.Dense(1, activation="sigmoid", name=name)
    assert schema.labels is not None
    return keras.layers.Dense(len(schema.labels), activation="softmax", name=name)


def _concat(tensors: list[Any], name: str) -> Any:
    import keras

    if len(tensors) == 1:
        return tensors[0]
    return keras.layers.Concatenate(name=name)(tensors)


def _functional_body(
    model: FunctionalModelSpec, encoded: dict[str, Any], schema: DataSchema
) -> Any:
    features = set(schema.feature_names)
    problems = []
    grouped: set[str] = set()
    for group, spec in model.inputs.items():
        for column in spec.columns:
            if column not in features:
                problems.append(
                    f"model.inputs.{group} takes column {column!r}, which is not a "
                    f"feature{did_you_mean(column, features)}"
                )
            grouped.add(column)
    left_out = [name for name in schema.feature_names if name not in grouped]
    if left_out:
        problems.append(
            f"features {left_out} are in no model input group; add them to a group "
            "or to data.features.exclude"
        )
    if problems:
        raise SpecError("; ".join(problems))

    tensors = {
        group: _concat([encoded[c] for c in spec.columns], f"{group}_columns")
        for group, spec in model.inputs.items()
    }
    for index, node in enumerate(model.layers):
        layer = _make_layer(node, f"model.layers[{index}]", name=node.name)
        inbound = [tensors[ref] for ref in node.inputs]
        tensors[node.name] = layer(inbound[0] if len(inbound) == 1 else inbound)
    return tensors[model.output]


def build_model(spec: PipelineSpec, schema: DataSchema, train: pd.DataFrame) -> Any:
    """Builds the model: raw named inputs, preprocessing, the body, the head.

    Numeric columns are normalised with statistics of the training split (missing
    values filled with its mean); categorical ones are one-hot looked up in the
    training split's vocabulary. So the model takes raw columns.

    Args:
        spec: The pipeline spec.
        schema: The training schema.
        train: The training split.

    Returns:
        An uncompiled ``keras.Model`` with one input per feature column.

    Raises:
        SpecError: A layer, graph or builder in the spec cannot be built.
    """
    import keras

    seed_everything(spec.seed)
    inputs = {
        profile.name: keras.Input(
            shape=(1,),
            name=profile.name,
            dtype="float32" if profile.kind == "numeric" else "string",
        )
        for profile in schema.features
    }
    encoded = {
        profile.name: _preprocess(profile, inputs[profile.name], train[profile.name])
        for profile in schema.features
    }
    features = _concat(list(encoded.values()), "features")

    body_spec = spec.model
    if isinstance(body_spec, SequentialModelSpec):
        body = keras.Sequential(
            [
                _make_layer(layer, f"model.layers[{index}]")
                for index, layer in enumerate(body_spec.layers)
            ],
            name="body",
        )
        hidden = body(features)
    elif isinstance(body_spec, FunctionalModelSpec):
        hidden = _functional_body(body_spec, encoded, schema)
    else:
        function = _builder(body_spec.builder)
        hidden = function(features, encoded, **body_spec.options)
        if not keras.backend.is_keras_tensor(hidden):
            raise SpecError(
                f"model.builder {body_spec.builder!r} returned "
                f"{type(hidden).__name__}; expected the Keras tensor the output "
                "head goes on"
            )
    outputs = _head(spec, schema)(hidden)
    return keras.Model(inputs=inputs, outputs=outputs, name=safe_name(spec.name))


@task(name="define", task_run_name="define-{spec.name}", cache_policy=NO_CACHE)
def define_model(
    spec: PipelineSpec, schema_path: Path, train_path: Path, out_path: Path
) -> Path:
    """Builds the model and saves it, uncompiled, as a ``.keras`` file.

    Args:
        spec: The pipeline spec.
        schema_path: The run's ``schema.json``.
        train_path: The training split.
        out_path: Where the ``.keras`` file goes.

    Returns:
        ``out_path``.
    """
    from prefect.logging import get_run_logger

    schema = DataSchema.load(schema_path)
    model = build_model(spec, schema, pd.read_parquet(train_path))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(out_path)
    get_run_logger().info(
        "Defined %s model %r: %d inputs, %d parameters",
        spec.model.kind,
        model.name,
        len(model.inputs),
        model.count_params(),
    )
    return out_path
