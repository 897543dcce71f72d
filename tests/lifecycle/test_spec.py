"""The spec parser: typed models; errors name the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.errors import SpecError
from lifecycle.spec import load_spec, parse_spec, shipped_specs
from tests.helpers import tiny_spec, write_spec


class TestShippedSpecs:
    def test_every_shipped_spec_parses(self) -> None:
        names = set(shipped_specs())
        assert {
            "wine",
            "breast_cancer",
            "diabetes",
            "music_genre",
            "census_income",
        } <= names
        for name in names:
            assert load_spec(name).name == name

    def test_wine_uses_sgd_with_momentum(self) -> None:
        spec = load_spec("wine")
        assert spec.compile.optimizer.name == "sgd"
        assert spec.compile.optimizer.config == {"learning_rate": 0.01, "momentum": 0.9}
        assert spec.compile.loss == "sparse_categorical_crossentropy"
        assert spec.compile.task == "multiclass"


class TestSpecErrors:
    def test_unknown_key_is_named_with_a_suggestion(self, tmp_path: Path) -> None:
        raw = tiny_spec("x.csv")
        raw["fit"]["epoch"] = 3
        with pytest.raises(
            SpecError, match=r"unknown key 'fit\.epoch' \(did you mean 'epochs'\?\)"
        ):
            load_spec(write_spec(tmp_path, raw))

    def test_epochs_below_one(self) -> None:
        with pytest.raises(
            SpecError,
            match=r"fit\.epochs: Input should be greater than or equal to 1; got 0",
        ):
            parse_spec(tiny_spec("x.csv", **{"fit.epochs": 0}))

    def test_unknown_loss_lists_allowed(self) -> None:
        with pytest.raises(
            SpecError, match=r"unknown loss 'mse2' \(did you mean 'mse'\?\)"
        ):
            parse_spec(tiny_spec("x.csv", **{"compile.loss": "mse2"}))

    def test_split_fractions_must_sum_to_one(self) -> None:
        with pytest.raises(SpecError, match=r"must be 1; got 0\.6 \+ 0\.2 \+ 0\.5"):
            parse_spec(tiny_spec("x.csv", **{"data.split.test": 0.5}))

    def test_every_problem_is_reported_at_once(self) -> None:
        raw = tiny_spec("x.csv", **{"fit.epochs": 0, "fit.verbose": 5})
        with pytest.raises(
            SpecError, match=r"2 problems:\n  - fit\.epochs.*\n  - fit\.verbose"
        ):
            parse_spec(raw)

    def test_functional_graph_refers_to_known_nodes(self) -> None:
        raw = tiny_spec("x.csv")
        raw["model"] = {
            "kind": "functional",
            "inputs": {"all": {"columns": ["a"]}},
            "layers": [{"name": "h", "class_name": "Dense", "inputs": ["nowhere"]}],
            "output": "h",
        }
        with pytest.raises(SpecError, match=r"node 'h' takes 'nowhere'"):
            parse_spec(raw)

    def test_missing_spec_file(self) -> None:
        with pytest.raises(
            SpecError,
            match=r"neither a file nor a shipped spec \(did you mean 'wine'\?\)",
        ):
            load_spec("wines")
