"""A user's own model builder, as a spec's ``model.builder`` names it."""

from __future__ import annotations

from typing import Any

import keras


def two_layers(features: Any, columns: dict[str, Any], units: int = 8) -> Any:
    """Two Dense layers over the preprocessed features."""
    hidden = keras.layers.Dense(units, activation="relu", name="user_hidden")(features)
    return keras.layers.Dense(units, activation="relu")(hidden)
