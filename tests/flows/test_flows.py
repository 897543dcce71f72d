"""The training and scoring flows, run through Prefect: outputs, errors, repeats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flows.scoring import scoring_flow
from flows.training import training_flow
from lifecycle.errors import DataError, LifecycleError, SpecError, ValidationFailed
from tasks.predict import MODEL_VERSION, ExportedModel
from tests.helpers import tiny_spec, write_spec


def _files(folder: Path) -> list[Path]:
    return (
        [path for path in folder.rglob("*") if path.is_file()]
        if folder.exists()
        else []
    )


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rows = 60
    frame = pd.DataFrame(
        {
            "row_id": range(rows),
            "size": [float(i % 7) for i in range(rows)],
            "colour": ["red", "blue", "green"] * (rows // 3),
            "label": ["a", "b", "c"] * (rows // 3),
        }
    )
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


class TestEndToEnd:
    def test_train_then_score_through_prefect(
        self, prefect_api: None, tmp_path: Path, table: Path
    ) -> None:
        spec = write_spec(
            tmp_path, tiny_spec(str(table), **{"data.id_columns": ["row_id"]})
        )
        data_dir = tmp_path / "out"
        result = training_flow(spec=str(spec), data_dir=str(data_dir))

        for name in ("saved_model", "model.keras", "metadata.json", "schema.json"):
            assert (result.model_dir / name).exists()
        for name in (
            "history.parquet",
            "evaluation/metrics.parquet",
            "evaluation/confusion_matrix.parquet",
            "validation/validation.json",
        ):
            assert (result.run_dir / name).exists()
        assert not list(data_dir.rglob("*.partial"))
        history = pd.read_parquet(result.run_dir / "history.parquet")
        assert history["epoch"].tolist() == [1, 2]

        output = tmp_path / "predictions.parquet"
        new_rows = pd.read_csv(table).drop(columns=["label"]).iloc[::-1]
        new_rows.to_parquet(tmp_path / "new.parquet")
        scoring_flow(
            spec=str(spec),
            input=str(tmp_path / "new.parquet"),
            output=str(output),
            data_dir=str(data_dir),
        )

        predictions = pd.read_parquet(output)
        assert predictions.columns.tolist() == [
            "row_id",
            "prediction",
            "proba_a",
            "proba_b",
            "proba_c",
            MODEL_VERSION,
        ]
        assert predictions["row_id"].tolist() == new_rows["row_id"].tolist()
        assert set(predictions[MODEL_VERSION]) == {result.version}
        total = predictions[["proba_a", "proba_b", "proba_c"]].sum(axis=1)
        assert (total - 1).abs().max() < 1e-5
        # What the flow wrote reloads and answers the same.
        reloaded = ExportedModel.load(result.model_dir)
        probabilities = reloaded.outputs(new_rows)
        assert (
            abs(
                probabilities
                - predictions[["proba_a", "proba_b", "proba_c"]].to_numpy()
            ).max()
            < 1e-6
        )

    def test_same_spec_twice_gives_identical_predictions(
        self, train_pipeline: Callable[..., Any], prefect_api: None, tmp_path: Path
    ) -> None:
        first = train_pipeline("wine")
        second = training_flow(spec="wine", data_dir=str(tmp_path / "again"))
        assert first.version != second.version
        outputs = []
        for result, folder in ((first, tmp_path / "a"), (second, tmp_path / "b")):
            path = scoring_flow(
                spec="wine",
                input=str(first.test_split),
                output=str(folder / "p.parquet"),
                data_dir=str(result.model_dir.parents[2]),
                model_version=result.version,
            )
            outputs.append(pd.read_parquet(path).drop(columns=[MODEL_VERSION]))
        pd.testing.assert_frame_equal(outputs[0], outputs[1], check_exact=True)


class TestFailuresWriteNothing:
    @pytest.mark.parametrize(
        "changes, error, message",
        [
            (
                {"data.target": "lable"},
                DataError,
                r"data\.target names column 'lable', which the table does not have "
                r"\(did you mean 'label'\?\)",
            ),
            (
                {"model.layers": [{"class_name": "Dens", "config": {}}]},
                SpecError,
                r"unknown Keras layer 'Dens' \(did you mean 'Dense'\?\)",
            ),
            ({"compile.optimizer": "sgdd"}, SpecError, r"unknown optimizer 'sgdd'"),
            (
                {"fit.epochs": 0},
                SpecError,
                r"fit\.epochs: Input should be greater than or equal to 1",
            ),
            (
                {"compile.loss": "binary_crossentropy", "compile.metrics": []},
                DataError,
                r"binary but target 'label' has 3 classes \('a', 'b', 'c'\)",
            ),
            (
                {"data.features": {"numeric": ["size", "colour"]}},
                DataError,
                r"numeric lists 'colour', but the table has it as str",
            ),
            ({"fit.epochz": 3}, SpecError, r"unknown key 'fit\.epochz'"),
        ],
    )
    def test_bad_spec_or_data(
        self,
        prefect_api: None,
        tmp_path: Path,
        table: Path,
        changes: dict[str, Any],
        error: type[LifecycleError],
        message: str,
    ) -> None:
        raw = tiny_spec(str(table), **changes)
        spec = write_spec(tmp_path, raw)
        data_dir = tmp_path / "out"
        with pytest.raises(error, match=message) as caught:
            training_flow(spec=str(spec), data_dir=str(data_dir))
        assert "\n" not in str(caught.value)
        assert _files(data_dir) == []

    def test_empty_data_file(self, prefect_api: None, tmp_path: Path) -> None:
        empty = tmp_path / "empty.csv"
        empty.write_text("")
        spec = write_spec(tmp_path, tiny_spec(str(empty)))
        with pytest.raises(DataError, match=r"empty\.csv' is empty") as caught:
            training_flow(spec=str(spec), data_dir=str(tmp_path / "out"))
        assert "\n" not in str(caught.value)
        assert _files(tmp_path / "out") == []

    def test_rejected_data_keeps_only_its_report(
        self, prefect_api: None, tmp_path: Path, table: Path
    ) -> None:
        held_out = pd.read_csv(table).head(9)
        held_out.loc[3, "size"] = None
        held_out.to_csv(tmp_path / "test.csv", index=False)
        raw = tiny_spec(
            str(table), **{"data.split": {"train": 0.8, "validation": 0.2, "test": 0}}
        )
        raw["data"]["test_source"] = {"path": str(tmp_path / "test.csv")}
        data_dir = tmp_path / "out"
        with pytest.raises(
            ValidationFailed,
            match=r"test source .*: 1 expectation failed \(full result: .*rejected.*"
            r"validation_test\.json\): column 'size': "
            r"expect_column_values_to_not_be_null",
        ) as caught:
            training_flow(spec=str(write_spec(tmp_path, raw)), data_dir=str(data_dir))
        report = Path(caught.value.report_path)
        assert (
            report.exists() and report.parent.parent == data_dir / "tiny" / "rejected"
        )
        assert _files(data_dir) == [report]

    def test_output_that_is_a_folder(
        self, train_pipeline: Callable[..., Any], prefect_api: None, tmp_path: Path
    ) -> None:
        wine = train_pipeline("wine")
        with pytest.raises(DataError, match=r"is a folder; expected the path of the"):
            scoring_flow(
                spec="wine",
                input=str(wine.test_split),
                output=str(tmp_path),
                data_dir=str(wine.model_dir.parents[2]),
            )

    def test_scoring_rows_that_break_the_contract(
        self, train_pipeline: Callable[..., Any], prefect_api: None, tmp_path: Path
    ) -> None:
        wine = train_pipeline("wine")
        rows = pd.read_parquet(wine.test_split).drop(columns=["alcohol"])
        rows.to_parquet(tmp_path / "bad.parquet")
        output = tmp_path / "p.parquet"
        with pytest.raises(
            ValidationFailed, match=r"column 'alcohol': expect_column_to_exist"
        ):
            scoring_flow(
                spec="wine",
                input=str(tmp_path / "bad.parquet"),
                output=str(output),
                data_dir=str(wine.model_dir.parents[2]),
            )
        assert not output.exists()
        assert list(tmp_path.glob(".p.parquet*")) == []


class TestRegistry:
    def test_rollback_makes_the_next_scoring_use_that_version(
        self, prefect_api: None, tmp_path: Path
    ) -> None:
        from typer.testing import CliRunner

        from lifecycle.cli import app
        from lifecycle.layout import PipelineLayout
        from lifecycle.registry import ModelRegistry

        data_dir = tmp_path / "data"
        first = training_flow(spec="wine", data_dir=str(data_dir))
        second = training_flow(spec="wine", data_dir=str(data_dir))
        registry = ModelRegistry(PipelineLayout.of(data_dir, "wine"))
        # The same spec and data give the same model: not worse, so promoted.
        assert first.promoted and second.promoted
        assert registry.champion() == second.version

        runner = CliRunner()
        moved = runner.invoke(
            app,
            [
                "models",
                "promote",
                "wine",
                first.version,
                "--reason",
                "rollback",
                "--data-dir",
                str(data_dir),
            ],
        )
        assert moved.exit_code == 0, moved.output
        assert registry.champion() == first.version
        assert registry.history()[-1].by == "manual"
        assert registry.history()[-1].reason == "rollback"

        path = scoring_flow(
            spec="wine", input=str(first.test_split), data_dir=str(data_dir)
        )
        assert set(pd.read_parquet(path)[MODEL_VERSION]) == {first.version}

        listed = runner.invoke(
            app, ["models", "list", "wine", "--data-dir", str(data_dir)]
        )
        assert f"* {first.version}" in listed.output
        shown = runner.invoke(
            app, ["models", "show", "wine", first.version, "--data-dir", str(data_dir)]
        )
        assert '"by": "manual"' in shown.output

    def test_unknown_version_is_named(self, prefect_api: None, tmp_path: Path) -> None:
        with pytest.raises(LifecycleError, match=r"model version 'v0' is not under"):
            scoring_flow(
                spec="wine",
                input="x.parquet",
                model_version="v0",
                data_dir=str(tmp_path),
            )

    def test_no_champion_yet(self, prefect_api: None, tmp_path: Path) -> None:
        with pytest.raises(LifecycleError, match=r"has no champion model under"):
            scoring_flow(spec="wine", input="x.parquet", data_dir=str(tmp_path))
