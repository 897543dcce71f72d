"""Every shipped spec, trained through the training flow: quality and parity.

Quality bars are on held-out rows; parity compares the SavedModel and the ``.keras``
file (reloaded in a fresh process) with the in-memory model on raw rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lifecycle.schema import DataSchema
from tasks.predict import ExportedModel

PARITY_TOLERANCE = 1e-5


def _sources(spec: str, shared: Path | None) -> dict[str, str]:
    if spec == "music_genre":
        return {"source": str(shared / "spotify_songs" / "spotify_songs.csv")}
    if spec == "census_income":
        return {
            "source": str(shared / "adult" / "adult_train.csv"),
            "test_source": str(shared / "adult" / "adult_test.csv"),
        }
    return {}


SPECS = ["wine", "breast_cancer", "diabetes", "music_genre", "census_income"]


def _trained(request: pytest.FixtureRequest, spec: str) -> Any:
    """Trains a shipped spec once per session, on ../shared data where it needs it."""
    needs_shared = spec in ("music_genre", "census_income")
    shared = request.getfixturevalue("shared_data") if needs_shared else None
    return request.getfixturevalue("train_pipeline")(spec, **_sources(spec, shared))


@pytest.fixture(params=SPECS)
def trained(request: pytest.FixtureRequest) -> Any:
    return _trained(request, request.param)


class TestQuality:
    @pytest.mark.parametrize(
        "spec, metric, floor",
        [
            ("wine", "accuracy", 0.9),
            ("breast_cancer", "auc", 0.97),
            ("music_genre", "accuracy", 0.50),
            ("census_income", "accuracy", 0.84),
        ],
    )
    def test_classifiers_clear_their_bar(
        self, spec: str, metric: str, floor: float, request: pytest.FixtureRequest
    ) -> None:
        metrics = _trained(request, spec).metrics
        assert metrics[metric] >= floor
        assert metrics["accuracy"] > metrics["baseline_accuracy"]

    def test_diabetes_beats_the_mean_predictor(
        self, request: pytest.FixtureRequest
    ) -> None:
        metrics = _trained(request, "diabetes").metrics
        assert metrics["mae"] < metrics["baseline_mae"]

    def test_census_is_scored_on_the_shipped_test_file(
        self, request: pytest.FixtureRequest
    ) -> None:
        assert _trained(request, "census_income").metrics["rows"] == 16_281


_KERAS_IN_FRESH_PROCESS = """
import json, sys
import numpy as np, pandas as pd, keras
import lifecycle.keras_objects
from lifecycle.features import to_model_inputs
from lifecycle.schema import DataSchema
model_dir, rows, out = sys.argv[1:]
schema = DataSchema.load(f"{model_dir}/schema.json")
model = keras.saving.load_model(f"{model_dir}/model.keras", safe_mode=True)
np.save(out, model.predict(to_model_inputs(pd.read_parquet(rows), schema), verbose=0))
"""


class TestParity:
    def test_savedmodel_and_keras_file_match_the_in_memory_model(
        self, trained: Any, tmp_path: Path
    ) -> None:
        import keras

        import lifecycle.keras_objects  # noqa: F401
        from lifecycle.features import to_model_inputs

        rows = trained.test_split
        frame = pd.read_parquet(rows).head(2000)
        frame.to_parquet(tmp_path / "rows.parquet")
        schema = DataSchema.load(trained.model_dir / "schema.json")
        in_memory = keras.saving.load_model(
            trained.run_dir / "model" / "fitted.keras", safe_mode=True
        )
        expected = in_memory.predict(to_model_inputs(frame, schema), verbose=0)

        served = ExportedModel.load(trained.model_dir).outputs(frame)
        np.testing.assert_allclose(served, expected, atol=PARITY_TOLERANCE, rtol=0)

        out = tmp_path / "keras.npy"
        subprocess.run(
            [
                sys.executable,
                "-c",
                _KERAS_IN_FRESH_PROCESS,
                str(trained.model_dir),
                str(tmp_path / "rows.parquet"),
                str(out),
            ],
            check=True,
            timeout=300,
        )
        np.testing.assert_allclose(
            np.load(out), expected, atol=PARITY_TOLERANCE, rtol=0
        )

    def test_metadata_describes_the_model(self, trained: Any) -> None:
        metadata = json.loads((trained.model_dir / "metadata.json").read_text())
        assert metadata["version"] == trained.version
        assert len(metadata["data_fingerprint"]) == 64
        assert metadata["metrics"] == trained.metrics
        assert {"tensorflow-cpu", "keras", "prefect"} <= set(metadata["packages"])
        assert metadata["spec"]["name"] == trained.pipeline


class TestGateScores:
    @pytest.mark.parametrize(
        "spec, figures",
        [
            ("wine", ("accuracy",)),
            ("breast_cancer", ("accuracy", "precision", "recall")),
            ("diabetes", ("mae", "rmse")),
        ],
    )
    def test_gate_figures_equal_keras_figures(
        self, spec: str, figures: tuple[str, ...], request: pytest.FixtureRequest
    ) -> None:
        from tasks.promote import gate_scores

        result = _trained(request, spec)
        model = ExportedModel.load(result.model_dir)
        scores = gate_scores(model, pd.read_parquet(result.test_split), figures)
        for name in figures:
            assert scores[name] == pytest.approx(result.metrics[name], rel=1e-5)
