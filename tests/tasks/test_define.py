"""Define and compile: Keras names from the spec, preprocessing inside the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifecycle.errors import SpecError
from lifecycle.features import to_model_inputs
from lifecycle.schema import derive_schema
from lifecycle.spec import parse_spec
from tasks.check import check_spec_names
from tasks.compile import compile_keras_model
from tasks.define import build_model
from tests.helpers import tiny_spec

TRAIN = pd.DataFrame(
    {
        "size": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        "colour": ["red", "blå", "red", None, "blue", "red"],
        "label": [3, 5, 3, 5, 3, 5],
    }
)


def _built(**changes: object):
    spec = parse_spec(tiny_spec("x", **changes))
    schema = derive_schema(TRAIN, spec.data, spec.compile.task)
    return spec, schema, build_model(spec, schema, TRAIN)


class TestNames:
    def test_unknown_layer_class(self) -> None:
        spec = parse_spec(
            tiny_spec("x", **{"model.layers": [{"class_name": "Dense2", "config": {}}]})
        )
        with pytest.raises(
            SpecError,
            match=r"model\.layers\[0\]\.class_name: unknown Keras layer 'Dense2' "
            r"\(did you mean 'Dense'\?\)",
        ):
            check_spec_names(spec)

    def test_unknown_optimizer(self) -> None:
        spec = parse_spec(tiny_spec("x", **{"compile.optimizer": "adamm"}))
        with pytest.raises(
            SpecError, match=r"unknown optimizer 'adamm' \(did you mean 'adam'\?\)"
        ):
            check_spec_names(spec)

    def test_regression_metric_on_a_classifier(self) -> None:
        spec = parse_spec(tiny_spec("x", **{"compile.metrics": ["mae"]}))
        with pytest.raises(SpecError, match=r"'mae' is not a multiclass metric"):
            check_spec_names(spec)

    def test_bad_layer_arguments(self) -> None:
        layers = [{"class_name": "Dense", "config": {"unit": 3}}]
        with pytest.raises(
            SpecError, match=r"model\.layers\[0\]\.config: Dense refused"
        ):
            _built(**{"model.layers": layers})


class TestBuildModel:
    def test_takes_raw_columns_with_missing_values(self) -> None:
        spec, schema, model = _built(**{"compile.metrics": ["accuracy", "f1", "auc"]})
        compile_keras_model(model, spec, schema)
        outputs = model.predict(to_model_inputs(TRAIN, schema), verbose=0)
        assert outputs.shape == (6, 2)
        assert np.isfinite(outputs).all()
        # Labels 3 and 5 become classes 0 and 1.
        assert schema.labels == [3, 5]

    def test_functional_groups_must_cover_features(self) -> None:
        model = {
            "kind": "functional",
            "inputs": {"numbers": {"columns": ["size"]}},
            "layers": [
                {
                    "name": "h",
                    "class_name": "Dense",
                    "config": {"units": 2},
                    "inputs": ["numbers"],
                }
            ],
            "output": "h",
        }
        with pytest.raises(
            SpecError, match=r"features \['colour'\] are in no model input group"
        ):
            _built(model=model)

    def test_user_builder(self) -> None:
        model = {
            "kind": "builder",
            "builder": "tests.builders:two_layers",
            "options": {"units": 5},
        }
        _, _, built = _built(model=model)
        assert built.get_layer("user_hidden").units == 5

    def test_builder_that_does_not_exist(self) -> None:
        model = {"kind": "builder", "builder": "tests.builders:nothing_here"}
        with pytest.raises(SpecError, match=r"has no function 'nothing_here'"):
            check_spec_names(parse_spec(tiny_spec("x", model=model)))
