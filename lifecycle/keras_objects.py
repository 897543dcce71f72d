"""Keras layers and metrics of this project, registered so safe-mode loading finds them.

Import this module before loading a ``.keras`` file written by the pipeline.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
from keras import ops

PACKAGE = "lifecycle"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FillMissing(keras.layers.Layer):
    """Replaces NaN with a constant (the training mean), inside the model."""

    def __init__(self, value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, inputs: Any) -> Any:
        return ops.where(ops.isnan(inputs), ops.cast(self.value, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "value": self.value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MacroScore(keras.metrics.Metric):
    """Macro-averaged precision, recall or F1 over classes, from integer labels.

    Keras' own Precision and Recall are binary, and its F1Score wants one-hot
    labels; this one takes what sparse_categorical_crossentropy takes.

    Args:
        num_classes: Number of classes.
        score: "precision", "recall" or "f1". Defaults to "f1".
        one_hot: Labels arrive one-hot encoded. Defaults to False.
        name: Metric name. Defaults to ``score``.
    """

    def __init__(
        self,
        num_classes: int,
        score: str = "f1",
        one_hot: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name or score, dtype=dtype)
        if score not in ("precision", "recall", "f1"):
            raise ValueError(
                f"score must be precision, recall or f1. Received: score={score}"
            )
        self.num_classes = int(num_classes)
        self.score = score
        self.one_hot = bool(one_hot)
        shape = (self.num_classes,)
        self.true_positives = self.add_variable(shape, "zeros", name="tp")
        self.false_positives = self.add_variable(shape, "zeros", name="fp")
        self.false_negatives = self.add_variable(shape, "zeros", name="fn")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self.one_hot:
            y_true = ops.argmax(y_true, axis=-1)
        truth = ops.one_hot(
            ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.num_classes
        )
        guess = ops.one_hot(ops.argmax(y_pred, axis=-1), self.num_classes)
        truth = ops.cast(truth, self.dtype)
        guess = ops.cast(guess, self.dtype)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1, 1))
            truth, guess = truth * weight, guess * weight
        self.true_positives.assign_add(ops.sum(truth * guess, axis=0))
        self.false_positives.assign_add(
            ops.sum(guess, axis=0) - ops.sum(truth * guess, axis=0)
        )
        self.false_negatives.assign_add(
            ops.sum(truth, axis=0) - ops.sum(truth * guess, axis=0)
        )

    def result(self) -> Any:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = ops.divide_no_nan(tp, tp + fp)
        recall = ops.divide_no_nan(tp, tp + fn)
        if self.score == "precision":
            per_class = precision
        elif self.score == "recall":
            per_class = recall
        else:
            per_class = ops.divide_no_nan(2 * precision * recall, precision + recall)
        return ops.mean(per_class)

    def reset_state(self) -> None:
        for variable in self.variables:
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "score": self.score,
            "one_hot": self.one_hot,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MacroAUC(keras.metrics.AUC):
    """One-vs-rest ROC AUC averaged over classes, from integer labels."""

    def __init__(
        self, num_classes: int, one_hot: bool = False, name: str = "auc", **kwargs: Any
    ) -> None:
        kwargs.pop("multi_label", None)
        kwargs.pop("num_labels", None)
        super().__init__(name=name, multi_label=True, num_labels=num_classes, **kwargs)
        self.num_classes = int(num_classes)
        self.one_hot = bool(one_hot)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if not self.one_hot:
            y_true = ops.one_hot(
                ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.num_classes
            )
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("multi_label", None)
        config.pop("num_labels", None)
        return {**config, "num_classes": self.num_classes, "one_hot": self.one_hot}


def load_keras_file(path: Path, compile: bool = True) -> Any:
    """Loads a ``.keras`` file written by the pipeline, with safe mode on.

    Args:
        path: The file.
        compile: Restore the compile settings too. Defaults to True.
    """
    with warnings.catch_warnings():
        # A model saved after compile but before fit has an optimizer that was
        # never built, hence no slot variables to restore; Keras warns, needlessly.
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer"
        )
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
